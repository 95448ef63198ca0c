package storetest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind: the suite
// closes every store it makes, so a store whose Close does not stop its
// goroutines fails here.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package lockfree_test

import (
	"testing"

	"github.com/chatring/chatring/lockfree"
	"github.com/chatring/chatring/ringbuf"
	"github.com/chatring/chatring/ringbuf/ringtest"
)

func TestConformance(t *testing.T) {
	ringtest.Run(t, func(capacity int) ringbuf.Buffer[ringtest.Item] {
		return lockfree.New[ringtest.Item](capacity)
	})
}

// TestConformancePushPtr runs the suite with every Push made by PushPtr.
func TestConformancePushPtr(t *testing.T) {
	ringtest.Run(t, func(capacity int) ringbuf.Buffer[ringtest.Item] {
		return ringtest.ViaPushPtr(lockfree.New[ringtest.Item](capacity))
	})
}

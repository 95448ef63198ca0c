package gate

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestWait: Wait returns nil once nothing is in flight, even with ctx
// done (a select between two ready cases would pick either), and says
// how many calls are in flight otherwise.
func TestWait(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	var g Gate
	g.Init()
	if !g.Enter() {
		t.Fatal("Enter on an open gate")
	}
	g.Close()
	if g.Enter() {
		t.Error("Enter on a closed gate")
	}
	err := g.Wait(done)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "1 calls still in flight") {
		t.Errorf("Wait with a call in flight: %v", err)
	}
	g.Exit()
	for range 100 {
		if err := g.Wait(done); err != nil {
			t.Fatalf("Wait with nothing in flight and ctx done: %v", err)
		}
	}
}

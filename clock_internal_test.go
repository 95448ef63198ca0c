package chatring

import (
	"runtime"
	"testing"
	"time"
)

// TestCoarseClockCollected checks that a CoarseClock nobody stops ends its
// goroutine once it is unreachable: its goroutine must not keep it alive.
func TestCoarseClockCollected(t *testing.T) {
	// A clock and a History holding its Now, both dropped: only the
	// clock's state is kept, to see its goroutine end.
	ticker := func() *coarseTicker {
		c := NewCoarseClock(time.Millisecond)
		if _, err := New(Config{}, WithClock(c.Now)); err != nil {
			t.Fatal(err)
		}
		return c.coarseTicker
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-ticker.done:
			return
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the goroutine of an unreachable CoarseClock still runs after 10s")
		}
	}
}

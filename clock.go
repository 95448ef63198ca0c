package chatring

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// CoarseClock is a clock for WithClock that reads time.Now once per tick
// of its own goroutine instead of once per call, for machines where a
// clock read is slow: on some virtual machines time.Now costs more than
// the rest of an Append (see Floor/backend=clock in bench/RESULTS.md),
// while CoarseClock.Now is one atomic load.
//
// Resolution: Now returns the time of the goroutine's latest reading, so
// it is behind time.Now by up to the resolution given to NewCoarseClock,
// plus however long the goroutine waits to be scheduled after its tick (on
// a loaded machine that can be longer than the resolution). Messages
// appended within one tick get the same Time; order them by Seq, as
// always. The readings come from time.Now, so a step of the system's wall
// clock shows in them as it does in time.Now. The times carry no
// monotonic reading, so Stats.Uptime measured with a CoarseClock follows
// such a step too (with time.Now it does not).
//
// The default clock of a History stays time.Now; a CoarseClock is used
// only where WithClock passes its Now. Stop ends its goroutine; call it
// when the histories using the clock are no longer appended to (a stopped
// clock keeps working, as time.Now). A clock that is not stopped ends its
// goroutine once the clock is unreachable (garbage collected: every
// History holding its Now is), as a time.Ticker does.
//
//	clock := chatring.NewCoarseClock(time.Millisecond)
//	defer clock.Stop()
//	h, err := chatring.New(cfg, chatring.WithClock(clock.Now))
type CoarseClock struct {
	*coarseTicker
}

// coarseTicker is a CoarseClock's state, shared with its goroutine, which
// must not reference the CoarseClock itself so that an unreachable clock
// can be collected and its goroutine stopped (NewCoarseClock).
type coarseTicker struct {
	ns   atomic.Int64 // the latest reading in Unix nanoseconds; 0 once stopped
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewCoarseClock starts a CoarseClock that reads time.Now every
// resolution. It panics if resolution is not positive, as time.NewTicker
// does. A millisecond is a reasonable choice: a goroutine that wakes a
// thousand times a second costs little, and chat messages are not ordered
// by time.
func NewCoarseClock(resolution time.Duration) *CoarseClock {
	if resolution <= 0 {
		panic("chatring: NewCoarseClock: resolution must be positive")
	}
	t := &coarseTicker{stop: make(chan struct{}), done: make(chan struct{})}
	t.ns.Store(time.Now().UnixNano())
	ticker := time.NewTicker(resolution)
	go func() {
		defer close(t.done)
		defer ticker.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-ticker.C:
				t.ns.Store(time.Now().UnixNano())
			}
		}
	}()
	c := &CoarseClock{t}
	runtime.AddCleanup(c, (*coarseTicker).halt, t)
	return c
}

// Now returns the clock's latest reading (see CoarseClock), or time.Now()
// once the clock is stopped. It is safe for concurrent use.
func (c *CoarseClock) Now() time.Time {
	if ns := c.ns.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Now()
}

// Stop ends the clock's goroutine and returns once it has ended; Now then
// returns time.Now(). Stop is idempotent and safe for concurrent use.
func (c *CoarseClock) Stop() {
	c.halt()
}

// halt is Stop, on the state alone.
func (t *coarseTicker) halt() {
	t.once.Do(func() {
		close(t.stop)
		<-t.done
		t.ns.Store(0)
	})
}

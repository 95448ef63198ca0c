package resilient

import (
	"context"
	"sync/atomic"
	"time"
)

// deadlines hands out the attempts' deadlines (RetryPolicy.AttemptTimeout)
// without a timer per attempt. A context.WithDeadline per attempt costs
// about 1.2 µs of CPU and 4 allocations over a MemoryStore, and more
// over a network store: adding a timer earlier than every pending one
// wakes the goroutine that waits on the network poller. Instead, the
// attempts that start within the same slack share one deadline, and its
// one context.WithDeadline timer: an attempt that starts at t gets a
// deadline between t + AttemptTimeout and t + AttemptTimeout + slack,
// where slack is a 64th of AttemptTimeout, at most 10 ms (see
// RetryPolicy.AttemptTimeout). Under load that is one timer per slack,
// not one per attempt.
type deadlines struct {
	timeout, slack time.Duration
	cur            atomic.Pointer[sharedDeadline] // the newest
}

// sharedDeadline is one deadline that attempts share, and its context.
type sharedDeadline struct {
	at     time.Time
	ctx    context.Context // context.WithDeadline(context.Background(), at)
	cancel context.CancelFunc
}

// newDeadlines returns the deadlines of attempts of timeout (> 0).
func newDeadlines(timeout time.Duration) *deadlines {
	return &deadlines{timeout: timeout, slack: min(timeout/64, 10*time.Millisecond)}
}

// get returns a deadline between now + timeout and now + timeout + slack.
func (d *deadlines) get(now time.Time) *sharedDeadline {
	want := now.Add(d.timeout)
	if c := d.cur.Load(); c != nil && !c.at.Before(want) && c.at.Sub(want) <= d.slack {
		return c
	}
	at := want.Add(d.slack)
	ctx, cancel := context.WithDeadline(context.Background(), at)
	c := &sharedDeadline{at: at, ctx: ctx, cancel: cancel}
	// Two attempts racing here may each make one; either is right for
	// the attempts that get it, and the other's timer just fires.
	d.cur.Store(c)
	return c
}

// stop releases the newest deadline's timer (the older ones have fired,
// or fire within timeout + slack), for Close.
func (d *deadlines) stop() {
	if d == nil {
		return
	}
	if c := d.cur.Swap(nil); c != nil {
		c.cancel()
	}
}

// attemptContext returns ctx bounded by the shared deadline dl, and a
// function to call when the attempt is over.
//
// A ctx that cannot be canceled (Done nil: context.Background and the
// values derived from it) needs no context of the attempt's own: the
// attempt's is the shared one (context.Background or TODO: itself), with
// ctx's values. Otherwise it is a
// child of ctx that the shared deadline cancels (context.AfterFunc, no
// timer), whose Deadline is dl's and whose Err is
// context.DeadlineExceeded once dl passed, as context.WithDeadline's.
func attemptContext(ctx context.Context, dl *sharedDeadline) (context.Context, func()) {
	if ctx == context.Background() || ctx == context.TODO() {
		return dl.ctx, func() {} // no values: the shared context itself
	}
	if ctx.Done() == nil {
		return &sharedCtx{Context: dl.ctx, values: ctx}, func() {}
	}
	child, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(dl.ctx, func() { cancel(context.DeadlineExceeded) })
	return &boundedCtx{Context: child, caller: ctx, dl: dl}, func() {
		stop()
		cancel(context.Canceled)
	}
}

// sharedCtx is a shared deadline's context carrying the values of a
// caller's ctx that cannot be canceled.
type sharedCtx struct {
	context.Context                 // the shared deadline's: Deadline, Done, Err
	values          context.Context // the caller's
}

// Value returns the caller's ctx's value for key.
func (c *sharedCtx) Value(key any) any { return c.values.Value(key) }

// AfterFunc lets a context derived from c (context.WithCancel and the
// like) be canceled with it without a goroutine of its own.
func (c *sharedCtx) AfterFunc(f func()) func() bool { return context.AfterFunc(c.Context, f) }

// boundedCtx is a child of a caller's ctx that a shared deadline
// cancels: see attemptContext.
type boundedCtx struct {
	context.Context // context.WithCancelCause(caller): Done, Value
	caller          context.Context
	dl              *sharedDeadline
}

// Deadline returns the shared deadline: it is earlier than the caller's
// (else the attempt runs under the caller's ctx alone, see try).
func (c *boundedCtx) Deadline() (time.Time, bool) { return c.dl.at, true }

// Err returns the caller's error, else context.DeadlineExceeded once the
// shared deadline passed, else context.Canceled once the attempt ended.
func (c *boundedCtx) Err() error {
	if c.Context.Err() == nil {
		return nil
	}
	if err := c.caller.Err(); err != nil {
		return err
	}
	if c.dl.ctx.Err() != nil {
		return context.DeadlineExceeded
	}
	return context.Canceled
}

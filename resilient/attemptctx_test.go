package resilient

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

// TestAttemptContext: under a ctx that cannot be canceled, an attempt's
// context carries the caller's values, reports the shared deadline,
// which lies within the slack after the attempt's own, and ends with
// context.DeadlineExceeded when it passes, as does a context derived
// from it, while the caller's ctx goes on; a cancelable ctx gets none.
func TestAttemptContext(t *testing.T) {
	const timeout = 64 * time.Millisecond
	d := newDeadlines(timeout)
	defer d.stop()
	if d.slack != time.Millisecond {
		t.Fatalf("slack %v, want a 64th of %v", d.slack, timeout)
	}
	withValue := context.WithValue(context.Background(), ctxKey{}, "v")
	for _, caller := range []context.Context{context.Background(), withValue} {
		now := time.Now()
		dl := d.get(now)
		if want := now.Add(timeout); dl.at.Before(want) || dl.at.Sub(want) > d.slack {
			t.Fatalf("shared deadline %v after the attempt's own, want within [0, %v]", dl.at.Sub(want), d.slack)
		}
		if again := d.get(now.Add(d.slack / 2)); again != dl {
			t.Errorf("an attempt within the slack got another deadline")
		}
		actx, ok := attemptContext(caller, dl)
		if !ok {
			t.Fatal("no shared deadline for a ctx that cannot be canceled")
		}
		child, stop := context.WithCancel(actx)
		if caller == withValue && actx.Value(ctxKey{}) != "v" {
			t.Errorf("the caller's value is lost")
		}
		if at, ok := actx.Deadline(); !ok || !at.Equal(dl.at) {
			t.Errorf("Deadline() = %v, %v; want %v", at, ok, dl.at)
		}
		if actx.Err() != nil {
			t.Errorf("Err() before the deadline = %v", actx.Err())
		}
		select {
		case <-child.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the attempt's deadline never ended a context derived from it")
		}
		<-actx.Done()
		if !errors.Is(actx.Err(), context.DeadlineExceeded) || time.Now().Before(dl.at) {
			t.Errorf("Err() = %v at %v before the deadline, want DeadlineExceeded", actx.Err(), time.Until(dl.at))
		}
		if caller.Err() != nil {
			t.Errorf("the attempt's deadline ended the caller's ctx: %v", caller.Err())
		}
		stop()
	}
	cancelable, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, ok := attemptContext(cancelable, d.get(time.Now())); ok {
		t.Error("a cancelable ctx got the shared deadline")
	}
}

package resilient

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

// TestAttemptContext: an attempt's context carries the caller's values,
// reports the shared deadline, which lies within the slack after the
// attempt's own, and ends with context.DeadlineExceeded when it passes,
// or with the caller's error when the caller cancels first; a context
// derived from it ends with it.
func TestAttemptContext(t *testing.T) {
	const timeout = 64 * time.Millisecond
	d := newDeadlines(timeout)
	defer d.stop()
	if d.slack != time.Millisecond {
		t.Fatalf("slack %v, want a 64th of %v", d.slack, timeout)
	}
	background := context.WithValue(context.Background(), ctxKey{}, "v")
	cancelable, cancel := context.WithCancel(background)
	defer cancel()
	for _, caller := range []context.Context{context.Background(), background, cancelable} {
		now := time.Now()
		dl := d.get(now)
		if want := now.Add(timeout); dl.at.Before(want) || dl.at.Sub(want) > d.slack {
			t.Fatalf("shared deadline %v after the attempt's own, want within [0, %v]", dl.at.Sub(want), d.slack)
		}
		if again := d.get(now.Add(d.slack / 2)); again != dl {
			t.Errorf("an attempt within the slack got another deadline")
		}
		actx, done := attemptContext(caller, dl)
		child, stop := context.WithCancel(actx)
		if caller != context.Background() && actx.Value(ctxKey{}) != "v" {
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
		done()
	}

	// The caller cancels first: its error, not the attempt's.
	actx, done := attemptContext(cancelable, d.get(time.Now()))
	defer done()
	cancel()
	<-actx.Done()
	if !errors.Is(actx.Err(), context.Canceled) {
		t.Errorf("Err() after the caller canceled = %v, want context.Canceled", actx.Err())
	}
}

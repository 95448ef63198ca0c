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
		actx, b := attemptContext(caller, dl)
		if b != nil {
			t.Fatal("a boundCtx for a ctx that cannot be canceled")
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
}

// TestBoundCtx: under a ctx that can be canceled, an attempt's context
// carries the caller's values and reports the shared deadline; it ends,
// once and for good, with whichever comes first of the caller's error,
// DeadlineExceeded when the shared deadline passes, and Canceled when
// the attempt releases it, seen by Err, by Done and by contexts derived
// from it; and the context.WithDeadline that Done makes is ended with it.
func TestBoundCtx(t *testing.T) {
	d := newDeadlines(time.Hour)
	defer d.stop()
	far := d.get(time.Now())
	soon := newDeadlines(20 * time.Millisecond)
	defer soon.stop()
	for _, c := range []struct {
		name    string
		dl      *sharedDeadline
		end     func(b *boundCtx, cancel context.CancelFunc)
		want    error
		watched bool // Done asked for before the end
	}{
		{"caller canceled, polled", far, func(_ *boundCtx, cancel context.CancelFunc) { cancel() }, context.Canceled, false},
		{"caller canceled, watched", far, func(_ *boundCtx, cancel context.CancelFunc) { cancel() }, context.Canceled, true},
		{"deadline, polled", soon.get(time.Now()), func(*boundCtx, context.CancelFunc) { time.Sleep(40 * time.Millisecond) }, context.DeadlineExceeded, false},
		{"deadline, watched", soon.get(time.Now()), func(*boundCtx, context.CancelFunc) {}, context.DeadlineExceeded, true},
		{"released", far, func(b *boundCtx, _ context.CancelFunc) { b.release() }, context.Canceled, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			caller, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
			defer cancel()
			actx, b := attemptContext(caller, c.dl)
			if b == nil {
				t.Fatal("no boundCtx for a cancelable ctx")
			}
			if actx.Value(ctxKey{}) != "v" {
				t.Error("the caller's value is lost")
			}
			if at, ok := actx.Deadline(); !ok || !at.Equal(c.dl.at) {
				t.Errorf("Deadline() = %v, %v; want %v", at, ok, c.dl.at)
			}
			if err := actx.Err(); err != nil && c.want != context.DeadlineExceeded {
				t.Fatalf("Err() before the end = %v", err)
			}
			var derived context.Context
			if c.watched {
				var stop context.CancelFunc
				derived, stop = context.WithCancel(actx)
				defer stop()
			}
			c.end(b, cancel)
			if c.watched {
				select {
				case <-actx.Done():
				case <-time.After(10 * time.Second):
					t.Fatal("Done never closed")
				}
				<-derived.Done()
				if !errors.Is(derived.Err(), c.want) {
					t.Errorf("a derived context ended with %v, want %v", derived.Err(), c.want)
				}
			}
			if err := actx.Err(); !errors.Is(err, c.want) {
				t.Errorf("Err() = %v, want %v", err, c.want)
			}
			// The first end is for good, and unregisters it.
			cancel()
			b.release()
			if err := actx.Err(); !errors.Is(err, c.want) {
				t.Errorf("Err() after everything ended = %v, want %v still", err, c.want)
			}
			if in := b.inner.Load(); c.watched && (in == nil || (*in).Err() == nil) {
				t.Error("Done's context is not ended with the attempt's (it would stay registered with the caller's ctx)")
			}
		})
	}
}

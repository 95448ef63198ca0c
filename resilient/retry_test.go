package resilient_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
	"github.com/google/go-cmp/cmp"
)

// TestRetryClassification: only ErrUnavailable is retried, up to the
// attempts; every other outcome returns after one attempt, and an
// invalid message or conversation and a canceled ctx after none.
func TestRetryClassification(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	good := chatring.Message{Role: chatring.User, Content: "hello"}
	for _, tc := range []struct {
		name     string
		policy   faultstore.Policy
		ctx      context.Context
		conv     string
		m        chatring.Message
		closeMem bool
		want     error // nil: success
		calls    uint64
	}{
		{"unavailable twice, then success", faultstore.Times(faultstore.Append, faultstore.Before, 2), nil, "c", good, false, nil, 3},
		{"unavailable on every attempt", faultstore.Always(faultstore.Append, faultstore.Before), nil, "c", good, false, chatring.ErrUnavailable, 3},
		{"validation error", nil, nil, "c", chatring.Message{Role: chatring.User}, false, chatring.ErrEmptyContent, 0},
		{"invalid role", nil, nil, "c", chatring.Message{Role: "admin", Content: "x"}, false, chatring.ErrInvalidRole, 0},
		{"invalid conversation", nil, nil, "a\x00b", good, false, chatring.ErrInvalidConversation, 0},
		{"primary closed", nil, nil, "c", good, true, chatring.ErrClosed, 1},
		{"error of no known kind", faultstore.Always(faultstore.Append, faultstore.Fail), nil, "c", good, false, faultstore.ErrOther, 1},
		{"canceled before the call", nil, canceled, "c", good, false, context.Canceled, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, chatring.Config{}, resilient.WithRetry(resilient.RetryPolicy{Attempts: 3, BaseDelay: 100 * time.Microsecond, MaxDelay: time.Millisecond}))
			r.faults.SetPolicy(tc.policy)
			if tc.closeMem {
				if err := r.mem.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, err := r.Append(ctx, tc.conv, tc.m)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Append error %v, want %v", err, tc.want)
			}
			if got := r.faults.Calls(faultstore.Append); got != tc.calls {
				t.Errorf("%d attempts reached the store, want %d", got, tc.calls)
			}
			if st := r.Stats(); st.Retries != max(tc.calls, 1)-1 {
				t.Errorf("Stats.Retries = %d, want %d", st.Retries, max(tc.calls, 1)-1)
			}
		})
	}
}

// TestRetryEveryMethod: every method retries ErrUnavailable and returns
// the primary's answer.
func TestRetryEveryMethod(t *testing.T) {
	r := newRig(t, chatring.Config{})
	ctx := context.Background()
	r.append(t, "c", "one")
	calls := map[faultstore.Op]func() error{
		faultstore.Append: func() error {
			_, err := r.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "two"})
			return err
		},
		faultstore.Messages: func() error {
			msgs, err := r.Messages(ctx, "c", nil)
			if err == nil && len(msgs) != 2 {
				return errors.New("Messages did not return both messages")
			}
			return err
		},
		faultstore.Window:          func() error { _, err := r.Window(ctx, "c", 0); return err },
		faultstore.SetSystemPrompt: func() error { return r.SetSystemPrompt(ctx, "c", "be brief") },
		faultstore.Clear:           func() error { return r.Clear(ctx, "c") },
		faultstore.Delete:          func() error { return r.Delete(ctx, "c") },
	}
	for _, op := range []faultstore.Op{faultstore.Append, faultstore.Messages, faultstore.Window,
		faultstore.SetSystemPrompt, faultstore.Clear, faultstore.Delete} {
		before := r.faults.Calls(op)
		r.faults.SetPolicy(faultstore.Times(op, faultstore.Before, 2))
		if err := calls[op](); err != nil {
			t.Errorf("%s with two faults: %v", op, err)
		}
		if n := r.faults.Calls(op) - before; n != 3 {
			t.Errorf("%s: %d attempts, want 3", op, n)
		}
	}
}

// TestRetryBounds: a call stops at its attempts, at MaxElapsed, and at
// the caller's ctx, whichever comes first; an attempt that hangs is cut
// by AttemptTimeout and retried.
func TestRetryBounds(t *testing.T) {
	msg := chatring.Message{Role: chatring.User, Content: "x"}
	t.Run("attempt timeout", func(t *testing.T) {
		r := newRig(t, chatring.Config{}, resilient.WithRetry(resilient.RetryPolicy{
			AttemptTimeout: 100 * time.Millisecond, BaseDelay: 100 * time.Microsecond, MaxDelay: time.Millisecond}))
		r.faults.SetPolicy(faultstore.Times(faultstore.Append, faultstore.Hang, 1))
		if _, err := r.Append(context.Background(), "c", msg); err != nil {
			t.Fatalf("Append after one hung attempt: %v", err)
		}
		if n := r.faults.Calls(faultstore.Append); n != 2 {
			t.Errorf("%d attempts, want 2: the hung one, cut by its deadline, and a retry", n)
		}
	})
	t.Run("max elapsed", func(t *testing.T) {
		r := newRig(t, chatring.Config{}, resilient.WithRetry(resilient.RetryPolicy{Attempts: 1000,
			AttemptTimeout: 10 * time.Millisecond, MaxElapsed: 100 * time.Millisecond,
			BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}))
		r.faults.SetPolicy(faultstore.Always(faultstore.Append, faultstore.Hang))
		_, err := r.Append(context.Background(), "c", msg)
		if !errors.Is(err, chatring.ErrUnavailable) || !strings.Contains(err.Error(), "deadline") {
			t.Errorf("Append error %v, want ErrUnavailable for an attempt without answer", err)
		}
		// 100ms of 10ms attempts: at most 10, far fewer than 1000.
		if n := r.faults.Calls(faultstore.Append); n < 1 || n > 10 {
			t.Errorf("%d attempts in MaxElapsed 100ms of 10ms attempts, want 1 to 10", n)
		}
	})
	t.Run("caller's ctx", func(t *testing.T) {
		r := newRig(t, chatring.Config{}, resilient.WithRetry(resilient.RetryPolicy{Attempts: 1 << 20,
			MaxElapsed: time.Hour, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}))
		r.faults.SetPolicy(faultstore.Always(faultstore.Append, faultstore.Before))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := r.Append(ctx, "c", msg)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Append error %v, want the ctx's DeadlineExceeded", err)
		}
		if n := r.faults.Calls(faultstore.Append); n < 1 || n > 100 {
			t.Errorf("%d attempts within a 50ms ctx of 1-2ms waits, want 1 to 100", n)
		}
	})
	t.Run("canceled during an attempt", func(t *testing.T) {
		r := newRig(t, chatring.Config{})
		r.faults.SetPolicy(faultstore.Always(faultstore.Append, faultstore.Hang))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(10*time.Millisecond, cancel)
		if _, err := r.Append(ctx, "c", msg); !errors.Is(err, context.Canceled) {
			t.Errorf("Append error %v, want context.Canceled", err)
		}
		if n := r.faults.Calls(faultstore.Append); n != 1 {
			t.Errorf("%d attempts, want 1: a canceled ctx is not retried", n)
		}
	})
}

// TestAppendIDBeforeFirstAttempt: an Append without an ID gets one before
// its first attempt, every retry sends the same one, and a reply lost
// after the primary stored the message does not store it twice. The ID
// is hidden from the caller on success.
func TestAppendIDBeforeFirstAttempt(t *testing.T) {
	r := newRig(t, chatring.Config{})
	r.append(t, "c", "first")
	r.faults.SetPolicy(faultstore.Times(faultstore.Append, faultstore.After, 2))
	m, err := r.Append(context.Background(), "c", chatring.Message{Role: chatring.User, Content: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Seq != 2 || m.ID != "" {
		t.Errorf("Append returned Seq %d, ID %q; want Seq 2 and the caller's empty ID", m.Seq, m.ID)
	}
	ids := r.faults.AppendIDs()[1:]
	if len(ids) != 3 || !strings.HasPrefix(ids[0], resilient.IDPrefix) || ids[1] != ids[0] || ids[2] != ids[0] {
		t.Errorf("the three attempts sent IDs %q, want one generated ID three times", ids)
	}
	if diff := cmp.Diff([]string{"1:first", "2:second"}, r.stored(t, "c")); diff != "" {
		t.Errorf("stored window (-want +got):\n%s", diff)
	}
	msgs, err := r.Messages(context.Background(), "c", nil)
	if err != nil || len(msgs) != 2 || msgs[1].ID != "" {
		t.Errorf("Messages = %+v, %v; want the generated ID hidden", msgs, err)
	}

	// A caller's ID is kept, and deduplicates too.
	r.faults.SetPolicy(faultstore.Times(faultstore.Append, faultstore.After, 1))
	m, err = r.Append(context.Background(), "c", chatring.Message{Role: chatring.User, Content: "third", ID: "req-3"})
	if err != nil || m.ID != "req-3" || m.Seq != 3 {
		t.Errorf("Append with an ID = %+v, %v; want Seq 3, ID req-3", m, err)
	}

	// When every attempt loses its reply, the error comes with the ID
	// the attempts used; retrying with it stores the message once.
	r.faults.SetPolicy(faultstore.Always(faultstore.Append, faultstore.After))
	failed, err := r.Append(context.Background(), "c", chatring.Message{Role: chatring.User, Content: "fourth"})
	if !errors.Is(err, chatring.ErrUnavailable) || !strings.HasPrefix(failed.ID, resilient.IDPrefix) {
		t.Fatalf("Append = %+v, %v; want ErrUnavailable and the generated ID", failed, err)
	}
	r.faults.SetPolicy(nil)
	again, err := r.Append(context.Background(), "c", failed)
	if err != nil || again.Seq != 4 {
		t.Errorf("retry with the returned message = %+v, %v; want the stored Seq 4", again, err)
	}
	if diff := cmp.Diff([]string{"1:first", "2:second", "3:third", "4:fourth"}, r.stored(t, "c")); diff != "" {
		t.Errorf("stored window (-want +got):\n%s", diff)
	}
}

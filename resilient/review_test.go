package resilient_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
)

// TestRetryReturnsCtxErr: a call whose ctx is canceled with a cause
// during a backoff wait returns ctx.Err() (context.Canceled), as the
// Store contract says, not the cause; and the error of a call's last
// attempt comes back as the attempt gave it, not wrapped in the backoff
// library's *PermanentError.
func TestRetryReturnsCtxErr(t *testing.T) {
	msg := chatring.Message{Role: chatring.User, Content: "x"}
	t.Run("canceled with a cause while waiting", func(t *testing.T) {
		r := newRig(t, chatring.Config{}, resilient.WithRetry(resilient.RetryPolicy{Attempts: 1 << 20,
			MaxElapsed: time.Hour, BaseDelay: 20 * time.Millisecond, MaxDelay: 20 * time.Millisecond}))
		r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
		cause := errors.New("the user went away")
		for _, call := range []struct {
			name string
			f    func(context.Context) error
		}{
			{"Append", func(ctx context.Context) error { _, err := r.Append(ctx, "c", msg); return err }},
			{"SetSystemPrompt", func(ctx context.Context) error { return r.SetSystemPrompt(ctx, "c", "p") }},
			{"Clear", func(ctx context.Context) error { return r.Clear(ctx, "c") }},
		} {
			ctx, cancel := context.WithCancelCause(context.Background())
			time.AfterFunc(5*time.Millisecond, func() { cancel(cause) })
			if err := call.f(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("%s canceled with a cause: %v, want ctx.Err() (context.Canceled)", call.name, err)
			}
		}
	})
	t.Run("last attempt not retryable", func(t *testing.T) {
		r := newRig(t, chatring.Config{}, resilient.WithRetry(resilient.RetryPolicy{Attempts: 2,
			BaseDelay: 100 * time.Microsecond, MaxDelay: time.Millisecond}))
		r.faults.SetPolicy(func(_ faultstore.Op, n uint64) faultstore.Fault {
			if n == 1 {
				return faultstore.Before
			}
			return faultstore.Fail
		})
		_, err := r.Append(context.Background(), "c", msg)
		var p *backoff.PermanentError
		if err != faultstore.ErrOther || errors.As(err, &p) {
			t.Errorf("Append = %#v, want the second attempt's error itself", err)
		}
	})
}

// slowBudget is a primary whose Window answers after delay whatever the
// ctx, with the MemoryStore's answer: a service that answers late.
type slowBudget struct {
	*chatring.MemoryStore
	delay time.Duration
}

func (s slowBudget) Window(_ context.Context, conv string, maxTokens int) ([]chatring.Message, error) {
	time.Sleep(s.delay)
	return s.MemoryStore.Window(context.Background(), conv, maxTokens)
}

// TestLateValidationErrorNotRetried: a validation error is permanent even
// when the primary gives it after the attempt's deadline: it is not
// retried, not turned into ErrUnavailable, and not a breaker failure.
//
// The prompt is set on the MemoryStore directly, not through the
// wrapper: through it, its one attempt had the same 1 ms deadline, which
// a loaded machine misses (a breaker failure that opens this breaker),
// and that is not what the test is about. The Window's attempt misses
// its deadline whatever the load: its answer comes 20 ms late.
func TestLateValidationErrorNotRetried(t *testing.T) {
	mem, err := chatring.NewMemoryStore(chatring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.SetSystemPrompt(context.Background(), "c", "a rather long system prompt of many tokens"); err != nil {
		t.Fatal(err)
	}
	s, err := resilient.New(slowBudget{mem, 20 * time.Millisecond},
		resilient.WithRetry(resilient.RetryPolicy{Attempts: 3, AttemptTimeout: time.Millisecond,
			BaseDelay: 100 * time.Microsecond, MaxDelay: time.Millisecond}),
		resilient.WithBreaker(resilient.BreakerPolicy{Failures: 1, FailureRatio: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	_, err = s.Window(context.Background(), "c", 1)
	if !errors.Is(err, chatring.ErrBudgetTooSmall) || errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("Window with a budget below the prompt = %v, want ErrBudgetTooSmall alone", err)
	}
	if st := s.Stats(); st.Attempts != 1 || st.Breaker != "closed" || st.BreakerTransitions["open"] != 0 {
		t.Errorf("%d attempts, breaker %s, opened %d times; want 1 attempt and a breaker that stayed closed",
			st.Attempts, st.Breaker, st.BreakerTransitions["open"])
	}
}

// TestAppendValidatesWhilePrimaryDown: an invalid message is a
// validation error, not an ErrUnavailable to retry, even while the
// primary cannot be reached; it is not sent.
func TestAppendValidatesWhilePrimaryDown(t *testing.T) {
	r := newRig(t, chatring.Config{})
	r.down()
	_, err := r.Append(context.Background(), "c", chatring.Message{Role: chatring.User})
	if !errors.Is(err, chatring.ErrEmptyContent) || errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("Append of an empty message while the primary is down: %v, want ErrEmptyContent", err)
	}
	if n := r.faults.Calls(faultstore.Append); n != 0 {
		t.Errorf("%d attempts of an invalid message, want 0", n)
	}
}

// TestNoAttemptTimeout: with AttemptTimeout negative an attempt has no
// deadline of the wrapper's own, not even MaxElapsed: a hung attempt
// ends with the caller's ctx, which is not retried.
func TestNoAttemptTimeout(t *testing.T) {
	r := newRig(t, chatring.Config{}, resilient.WithRetry(resilient.RetryPolicy{Attempts: 3,
		AttemptTimeout: -1, MaxElapsed: time.Millisecond, BaseDelay: 100 * time.Microsecond, MaxDelay: time.Millisecond}))
	r.faults.SetPolicy(faultstore.Always(faultstore.Append, faultstore.Hang))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := r.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "x"})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("Append on a hung primary: %v, want the ctx's DeadlineExceeded", err)
	}
	if n := r.faults.Calls(faultstore.Append); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

// TestCloseCountsLateBuffered: an append still in flight when Close's
// ctx ends, and buffered after Close counted what it could not flush,
// must not be acknowledged as buffered and then silently dropped:
// either Close's UnflushedError counts it, or the append is refused.
func TestCloseCountsLateBuffered(t *testing.T) {
	r := newRig(t, chatring.Config{}, resilient.WithOutbox(10),
		resilient.WithRetry(resilient.RetryPolicy{Attempts: 1, AttemptTimeout: 200 * time.Millisecond}))
	r.faults.SetPolicy(faultstore.Always(faultstore.Append, faultstore.Hang))
	type result struct {
		m   chatring.Message
		err error
	}
	inFlight := make(chan result)
	go func() {
		m, err := r.Append(context.Background(), "c", chatring.Message{Role: chatring.User, Content: "late"})
		inFlight <- result{m, err}
	}()
	eventually(t, "the append reaches the primary", func() bool { return r.faults.Calls(faultstore.Append) == 1 })
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	closeErr := r.Close(short)
	res := <-inFlight
	var ue *resilient.UnflushedError
	if errors.Is(res.err, resilient.ErrBuffered) && !(errors.As(closeErr, &ue) && ue.Messages == 1) {
		t.Errorf("the append in flight was acknowledged as buffered (%v) after Close returned %v: "+
			"never flushed, not counted as unflushed; outbox now %d", res.err, closeErr, r.Stats().Outbox)
	}
}

// heldReads is a primary whose first Messages call waits until hold is
// closed before it reads: a read slow to reach the service.
type heldReads struct {
	chatring.Store
	hold    chan struct{}
	waiting chan struct{} // closed when the first Messages call waits
}

func (h *heldReads) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	if h.waiting != nil {
		close(h.waiting)
		h.waiting = nil
		<-h.hold
	}
	return h.Store.Messages(ctx, conv, dst)
}

// TestDegradedReadNoDuplicate: an append whose reply was lost after the
// primary stored it is buffered; a read of the primary that began before
// (so it did not replay it) and reads after sees it stored, and the
// mirror records it. A degraded read must then show it once, not once
// from the mirror and again from the outbox.
func TestDegradedReadNoDuplicate(t *testing.T) {
	mem, err := chatring.NewMemoryStore(chatring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	faults := faultstore.New(mem)
	held := &heldReads{Store: faults, hold: make(chan struct{}), waiting: make(chan struct{})}
	waiting := held.waiting
	s, err := resilient.New(held, resilient.WithConfig(mem.Config()), resilient.WithOutbox(10),
		resilient.WithFlushInterval(time.Hour), resilient.WithRetry(resilient.RetryPolicy{Attempts: 1}),
		resilient.WithBreaker(lazyBreaker))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx := context.Background()
	if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "one"}); err != nil {
		t.Fatal(err)
	}
	read := make(chan error)
	go func() { _, err := s.Messages(ctx, "c", nil); read <- err }()
	<-waiting
	faults.SetPolicy(faultstore.Always(faultstore.Append, faultstore.After))
	if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "two"}); !errors.Is(err, resilient.ErrBuffered) {
		t.Fatalf("Append with its reply lost: %v, want ErrBuffered", err)
	}
	close(held.hold)
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	msgs, err := s.Messages(ctx, "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := brief(msgs), []string{"1:one", "2:two"}; !slices.Equal(got, want) {
		t.Errorf("degraded read %q, want %q", got, want)
	}
	if st := s.Stats(); st.DegradedReads != 1 {
		t.Errorf("%d degraded reads, want 1", st.DegradedReads)
	}
	faults.SetPolicy(nil)
}

package resilient_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
	"github.com/google/go-cmp/cmp"
)

var oneAttempt = resilient.WithRetry(resilient.RetryPolicy{Attempts: 1})

// try appends to conv and returns the error.
func (r *rig) try(conv string) error {
	_, err := r.Append(context.Background(), conv, chatring.Message{Role: chatring.User, Content: "x"})
	return err
}

// wantBreaker fails t unless the breaker is in state with the given
// transition counts.
func wantBreaker(t *testing.T, r *rig, state string, opened, halfOpened, closed uint64) {
	t.Helper()
	st := r.Stats()
	want := map[string]uint64{"open": opened, "half-open": halfOpened, "closed": closed}
	if st.Breaker != state {
		t.Errorf("breaker %s, want %s", st.Breaker, state)
	}
	if diff := cmp.Diff(want, st.BreakerTransitions); diff != "" {
		t.Errorf("breaker transitions (-want +got):\n%s", diff)
	}
}

// TestBreakerOpensAndFailsFast: Failures ErrUnavailable outcomes open the
// breaker; then every call fails fast with ErrBreakerOpen without
// reaching the primary; the change is logged at Warn.
func TestBreakerOpensAndFailsFast(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt,
		resilient.WithBreaker(resilient.BreakerPolicy{Failures: 3, OpenFor: time.Hour}))
	r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	for i := range 3 {
		if err := r.try("c"); !errors.Is(err, chatring.ErrUnavailable) || errors.Is(err, resilient.ErrBreakerOpen) {
			t.Fatalf("failure %d: %v, want the primary's ErrUnavailable", i+1, err)
		}
	}
	wantBreaker(t, r, "open", 1, 0, 0)
	for range 100 {
		if err := r.try("c"); !errors.Is(err, resilient.ErrBreakerOpen) || !errors.Is(err, chatring.ErrUnavailable) {
			t.Fatalf("Append with the breaker open: %v, want ErrBreakerOpen and ErrUnavailable", err)
		}
	}
	if _, err := r.Messages(context.Background(), "never-read", nil); !errors.Is(err, resilient.ErrBreakerOpen) {
		t.Errorf("Messages of a conversation the mirror lacks, breaker open: %v, want ErrBreakerOpen", err)
	}
	if n := r.faults.Calls(faultstore.Any); n != 3 {
		t.Errorf("%d calls reached the primary, want the 3 that opened the breaker", n)
	}
	if st := r.Stats(); st.FailedFast != 101 || st.Attempts != 3 {
		t.Errorf("FailedFast %d, Attempts %d; want 101 and 3", st.FailedFast, st.Attempts)
	}
	recs := r.logs.records(t, "resilient: circuit breaker open")
	if len(recs) != 1 || recs[0]["level"] != "WARN" || recs[0]["from"] != "closed" {
		t.Errorf("log records of the opening: %v, want one at WARN from closed", recs)
	}
}

// TestBreakerNeitherSuccessNorFailure: validation errors, ErrClosed,
// unknown errors and attempts ended by the caller's ctx do not open the
// breaker, nor do they count as successes that dilute the failure ratio.
func TestBreakerNeitherSuccessNorFailure(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt,
		resilient.WithBreaker(resilient.BreakerPolicy{Failures: 2, FailureRatio: 1, OpenFor: time.Hour}))
	ctx := context.Background()
	for range 10 {
		if _, err := r.Append(ctx, "c", chatring.Message{Role: chatring.User}); !errors.Is(err, chatring.ErrEmptyContent) {
			t.Fatalf("empty message: %v", err)
		}
		if _, err := r.Window(ctx, "c", -1); !errors.Is(err, chatring.ErrBudgetTooSmall) {
			t.Fatalf("negative budget: %v", err)
		}
	}
	r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Fail))
	for range 10 {
		if err := r.try("c"); !errors.Is(err, faultstore.ErrOther) {
			t.Fatalf("unknown error: %v", err)
		}
	}
	r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Hang))
	for range 5 {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Millisecond)
		_, err := r.Append(tctx, "c", chatring.Message{Role: chatring.User, Content: "x"})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("attempt ended by the caller's deadline: %v", err)
		}
	}
	wantBreaker(t, r, "closed", 0, 0, 0)
	// With FailureRatio 1, one success among them would keep it closed:
	// two failures open it, so none of the above counted as a success.
	r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	_ = r.try("c")
	wantBreaker(t, r, "closed", 0, 0, 0)
	_ = r.try("c")
	wantBreaker(t, r, "open", 1, 0, 0)
}

// TestBreakerRatio: the failures must also be FailureRatio of the
// outcomes in the window.
func TestBreakerRatio(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt,
		resilient.WithBreaker(resilient.BreakerPolicy{Failures: 3, FailureRatio: 0.5, OpenFor: time.Hour}))
	for range 10 {
		r.append(t, "c", "ok")
	}
	r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	for i := 1; i <= 10; i++ {
		_ = r.try("c")
		want := "closed"
		if i == 10 { // 10 failures of 20 outcomes
			want = "open"
		}
		if st := r.Stats(); st.Breaker != want {
			t.Fatalf("after %d failures and 10 successes the breaker is %s, want %s", i, st.Breaker, want)
		}
	}
}

// TestBreakerRollingWindow: failures older than the window no longer
// count.
func TestBreakerRollingWindow(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt,
		resilient.WithBreaker(resilient.BreakerPolicy{Failures: 3, FailureRatio: 0.01, Window: 500 * time.Millisecond, OpenFor: time.Hour}))
	r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	_, _ = r.try("c"), r.try("c")
	time.Sleep(1200 * time.Millisecond) // the window rolls past both
	_, _ = r.try("c"), r.try("c")
	wantBreaker(t, r, "closed", 0, 0, 0)
	_ = r.try("c") // a third failure within the window
	wantBreaker(t, r, "open", 1, 0, 0)
}

// TestBreakerHalfOpen: after OpenFor, probes go through; a success closes
// the breaker, a failure opens it again, an outcome of neither kind frees
// its probe's place, and calls beyond the probes fail fast.
func TestBreakerHalfOpen(t *testing.T) {
	const openFor = 30 * time.Millisecond
	r := newRig(t, chatring.Config{}, oneAttempt,
		resilient.WithBreaker(resilient.BreakerPolicy{Failures: 1, OpenFor: openFor, Probes: 1}))
	r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	_ = r.try("c")
	wantBreaker(t, r, "open", 1, 0, 0)

	time.Sleep(2 * openFor)
	_ = r.try("c") // a probe that fails
	wantBreaker(t, r, "open", 2, 1, 0)

	time.Sleep(2 * openFor)
	r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Hang))
	probe := make(chan error)
	pctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, err := r.Append(pctx, "c", chatring.Message{Role: chatring.User, Content: "probe"})
		probe <- err
	}()
	eventually(t, "the probe reaches the primary", func() bool { return r.faults.Calls(faultstore.Any) == 3 })
	if err := r.try("c"); !errors.Is(err, resilient.ErrBreakerOpen) {
		t.Errorf("a call while the only probe is in flight: %v, want ErrBreakerOpen", err)
	}
	cancel() // the probe ends by the caller's ctx: neither success nor failure
	if err := <-probe; !errors.Is(err, context.Canceled) {
		t.Fatalf("probe: %v", err)
	}
	wantBreaker(t, r, "half-open", 2, 2, 0)

	r.faults.SetPolicy(nil)
	if err := r.try("c"); err != nil { // the freed place: a probe that succeeds
		t.Fatalf("probe after a canceled one: %v", err)
	}
	wantBreaker(t, r, "closed", 2, 2, 1)
	want := []resilient.BreakerChange{
		{From: "closed", To: "open", Count: 1},
		{From: "open", To: "half-open", Count: 2},
		{From: "half-open", To: "closed", Count: 1},
		{From: "half-open", To: "open", Count: 1},
	}
	if diff := cmp.Diff(want, r.Stats().BreakerChanges); diff != "" {
		t.Errorf("BreakerChanges (-want +got):\n%s", diff)
	}
	if st := r.Stats(); st.OutboxCapacity != 0 {
		t.Errorf("OutboxCapacity %d without an outbox, want 0", st.OutboxCapacity)
	}
	recs := r.logs.records(t, "resilient: circuit breaker closed")
	if len(recs) != 1 || recs[0]["level"] != "INFO" || recs[0]["from"] != "half-open" {
		t.Errorf("log records of the closing: %v, want one at INFO from half-open", recs)
	}
}

// stallingHandler is a slog.Handler whose Handle of a breaker state
// change blocks until release is closed, after closing entered once.
type stallingHandler struct {
	slog.Handler
	entered, release chan struct{}
	once             *sync.Once
}

func (h stallingHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "resilient: circuit breaker") {
		h.once.Do(func() { close(h.entered) })
		<-h.release
	}
	return h.Handler.Handle(ctx, r)
}

// TestBreakerSlowLogDoesNotStall: a log handler that blocks while it
// logs a breaker state change holds up the call that made the change,
// not the others: they pass the breaker (failing fast) and Stats
// answers, because the change is logged outside the breaker's lock. The
// change is logged once, when the handler returns.
func TestBreakerSlowLogDoesNotStall(t *testing.T) {
	logs := new(logBuffer)
	h := stallingHandler{Handler: slog.NewJSONHandler(logs, nil), entered: make(chan struct{}),
		release: make(chan struct{}), once: new(sync.Once)}
	r := newRig(t, chatring.Config{}, oneAttempt, resilient.WithLogger(slog.New(h)),
		resilient.WithBreaker(resilient.BreakerPolicy{Failures: 1, FailureRatio: 0.01, OpenFor: time.Hour}))
	r.down()
	opener := make(chan error, 1)
	go func() { opener <- r.try("c") }() // opens the breaker, then logs it
	released := false
	release := func() {
		if !released {
			released = true
			close(h.release)
			<-opener
		}
	}
	defer release()
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the breaker's opening was not logged")
	}
	others := make(chan error, 1)
	go func() {
		var err error
		for range 10 {
			if err = r.try("d"); !errors.Is(err, resilient.ErrBreakerOpen) {
				break
			}
		}
		if st := r.Stats(); st.Breaker != "open" || st.FailedFast != 10 {
			err = fmt.Errorf("Stats: breaker %s, failed fast %d; want open, 10", st.Breaker, st.FailedFast)
		}
		others <- err
	}()
	select {
	case err := <-others:
		if !errors.Is(err, resilient.ErrBreakerOpen) {
			t.Errorf("calls while a state change is being logged: %v, want ErrBreakerOpen", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("calls stalled behind the log handler of a breaker state change")
	}
	release()
	if recs := logs.records(t, "resilient: circuit breaker open"); len(recs) != 1 {
		t.Errorf("log records of the opening: %v, want one", recs)
	}
}

package resilient_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
)

// earlyDeadline is a store whose first Appends fail the way redisstore
// fails when its socket read times out at the attempt's deadline a moment
// before the ctx's own timer fires: with the ctx's DeadlineExceeded while
// ctx.Err() is still nil.
type earlyDeadline struct {
	*chatring.MemoryStore
	fails atomic.Int32
}

func (s *earlyDeadline) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	if s.fails.Add(-1) >= 0 {
		return chatring.Message{}, fmt.Errorf("store: append: %w (read tcp: i/o timeout)", context.DeadlineExceeded)
	}
	return s.MemoryStore.Append(ctx, conv, m)
}

// TestAttemptDeadlineReportedEarly: such a failure is the attempt's
// timeout, so it is retried, not returned as the caller's deadline.
func TestAttemptDeadlineReportedEarly(t *testing.T) {
	ms, err := chatring.NewMemoryStore(chatring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	primary := &earlyDeadline{MemoryStore: ms}
	primary.fails.Store(2)
	s, err := resilient.New(primary, resilient.WithRetry(resilient.RetryPolicy{
		Attempts: 3, BaseDelay: time.Microsecond, MaxDelay: time.Millisecond, AttemptTimeout: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	m, err := s.Append(context.Background(), "c", chatring.Message{Role: chatring.User, Content: "hello"})
	if err != nil || m.Seq != 1 {
		t.Fatalf("Append = seq %d, %v; want it stored on the third attempt", m.Seq, err)
	}
	primary.fails.Store(5)
	_, err = s.Append(context.Background(), "c", chatring.Message{Role: chatring.User, Content: "again"})
	if !errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("Append after 3 early deadlines = %v, want ErrUnavailable", err)
	}
}

// TestCallerDeadlineFirst: when the caller's deadline comes before the
// attempt's, the attempt runs under the caller's ctx alone (no timer of
// the wrapper's), and a deadline the store reports then is the caller's:
// returned as the store reported it, not retried, not counted against
// the primary.
func TestCallerDeadlineFirst(t *testing.T) {
	ms, err := chatring.NewMemoryStore(chatring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	primary := &earlyDeadline{MemoryStore: ms}
	s, err := resilient.New(primary, resilient.WithRetry(resilient.RetryPolicy{
		Attempts: 3, BaseDelay: time.Microsecond, MaxDelay: time.Millisecond, AttemptTimeout: time.Second}),
		resilient.WithBreaker(resilient.BreakerPolicy{Failures: 2, FailureRatio: 0.01, OpenFor: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // later than the attempt's
	defer cancel()
	soon, cancelSoon := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancelSoon()
	primary.fails.Store(1)
	_, err = s.Append(soon, "c", chatring.Message{Role: chatring.User, Content: "hello"})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("Append with the caller's deadline first, store timed out: %v, want context.DeadlineExceeded only", err)
	}
	if st := s.Stats(); st.Attempts != 1 || st.Retries != 0 || st.Breaker != "closed" {
		t.Errorf("Stats: %d attempts, %d retries, breaker %s; want 1, 0, closed", st.Attempts, st.Retries, st.Breaker)
	}
	// With the caller's deadline later, the same failure is the
	// attempt's own: ErrUnavailable, retried; and the breaker counts it,
	// its first failure (two would open it).
	primary.fails.Store(1)
	if m, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "hello"}); err != nil || m.Seq != 1 {
		t.Errorf("Append with the attempt's deadline first = seq %d, %v; want it stored on the retry", m.Seq, err)
	}
}

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

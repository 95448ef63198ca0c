package resilient_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
)

// waitCtx is a primary whose Append waits for its ctx to end, the way
// wait says, and returns ctx's error, reporting it on ended.
type waitCtx struct {
	*chatring.MemoryStore
	wait  func(ctx context.Context)
	ended chan error
}

func (w *waitCtx) Append(ctx context.Context, _ string, _ chatring.Message) (chatring.Message, error) {
	w.wait(ctx)
	w.ended <- ctx.Err()
	return chatring.Message{}, ctx.Err()
}

// TestAttemptEndsUnderCancelableCtx: under a caller's ctx that can be
// canceled but has no deadline, an attempt still ends at its deadline
// (AttemptTimeout) whether the primary only polls Err, asks for Done
// only after the deadline has passed, or waits on Done from the start;
// the call fails with ErrUnavailable, the primary sees DeadlineExceeded,
// and nothing is left running (goleak in TestMain).
func TestAttemptEndsUnderCancelableCtx(t *testing.T) {
	const timeout = 50 * time.Millisecond
	for _, c := range []struct {
		name string
		wait func(ctx context.Context)
	}{
		{"polls Err", func(ctx context.Context) {
			for ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
		}},
		{"asks for Done late", func(ctx context.Context) {
			time.Sleep(3 * timeout)
			<-ctx.Done()
		}},
		{"waits on Done", func(ctx context.Context) { <-ctx.Done() }},
		{"derives a context", func(ctx context.Context) {
			d, cancel := context.WithCancel(ctx)
			defer cancel()
			<-d.Done()
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := chatring.Config{MaxTurns: 2}
			mem, err := chatring.NewMemoryStore(cfg)
			if err != nil {
				t.Fatal(err)
			}
			p := &waitCtx{MemoryStore: mem, wait: c.wait, ended: make(chan error, 1)}
			s, err := resilient.New(p, resilient.WithConfig(cfg), resilient.WithBreaker(lazyBreaker),
				resilient.WithRetry(resilient.RetryPolicy{Attempts: 1, AttemptTimeout: timeout}))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			caller, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := s.Append(caller, "c", chatring.Message{Role: chatring.User, Content: "x"})
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, chatring.ErrUnavailable) {
					t.Errorf("Append = %v, want ErrUnavailable (the attempt's deadline)", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the attempt did not end at its deadline")
			}
			if err := <-p.ended; !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("the primary saw its ctx end with %v, want DeadlineExceeded", err)
			}
			if caller.Err() != nil {
				t.Error("the caller's ctx ended")
			}
		})
	}
}

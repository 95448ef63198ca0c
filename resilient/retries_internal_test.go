package resilient

import (
	"context"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient/internal/faultstore"
)

// TestRetriesCountAttempts: Stats.Retries counts the attempts after a
// call's first. A caller that gives up during the backoff wait gets no
// second attempt, so none is counted: Retries 0 after 1 attempt, where it
// used to count the wait as a retry.
func TestRetriesCountAttempts(t *testing.T) {
	// down returns a Store on a primary that is always unavailable,
	// whose backoff waits are wait long; its breaker never opens.
	down := func(wait time.Duration) *Store {
		mem, err := chatring.NewMemoryStore(chatring.Config{})
		if err != nil {
			t.Fatal(err)
		}
		fs := faultstore.New(mem)
		fs.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
		s, err := New(fs, WithRetry(RetryPolicy{Attempts: 3, BaseDelay: wait, MaxDelay: wait, MaxElapsed: time.Minute}),
			WithBreaker(BreakerPolicy{Failures: 1 << 30}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		return s
	}

	s := down(time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	s.onRetry = func(time.Duration) { cancel() } // the caller leaves as the wait begins
	if _, err := s.Messages(ctx, "c", nil); err == nil {
		t.Fatal("Messages succeeded during an outage")
	}
	if st := s.Stats(); st.Attempts != 1 || st.Retries != 0 {
		t.Errorf("a call whose caller left during its first backoff wait: attempts %d, retries %d; want 1 and 0", st.Attempts, st.Retries)
	}

	// A call that runs its three attempts counts two retries.
	s = down(time.Millisecond)
	if _, err := s.Messages(t.Context(), "c", nil); err == nil {
		t.Fatal("Messages succeeded during an outage")
	}
	if st := s.Stats(); st.Attempts != 3 || st.Retries != 2 {
		t.Errorf("a call of three attempts: attempts %d, retries %d; want 3 and 2", st.Attempts, st.Retries)
	}
}

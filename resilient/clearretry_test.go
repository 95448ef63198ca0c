package resilient_test

import (
	"context"
	"errors"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
)

// TestReadYourWritesRetryAfterClear: an append that failed before it
// reached the primary (ErrUnavailable), retried with its ID after a
// Clear, is a new message the primary stores after the Clear; a degraded
// read must hold it. (A mirror that left out every acknowledgment of an
// ID whose append failed before the Clear, to keep a recognised retry of
// a cleared message out, would lose it: a Seq alone cannot tell the two
// apart.)
func TestReadYourWritesRetryAfterClear(t *testing.T) {
	r := newRig(t, chatring.Config{MaxTurns: 2}, resilient.WithRetry(resilient.RetryPolicy{Attempts: 1}))
	ctx := context.Background()
	r.append(t, "c", "a")
	if _, err := r.Messages(ctx, "c", nil); err != nil {
		t.Fatal(err)
	}
	r.faults.SetPolicy(faultstore.Times(faultstore.Append, faultstore.Before, 1))
	m, err := r.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "retried"})
	if !errors.Is(err, chatring.ErrUnavailable) || m.ID == "" {
		t.Fatalf("Append = %+v, %v; want ErrUnavailable with the ID", m, err)
	}
	r.faults.SetPolicy(nil)
	if err := r.Clear(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	got, err := r.Append(ctx, "c", chatring.Message{ID: m.ID, Role: chatring.User, Content: "retried"})
	if err != nil {
		t.Fatal(err)
	}
	if w := r.stored(t, "c"); len(w) != 1 || w[0] != brief([]chatring.Message{got})[0] {
		t.Fatalf("primary holds %v, want only the retry %v", w, brief([]chatring.Message{got}))
	}
	degradedMatches(t, r.Store, r.faults, r.mem, "c")
}

package resilient_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
)

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

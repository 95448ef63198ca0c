package resilient_test

import (
	"context"
	"errors"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
	"github.com/google/go-cmp/cmp"
)

// TestProvisionalSeqMoves: a buffered append's provisional Seq continues
// the newest Seq the mirror knew when it was buffered; when the mirror
// then learns a newer message at that Seq (here the late reply of an
// append that was in flight), degraded reads move the buffered append
// after it instead of showing two messages at one Seq. So its Seq in a
// degraded read may be greater than the one Append returned.
func TestProvisionalSeqMoves(t *testing.T) {
	cfg := chatring.Config{MaxTurns: 4}
	mem, err := chatring.NewMemoryStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &holdReply{Store: faultstore.New(mem), held: "A", stored: make(chan struct{}), release: make(chan struct{})}
	s, err := resilient.New(h, resilient.WithConfig(cfg), resilient.WithRetry(resilient.RetryPolicy{Attempts: 1}),
		resilient.WithBreaker(lazyBreaker), resilient.WithOutbox(10))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() {
		h.SetPolicy(nil)
		_ = s.Close(ctx)
	})
	if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "x"}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "A"})
		done <- err
	}()
	<-h.stored // A is stored at Seq 2; its reply is held
	h.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	b, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "B"})
	if !errors.Is(err, resilient.ErrBuffered) {
		t.Fatalf("Append(B) = %v, want ErrBuffered", err)
	}
	if b.Seq != 2 {
		t.Fatalf("B's provisional Seq = %d, want 2 (after 1, the newest the mirror knew)", b.Seq)
	}
	close(h.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := s.Messages(ctx, "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1:x", "2:A", "3:B"}
	if g := brief(got); !cmp.Equal(g, want) {
		t.Fatalf("degraded read %v, want %v", g, want)
	}
}

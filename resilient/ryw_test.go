package resilient_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
	"github.com/google/go-cmp/cmp"
)

// holdReply is a primary whose Append of the message with content held
// stores it, then waits for release before it replies: the next Append
// gets the next Seq and its reply comes first.
type holdReply struct {
	*faultstore.Store
	held            string
	stored, release chan struct{}
}

func (h *holdReply) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	got, err := h.Store.Append(ctx, conv, m)
	if m.Content == h.held {
		close(h.stored)
		<-h.release
	}
	return got, err
}

// newHoldRig returns a Store over a holdReply over a MemoryStore with
// cfg, which holds the reply of the Append of held.
func newHoldRig(t *testing.T, cfg chatring.Config, held string) (*resilient.Store, *holdReply, *chatring.MemoryStore) {
	t.Helper()
	mem, err := chatring.NewMemoryStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &holdReply{Store: faultstore.New(mem), held: held, stored: make(chan struct{}), release: make(chan struct{})}
	s, err := resilient.New(h, resilient.WithConfig(cfg), resilient.WithRetry(resilient.RetryPolicy{Attempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.SetPolicy(nil)
		_ = s.Close(context.Background())
	})
	return s, h, mem
}

// appendOutOfOrder appends held and then after to conv through s, so
// that the primary gives held the smaller Seq and after's reply comes
// back first.
func appendOutOfOrder(t *testing.T, s *resilient.Store, h *holdReply, conv, held, after string) {
	t.Helper()
	ctx := context.Background()
	done := make(chan error)
	go func() {
		_, err := s.Append(ctx, conv, chatring.Message{Role: chatring.User, Content: held})
		done <- err
	}()
	<-h.stored
	if _, err := s.Append(ctx, conv, chatring.Message{Role: chatring.User, Content: after}); err != nil {
		t.Fatal(err)
	}
	close(h.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// degradedMatches takes the primary down and checks that a degraded
// Messages of conv returns the window mem holds, by Seq and content.
func degradedMatches(t *testing.T, s *resilient.Store, faults *faultstore.Store, mem *chatring.MemoryStore, conv string) {
	t.Helper()
	ctx := context.Background()
	want, err := mem.Messages(ctx, conv, nil)
	if err != nil {
		t.Fatal(err)
	}
	faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	defer faults.SetPolicy(nil)
	reads := s.Stats().DegradedReads
	got, err := s.Messages(ctx, conv, nil)
	if err != nil {
		t.Fatalf("degraded Messages: %v", err)
	}
	if s.Stats().DegradedReads != reads+1 {
		t.Fatal("the read was not served from the mirror")
	}
	if diff := cmp.Diff(brief(want), brief(got)); diff != "" {
		t.Errorf("degraded read (-primary's window +mirror's):\n%s", diff)
	}
}

// TestReadYourWritesOutOfOrder: an acknowledged append is in degraded
// reads even when its reply comes back after the reply of a newer
// append: A gets Seq 2, B gets Seq 3, B's reply comes first. (Before,
// the mirror jumped to [3] on B's reply and then dropped A's as late.)
func TestReadYourWritesOutOfOrder(t *testing.T) {
	s, h, mem := newHoldRig(t, chatring.Config{MaxTurns: 1}, "A")
	if _, err := s.Append(context.Background(), "c", chatring.Message{Role: chatring.User, Content: "x"}); err != nil {
		t.Fatal(err)
	}
	appendOutOfOrder(t, s, h, "c", "A", "B")
	if got := brief(mustMessages(t, mem, "c")); !cmp.Equal(got, []string{"2:A", "3:B"}) {
		t.Fatalf("primary's window %v, want [2:A 3:B]", got)
	}
	degradedMatches(t, s, h.Store, mem, "c")
}

// TestReadYourWritesRestart: a deleted conversation starts again at
// Seq 1, and replies out of order (Seq 2 before Seq 1) still both reach
// the mirror, after this process's Delete and after one behind its back
// (another replica's Delete, the primary's idle TTL), which the mirror
// sees when a new message comes back at a Seq it holds another message
// at, and follows instead of keeping the old window.
func TestReadYourWritesRestart(t *testing.T) {
	for _, foreign := range []bool{false, true} {
		t.Run(map[bool]string{false: "own Delete", true: "foreign Delete"}[foreign], func(t *testing.T) {
			s, h, mem := newHoldRig(t, chatring.Config{MaxTurns: 2}, "new1")
			ctx := context.Background()
			for i := range 3 { // Seq 1 to 3, within the window of 4
				if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: fmt.Sprint("old", i)}); err != nil {
					t.Fatal(err)
				}
			}
			var d chatring.Store = s
			if foreign {
				d = mem
			}
			if err := d.Delete(ctx, "c"); err != nil {
				t.Fatal(err)
			}
			appendOutOfOrder(t, s, h, "c", "new1", "new2")
			degradedMatches(t, s, h.Store, mem, "c")
		})
	}
}

func mustMessages(t *testing.T, st chatring.Store, conv string) []chatring.Message {
	t.Helper()
	msgs, err := st.Messages(context.Background(), conv, nil)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// jitter is a primary whose replies come back after a random delay of up
// to max, so that concurrent calls return in another order than the
// primary applied them: appends overtake each other, and reads return
// older than appends that returned meanwhile.
type jitter struct {
	*faultstore.Store
	max time.Duration
}

func (j jitter) pause() {
	if d := rand.N(j.max); d > j.max/4 {
		time.Sleep(d)
	}
}

func (j jitter) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	got, err := j.Store.Append(ctx, conv, m)
	j.pause()
	return got, err
}

func (j jitter) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	got, err := j.Store.Messages(ctx, conv, dst)
	j.pause()
	return got, err
}

func (j jitter) Window(ctx context.Context, conv string, maxTokens int) ([]chatring.Message, error) {
	got, err := j.Store.Window(ctx, conv, maxTokens)
	j.pause()
	return got, err
}

// TestReadYourWritesConcurrent: writers append concurrently to a few
// conversations, their replies coming back in random order, while
// readers read them (their replies late too); once every append was
// acknowledged, a degraded read of each conversation is exactly the
// primary's window. (The readers stop halfway: the windows they read
// would fill in what the appends left out.) Every message there is an append this process
// acknowledged, so that is read-your-writes for all of them that are
// within the window of the newest. Run it under -race.
func TestReadYourWritesConcurrent(t *testing.T) {
	t.Run("durable", func(t *testing.T) { rywConcurrent(t, false) })
	// With the outbox: appends fail at random (before the primary
	// stores them, or after, with the reply lost), are buffered, and
	// are replayed by the flusher, through AppendBatch, and by later
	// calls; each ends up acknowledged once, durably or by its replay.
	t.Run("outbox", func(t *testing.T) { rywConcurrent(t, true) })
}

func rywConcurrent(t *testing.T, outbox bool) {
	const (
		writers, appends, readers = 6, 40, 2
		convs                     = 3
	)
	cfg := chatring.Config{MaxTurns: 4} // a window of 8 messages
	mem, err := chatring.NewMemoryStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	faults := faultstore.New(mem)
	opts := []resilient.Option{resilient.WithConfig(cfg), resilient.WithBreaker(lazyBreaker),
		resilient.WithRetry(resilient.RetryPolicy{Attempts: 1})}
	if outbox {
		opts = append(opts, resilient.WithOutbox(writers*appends), resilient.WithFlushInterval(time.Millisecond))
		faults.SetPolicy(func(op faultstore.Op, _ uint64) faultstore.Fault {
			if op != faultstore.Append && op != faultstore.AppendBatch || rand.N(4) != 0 {
				return faultstore.None
			}
			return faultstore.Before + faultstore.Fault(rand.N(2)) // Before or After
		})
	}
	s, err := resilient.New(jitter{faults, 200 * time.Microsecond}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx := context.Background()
	conv := func(i int) string { return fmt.Sprint("conv-", i%convs) }

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := range readers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if r == 0 {
					_, _ = s.Messages(ctx, conv(i), nil)
				} else {
					_, _ = s.Window(ctx, conv(i), 0)
				}
			}
		})
	}
	write := func(from, to int) {
		var writes sync.WaitGroup
		for w := range writers {
			writes.Go(func() {
				for i := from; i < to; i++ {
					m := chatring.Message{Role: chatring.User, Content: fmt.Sprintf("w%d-%d", w, i)}
					_, err := s.Append(ctx, conv(w+i), m)
					if err != nil && !(outbox && errors.Is(err, resilient.ErrBuffered)) {
						t.Errorf("Append: %v", err)
					}
				}
			})
		}
		writes.Wait()
	}
	write(0, appends/2)
	close(stop)
	wg.Wait()
	write(appends/2, appends)
	faults.SetPolicy(nil)
	eventually(t, "the outbox drains", func() bool { return s.Stats().Outbox == 0 })
	for c := range convs {
		degradedMatches(t, s, faults, mem, conv(c))
		faults.SetPolicy(nil)
	}
	if st := s.Stats(); outbox && (st.Buffered == 0 || st.Replayed != st.Buffered) {
		t.Errorf("%d appends buffered, %d replayed; want some, all replayed", st.Buffered, st.Replayed)
	}
}

// TestReadYourWritesClear: an append whose reply comes back after a
// Clear of this process returned (the primary stored it before the
// Clear, which removed it) is not brought back by its late reply; an
// append after the Clear is in degraded reads.
func TestReadYourWritesClear(t *testing.T) {
	s, h, mem := newHoldRig(t, chatring.Config{MaxTurns: 2}, "before")
	ctx := context.Background()
	done := make(chan error)
	go func() {
		_, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "before"})
		done <- err
	}()
	<-h.stored
	if err := s.Clear(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "after"}); err != nil {
		t.Fatal(err)
	}
	close(h.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := brief(mustMessages(t, mem, "c")); !cmp.Equal(got, []string{"2:after"}) {
		t.Fatalf("primary's window %v, want [2:after]", got)
	}
	degradedMatches(t, s, h.Store, mem, "c")
}

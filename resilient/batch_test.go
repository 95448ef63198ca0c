package resilient_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
	"github.com/google/go-cmp/cmp"
)

// sizes is a BatchAppender that records the length of every batch sent
// to it once recording is on.
type sizes struct {
	*faultstore.BatchStore
	mu   sync.Mutex
	on   bool
	lens []int
}

func (z *sizes) AppendBatch(ctx context.Context, conv string, ms []chatring.Message) ([]chatring.Message, error) {
	z.mu.Lock()
	if z.on {
		z.lens = append(z.lens, len(ms))
	}
	z.mu.Unlock()
	return z.BatchStore.AppendBatch(ctx, conv, ms)
}

// batchRig is a Store over sizes over a MemoryStore for cfg; the
// primary's Config may differ from the Store's (WithConfig).
func batchRig(t *testing.T, primaryCfg, cfg chatring.Config, opts ...resilient.Option) (*resilient.Store, *sizes, *chatring.MemoryStore) {
	t.Helper()
	mem, err := chatring.NewMemoryStore(primaryCfg)
	if err != nil {
		t.Fatal(err)
	}
	z := &sizes{BatchStore: faultstore.NewBatch(mem)}
	all := append([]resilient.Option{resilient.WithConfig(cfg), resilient.WithRetry(fastRetry),
		resilient.WithBreaker(lazyBreaker), resilient.WithOutbox(1000)}, opts...)
	s, err := resilient.New(z, all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		z.SetPolicy(nil)
		_ = s.Close(context.Background())
	})
	return s, z, mem
}

// bufferAll appends n messages "<conv>-i" to conv while the primary
// refuses everything, and fails the test unless each is buffered.
func bufferAll(t *testing.T, s *resilient.Store, z *sizes, conv string, n int) []string {
	t.Helper()
	z.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	var want []string
	for i := range n {
		content := fmt.Sprintf("%s-%d", conv, i+1)
		if _, err := s.Append(context.Background(), conv, chatring.Message{Role: chatring.User, Content: content}); !errors.Is(err, resilient.ErrBuffered) {
			t.Fatalf("Append %d while down: %v, want ErrBuffered", i, err)
		}
		want = append(want, fmt.Sprintf("%d:%s", i+1, content))
	}
	return want
}

// TestBatchReplaySize: Close replays a conversation's backlog through
// the primary's AppendBatch in batches of at most 64, in order: 200
// buffered appends are 4 batches, 64 + 64 + 64 + 8, and a conversation
// with 3 is one batch of 3.
func TestBatchReplaySize(t *testing.T) {
	s, z, mem := batchRig(t, chatring.Config{MaxTurns: 100}, chatring.Config{MaxTurns: 100},
		resilient.WithFlushInterval(time.Hour))
	wantA := bufferAll(t, s, z, "a", 200)
	wantB := bufferAll(t, s, z, "b", 3)
	z.SetPolicy(nil)
	z.mu.Lock()
	z.on = true
	z.mu.Unlock()
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	z.mu.Lock()
	lens := slices.Clone(z.lens)
	z.mu.Unlock()
	slices.Sort(lens)
	if diff := cmp.Diff([]int{3, 8, 64, 64, 64}, lens); diff != "" {
		t.Errorf("batch sizes, sorted (-want +got):\n%s", diff)
	}
	for conv, want := range map[string][]string{"a": wantA, "b": wantB} {
		if diff := cmp.Diff(want, (&rig{mem: mem}).stored(t, conv)); diff != "" {
			t.Errorf("conversation %s (-want +got):\n%s", conv, diff)
		}
	}
	if st := s.Stats(); st.Replayed != 203 {
		t.Errorf("Replayed %d, want 203", st.Replayed)
	}
}

// TestBatchReplayBreaker: while the breaker is open no batch reaches the
// primary, though the primary is back and the flusher runs; once it lets
// probes through the backlog drains, in order.
func TestBatchReplayBreaker(t *testing.T) {
	s, z, mem := batchRig(t, chatring.Config{}, chatring.Config{},
		resilient.WithFlushInterval(5*time.Millisecond),
		resilient.WithBreaker(resilient.BreakerPolicy{Failures: 1, OpenFor: 2 * time.Second}))
	want := bufferAll(t, s, z, "c", 10)
	if st := s.Stats(); st.FailedFast == 0 {
		t.Fatalf("the breaker did not open: %+v", st)
	}
	sent := z.Calls(faultstore.AppendBatch)
	z.SetPolicy(nil)
	time.Sleep(100 * time.Millisecond) // 20 flusher ticks, well within OpenFor
	if n := z.Calls(faultstore.AppendBatch); n != sent {
		t.Errorf("%d batches reached the primary while the breaker was open", n-sent)
	}
	eventually(t, "the outbox drains after OpenFor", func() bool { return s.Stats().Outbox == 0 })
	if diff := cmp.Diff(want, (&rig{mem: mem}).stored(t, "c")); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
}

// TestBatchReplayDiscard: a buffered append that the primary rejects as
// invalid (its Config allows smaller messages than the Store's) in the
// middle of a batch is discarded and counted; those before it and after
// it are stored, in order, once.
func TestBatchReplayDiscard(t *testing.T) {
	s, z, mem := batchRig(t, chatring.Config{MaxMessageBytes: 100}, chatring.Config{MaxMessageBytes: 1000},
		resilient.WithFlushInterval(time.Hour))
	z.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	for i := range 5 {
		content := fmt.Sprint("m", i+1)
		if i == 2 {
			content = strings.Repeat("x", 200)
		}
		if _, err := s.Append(context.Background(), "d", chatring.Message{Role: chatring.User, Content: content}); !errors.Is(err, resilient.ErrBuffered) {
			t.Fatalf("Append %d while down: %v", i, err)
		}
	}
	z.SetPolicy(nil)
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if diff := cmp.Diff([]string{"1:m1", "2:m2", "3:m4", "4:m5"}, (&rig{mem: mem}).stored(t, "d")); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	if st := s.Stats(); st.Replayed != 4 || st.Discarded != 1 {
		t.Errorf("Replayed %d, Discarded %d; want 4 and 1", st.Replayed, st.Discarded)
	}
}

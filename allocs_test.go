package chatring_test

import (
	"context"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/lockfree"
	"github.com/chatring/chatring/ringbuf"
	"github.com/chatring/chatring/sharded"
)

// TestHotPathAllocations checks issue 13's allocation targets on a full
// window (every Append evicts): History.Append allocates nothing with the
// mutex and sharded backends (the lockfree ring allocates one entry per
// Push by design), Messages into a dst with room allocates nothing, Window
// allocates once (the slice it returns), and MemoryStore.Append to a
// conversation that exists allocates nothing; and the rings' own Push,
// which History no longer calls (it calls PushPtr) but which is now
// PushPtr(&v), allocates nothing either: v must not escape. Like
// TestStatsAllocations it runs without the race detector, whose
// instrumentation allocates.
func TestHotPathAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector; run without -race")
	}
	ctx := context.Background()
	msgs := []chatring.Message{
		{Role: chatring.User, Content: "What is the capital of France? Answer in one word."},
		{Role: chatring.Assistant, Content: "巴黎。Paris, the capital since 987."},
		// 64 bytes and more of ASCII: the scan's block pass (on amd64 its
		// assembly kernel) runs on this one only.
		{Role: chatring.User, Content: "Sure! The window keeps the last ten turns; older ones are evicted, so summarize them first."},
	}
	for _, backend := range chatring.Backends() {
		t.Run(backend, func(t *testing.T) {
			h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: 10})
			for i := range 30 {
				mustAppend(t, h, msgs[i%len(msgs)].Role, msgs[i%len(msgs)].Content)
			}
			want := 0.0
			if backend == chatring.BackendLockFree {
				want = 1 // the ring's entry
			}
			// One message at a time: AllocsPerRun rounds the mean down,
			// so an allocation in one message of three would not show.
			for _, m := range msgs {
				appends := testing.AllocsPerRun(200, func() {
					if _, err := h.Append(ctx, m); err != nil {
						t.Fatal(err)
					}
				})
				if appends != want {
					t.Errorf("Append of %d bytes allocated %v times per call, want %v", len(m.Content), appends, want)
				}
			}
			if n := messagesAllocs(t, h, 20); n != 0 {
				t.Errorf("Messages into a dst with room allocated %v times per call, want 0", n)
			}
			if n := testing.AllocsPerRun(200, func() {
				if _, err := h.Window(ctx, 0); err != nil {
					t.Fatal(err)
				}
			}); n > 1 {
				t.Errorf("Window allocated %v times per call, want at most 1", n)
			}
		})
	}
	t.Run("store", func(t *testing.T) {
		for _, backend := range []string{chatring.BackendMutex, chatring.BackendSharded} {
			s, err := chatring.NewMemoryStore(chatring.Config{Backend: backend, MaxTurns: 10})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close(ctx) })
			for i := range 30 {
				if _, err := s.Append(ctx, "conv-1", msgs[i%len(msgs)]); err != nil {
					t.Fatal(err)
				}
			}
			for _, m := range msgs {
				if n := testing.AllocsPerRun(200, func() {
					if _, err := s.Append(ctx, "conv-1", m); err != nil {
						t.Fatal(err)
					}
				}); n != 0 {
					t.Errorf("%s: MemoryStore.Append of %d bytes to an existing conversation allocated %v times per call, want 0", backend, len(m.Content), n)
				}
			}
		}
	})
	t.Run("ring", func(t *testing.T) {
		m := msgs[0]
		for _, tc := range []struct {
			backend string
			ring    interface {
				Push(chatring.Message) uint64
				PushPtr(*chatring.Message) uint64
			}
			want float64
		}{
			{chatring.BackendMutex, ringbuf.New[chatring.Message](10), 0},
			{chatring.BackendSharded, sharded.New[chatring.Message](10), 0},
			{chatring.BackendLockFree, lockfree.New[chatring.Message](10), 1}, // the entry
		} {
			for range 30 {
				tc.ring.Push(m)
			}
			if n := testing.AllocsPerRun(200, func() { tc.ring.Push(m) }); n != tc.want {
				t.Errorf("%s: Push allocated %v times per call, want %v", tc.backend, n, tc.want)
			}
			if n := testing.AllocsPerRun(200, func() { tc.ring.PushPtr(&m) }); n != tc.want {
				t.Errorf("%s: PushPtr allocated %v times per call, want %v", tc.backend, n, tc.want)
			}
		}
	})
}

// messagesAllocs returns the allocations of one call of h.Messages, whose
// window holds n messages, into a dst with room for them.
func messagesAllocs(t *testing.T, h *chatring.History, n int) float64 {
	t.Helper()
	dst := make([]chatring.Message, 0, n)
	return testing.AllocsPerRun(200, func() {
		var err error
		if dst, err = h.Messages(t.Context(), dst[:0]); err != nil || len(dst) != n {
			t.Fatalf("Messages = %d messages, %v", len(dst), err)
		}
	})
}

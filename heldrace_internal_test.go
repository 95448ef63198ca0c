package chatring

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/chatring/chatring/ringbuf"
)

// pushPausingRing wraps a History's ring; the Push of the message whose
// content is pauseOn returns only once release is closed, after the
// message is in the ring: the state of an Append preempted between its
// ring push and the rest of its bookkeeping.
type pushPausingRing struct {
	ringbuf.Buffer[Message]
	pauseOn string
	pushed  chan struct{} // closed once that message is in the ring
	release chan struct{}
}

func (r *pushPausingRing) Push(m Message) uint64 {
	seq := r.Buffer.Push(m)
	if m.Content == r.pauseOn {
		close(r.pushed)
		<-r.release
	}
	return seq
}

// ringHeld recomputes a conversation's held bytes from what its ring
// holds now: its fixed bytes and ID, the pinned prompt and heldBytes of
// every message in the ring's window.
func ringHeld(s *MemoryStore, conv string, h *History) int64 {
	n := s.fixed + int64(len(conv)) + promptBytes(h.system.Load())
	msgs, _ := h.buf.Snapshot(nil)
	for i := range msgs {
		n += int64(heldBytes(&msgs[i], h.cfg.Backend))
	}
	return n
}

// TestMemoryStoreHeldBytesOverlappingPushes: an Append whose ring push
// lands (seq 1) but whose size bookkeeping runs only after newer Appends
// have wrapped the ring around (seq 1 + capacity, into the same slot)
// must not leave the size of its own, overwritten message counted in
// place of the newer one. After every call returned, HeldBytes is what
// the ring holds.
func TestMemoryStoreHeldBytesOverlappingPushes(t *testing.T) {
	for _, backend := range []string{BackendMutex, BackendLockFree} {
		t.Run("backend="+backend, func(t *testing.T) {
			s, err := NewMemoryStore(Config{Backend: backend, MaxTurns: 1}) // capacity 2
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			ctx := t.Context()
			const conv = "c"
			if err := s.SetSystemPrompt(ctx, conv, "p"); err != nil { // creates the conversation, ring empty
				t.Fatal(err)
			}
			h := s.lookup(conv, false)
			small := "s"
			r := &pushPausingRing{Buffer: h.buf, pauseOn: small, pushed: make(chan struct{}), release: make(chan struct{})}
			h.buf = r // before any other goroutine uses h

			var wg sync.WaitGroup
			wg.Go(func() { // seq 1, paused after its push
				if _, err := s.Append(ctx, conv, Message{Role: User, Content: small}); err != nil {
					t.Error(err)
				}
			})
			<-r.pushed
			big := strings.Repeat("b", 1000)
			for range 2 { // seq 2, then seq 3 into seq 1's slot
				if _, err := s.Append(ctx, conv, Message{Role: User, Content: big}); err != nil {
					t.Fatal(err)
				}
			}
			close(r.release)
			wg.Wait()

			want := ringHeld(s, conv, h)
			if got := s.Stats().HeldBytes; got != want {
				t.Errorf("HeldBytes %d; the ring holds %d (two %d-byte messages)", got, want, len(big))
			}
		})
	}
}

package chatring

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recountHeld recomputes HeldBytes from scratch: the fixed bytes and ID of
// every conversation the cache holds, the sizes of the messages in its
// ring as recorded at Append, and its pinned prompt. It also returns the
// number of conversations it found, and the first History whose own
// counter disagrees with its recount.
func recountHeld(s *MemoryStore) (total int64, convs int, wrong string) {
	for conv, h := range s.convs.All() {
		convs++
		n := s.fixed + int64(len(conv)) + promptBytes(h.system.Load())
		for i := range h.sizes {
			n += int64(uint32(h.sizes[i].Load())) // the size, without its lap
		}
		total += n
		if got := h.held.n.Load(); got != n && wrong == "" {
			wrong = fmt.Sprintf("conversation %q: its counter %d, recount %d", conv, got, n)
		}
	}
	return total, convs, wrong
}

// TestMemoryStoreHeldBytesRunningTotal runs a concurrent mix of Appends of
// varying sizes (with and without IDs), Clears, Deletes, SetSystemPrompt
// (set, replace, remove) and reads, first over more conversations than the
// store may hold, then over a few of them while the others expire: the
// running total of HeldBytes equals a full recount of the conversations
// left, and once every conversation has expired it is 0.
func TestMemoryStoreHeldBytesRunningTotal(t *testing.T) {
	const (
		hot, cold = 40, 300 // hot conversations are used to the end, cold ones only at first
		maxConvs  = 100
		ttl       = 300 * time.Millisecond
	)
	forBackends(t, func(t *testing.T, backend string) {
		s, err := NewMemoryStore(Config{Backend: backend, MaxTurns: 2, MaxConversations: maxConvs, IdleTTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		ctx := t.Context()
		call := func(i int, conv string) error {
			var err error
			switch i % 10 {
			case 0:
				err = s.Delete(ctx, conv)
			case 1:
				err = s.SetSystemPrompt(ctx, conv, strings.Repeat("p", 1+i%50))
			case 2:
				err = s.SetSystemPrompt(ctx, conv, "")
			case 3:
				err = s.Clear(ctx, conv)
			case 4:
				_, err = s.Messages(ctx, conv, nil)
			default:
				m := Message{Role: User, Content: strings.Repeat("x", 1+i*7%200)}
				if i%3 == 0 {
					m.ID = fmt.Sprint(i % 5)
				}
				_, err = s.Append(ctx, conv, m)
			}
			if err != nil {
				t.Errorf("call %d on %s: %v", i, conv, err)
			}
			return err
		}
		// Every conversation, far more than maxConvs: evictions for
		// capacity. Then the hot ones only, until the cold ones have
		// expired (and the store reports it).
		var stop atomic.Bool
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 2000 {
					conv := fmt.Sprint("hot-", (i*7+g*13)%hot)
					if i%2 == 0 {
						conv = fmt.Sprint("cold-", (i*3+g*29)%cold)
					}
					if call(i+g, conv) != nil {
						return
					}
				}
				for i := 0; !stop.Load(); i++ {
					if call(i+g, fmt.Sprint("hot-", (i*7+g*13)%hot)) != nil {
						return
					}
				}
			})
		}
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if ev := s.Stats().EvictedByReason; ev["capacity"] > 0 && ev["idle"] > 0 {
				break
			}
		}
		stop.Store(true)
		wg.Wait()

		// Keep the conversations left from expiring, then wait for those
		// already expired to be cleaned up (the walk skips them, the
		// running total counts them until then): compare once Len and
		// the walk agree.
		for conv := range s.convs.Keys() {
			s.convs.SetExpiresAfter(conv, time.Hour)
		}
		checked := false
		for deadline := time.Now().Add(20 * time.Second); !checked && time.Now().Before(deadline); {
			s.convs.CleanUp()
			running := s.held.Load()
			total, convs, wrong := recountHeld(s)
			if convs != s.Len() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			checked = true
			if convs == 0 {
				t.Fatal("no conversation left to recount")
			}
			if running != total || s.Stats().HeldBytes != total {
				t.Errorf("running total %d (Stats %d), full recount %d over %d conversations",
					running, s.Stats().HeldBytes, total, convs)
			}
			if wrong != "" {
				t.Error(wrong)
			}
		}
		st := s.Stats()
		t.Logf("created %d, deleted %d, evicted %v, conversations left %d", st.Created, st.Deleted, st.EvictedByReason, st.Conversations)
		if !checked {
			t.Fatalf("expired conversations were not cleaned up: Len %d", s.Len())
		}
		if st.Deleted == 0 || st.EvictedByReason["capacity"] == 0 || st.EvictedByReason["idle"] == 0 {
			t.Errorf("the mix did not remove conversations in every way: deleted %d, evicted %v", st.Deleted, st.EvictedByReason)
		}

		// Now let them all expire: the total goes back to 0.
		for conv := range s.convs.Keys() {
			s.convs.SetExpiresAfter(conv, time.Millisecond)
		}
		deadline := time.Now().Add(20 * time.Second)
		for s.Len() != 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // otter cleans up expired entries every second
		}
		if n, held := s.Len(), s.held.Load(); n != 0 || held != 0 {
			t.Errorf("after every conversation expired: Len %d, running total %d, want 0 and 0", n, held)
		}
	})
}

// TestHeldCounterSealed: a change that lands on a History after its
// removal took the counter out of the total changes the counter alone,
// and one that landed before is in what seal took out.
func TestHeldCounterSealed(t *testing.T) {
	var total atomic.Int64
	var c heldCounter
	c.start(&total, 100)
	c.Add(20)
	c.Add(-5)
	if got := total.Load(); got != 115 {
		t.Fatalf("total %d after start(100), Add(20), Add(-5); want 115", got)
	}
	total.Add(-c.seal())
	c.Add(30) // after the removal
	c.Add(-200)
	if got := total.Load(); got != 0 {
		t.Errorf("total %d after seal and later changes, want 0", got)
	}
}

// errCountingCtx counts the calls of its Err method and closes reached
// once there have been n of them.
type errCountingCtx struct {
	context.Context
	calls   atomic.Int64
	n       int64
	reached chan struct{}
}

func (c *errCountingCtx) Err() error {
	if c.calls.Add(1) == c.n {
		close(c.reached)
	}
	return c.Context.Err()
}

// TestMemoryStoreClearDuringRemoval puts a conversation in the state a
// removal passes through: otter runs the deletion callback, which retires
// the History, under the bucket lock and before the table drops the
// entry, so until then Messages still reads the History. A Clear in that
// state used to return nil at once, as if the conversation were gone:
// a Messages called after it returned then still showed the message
// appended before it, which no order of the calls explains (porcupine
// found it in TestMemoryStoreConformance/*/Linearizable). Clear must
// instead look the conversation up again until the removal is done.
//
// The removal is frozen here (retire, and the table left as it is), so a
// correct Clear never finishes; it is seen going back to the table by its
// third call of ctx.Err (one in enter, one in History.Clear, one on its
// way to the retry; the old Clear made two), and then cancelled.
func TestMemoryStoreClearDuringRemoval(t *testing.T) {
	forBackends(t, func(t *testing.T, backend string) {
		s, err := NewMemoryStore(Config{Backend: backend, MaxTurns: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		if _, err := s.Append(t.Context(), "c", Message{Role: User, Content: "before the Clear"}); err != nil {
			t.Fatal(err)
		}
		h := s.lookup("c", false)
		h.retire() // what removed does, before otter changes the table

		base, cancel := context.WithCancel(t.Context())
		defer cancel()
		ctx := &errCountingCtx{Context: base, n: 3, reached: make(chan struct{})}
		done := make(chan error, 1)
		go func() { done <- s.Clear(ctx, "c") }()
		select {
		case err := <-done:
			msgs, _ := s.Messages(t.Context(), "c", nil)
			t.Fatalf("Clear returned %v while the conversation was still being removed; then Messages = %v", err, msgs)
		case <-ctx.reached:
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Clear with its ctx cancelled while it waits = %v, want context.Canceled", err)
		}

		// Let the removal finish: Clear then finds nothing to clear, and
		// a new conversation starts at Seq 1.
		if err := s.Delete(t.Context(), "c"); err != nil {
			t.Fatal(err)
		}
		if err := s.Clear(t.Context(), "c"); err != nil {
			t.Fatalf("Clear after the removal: %v", err)
		}
		if m, err := s.Append(t.Context(), "c", Message{Role: User, Content: "after"}); err != nil || m.Seq != 1 {
			t.Fatalf("Append after the removal = Seq %d, %v; want Seq 1", m.Seq, err)
		}
		if got := s.Stats().Clears; got != 0 {
			t.Errorf("Stats.Clears = %d, want 0: no Clear found a conversation to clear", got)
		}
	})
}

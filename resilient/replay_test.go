package resilient_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
	"github.com/google/go-cmp/cmp"
)

// overlap is a Store that counts the Appends in flight, the most at once
// and the conversations they were for, holding each for a moment so that
// concurrent ones overlap.
type overlap struct {
	chatring.Store
	mu       sync.Mutex
	inflight map[string]int // by conversation
	n, most  int
	sameConv bool // two Appends to one conversation were in flight at once
}

func (o *overlap) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	o.mu.Lock()
	o.n++
	o.most = max(o.most, o.n)
	o.inflight[conv]++
	o.sameConv = o.sameConv || o.inflight[conv] > 1
	o.mu.Unlock()
	time.Sleep(100 * time.Microsecond)
	defer func() {
		o.mu.Lock()
		o.n--
		o.inflight[conv]--
		o.mu.Unlock()
	}()
	return o.Store.Append(ctx, conv, m)
}

// TestConcurrentReplayOrder: the flusher and Close replay many
// conversations at once, and each conversation's buffered appends land
// in the order they were buffered, once each, while the primary refuses
// some replays and loses the reply of others; one Append at a time, and
// in batches through a BatchAppender, where the faults come mid-batch
// too (a message refused or its acknowledgment lost after those before
// it were stored) and to whole batches (refused, or stored and the reply
// lost).
func TestConcurrentReplayOrder(t *testing.T) {
	const convs, perConv = 16, 10
	for _, tc := range []struct{ by, batch string }{{"flusher", "no"}, {"close", "no"}, {"flusher", "yes"}, {"close", "yes"}} {
		by := tc.by
		t.Run("by="+by+"/batch="+tc.batch, func(t *testing.T) {
			mem, err := chatring.NewMemoryStore(chatring.Config{MaxTurns: perConv})
			if err != nil {
				t.Fatal(err)
			}
			ov := &overlap{Store: mem, inflight: map[string]int{}}
			faults := faultstore.New(ov)
			var primary chatring.Store = faults
			if tc.batch == "yes" {
				b := faultstore.NewBatch(ov)
				faults, primary = b.Store, b
			}
			flushEvery := 20 * time.Millisecond
			if by == "close" {
				flushEvery = time.Hour // the flusher never runs: Close replays
			}
			retry := fastRetry
			retry.Attempts = 30 // a replay that fails stops a pass, and Close's next pass is an hour away
			retry.BaseDelay, retry.MaxDelay = time.Microsecond, time.Microsecond
			s, err := resilient.New(primary, resilient.WithConfig(mem.Config()), resilient.WithRetry(retry),
				resilient.WithBreaker(lazyBreaker), resilient.WithOutbox(convs*perConv), resilient.WithFlushInterval(flushEvery))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
			want := map[string][]string{}
			for i := range perConv {
				for c := range convs {
					conv, content := fmt.Sprint("c", c), fmt.Sprintf("c%d-%d", c, i)
					if _, err := s.Append(ctx, conv, chatring.Message{Role: chatring.User, Content: content}); err == nil {
						t.Fatalf("Append while down: durable")
					}
					want[conv] = append(want[conv], fmt.Sprintf("%d:%s", i+1, content))
				}
			}
			// Back, but every 3rd append is refused and the reply of
			// every 4th is lost after the primary stored the message.
			// Whole batches: every 5th refused, every 7th stored and its
			// reply lost.
			var calls, batches atomic.Uint64
			faults.SetPolicy(func(op faultstore.Op, _ uint64) faultstore.Fault {
				if op == faultstore.AppendBatch {
					switch n := batches.Add(1); {
					case n%5 == 0:
						return faultstore.Before
					case n%7 == 0:
						return faultstore.After
					}
					return faultstore.None
				}
				if op != faultstore.Append {
					return faultstore.None
				}
				switch n := calls.Add(1); {
				case n%3 == 0:
					return faultstore.Before
				case n%4 == 0:
					return faultstore.After
				}
				return faultstore.None
			})
			if by == "flusher" {
				eventually(t, "the outbox drains", func() bool { return s.Stats().Outbox == 0 })
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := s.Close(cctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			for conv, w := range want {
				if diff := cmp.Diff(w, (&rig{mem: mem}).stored(t, conv)); diff != "" {
					t.Errorf("conversation %s (-want +got):\n%s", conv, diff)
				}
			}
			if st := s.Stats(); st.Replayed != convs*perConv {
				t.Errorf("Replayed %d, want %d", st.Replayed, convs*perConv)
			}
			if calls.Load() < convs*perConv*4/3 {
				t.Errorf("%d replay attempts: the faults did not happen", calls.Load())
			}
			if n := batches.Load(); tc.batch == "yes" && (n < 7 || n >= calls.Load()) {
				t.Errorf("%d batches for %d messages sent: the replay did not batch, or the batch faults did not happen", n, calls.Load())
			}
			ov.mu.Lock()
			defer ov.mu.Unlock()
			if ov.most < 2 || ov.sameConv {
				t.Errorf("at most %d replays at once (want conversations replayed concurrently); two of one conversation at once: %v", ov.most, ov.sameConv)
			}
		})
	}
}

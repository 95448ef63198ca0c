package chatring_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/storetest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestMemoryStoreConformance runs the Store conformance suite against a
// MemoryStore on each ring backend.
func TestMemoryStoreConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		storetest.Run(t, func(t *testing.T, cfg chatring.Config) chatring.Store {
			cfg.Backend = backend
			s, err := chatring.NewMemoryStore(cfg)
			if err != nil {
				t.Fatalf("NewMemoryStore(%+v): %v", cfg, err)
			}
			return s
		})
	})
}

func newStore(t testing.TB, cfg chatring.Config, opts ...chatring.Option) *chatring.MemoryStore {
	t.Helper()
	s, err := chatring.NewMemoryStore(cfg, opts...)
	if err != nil {
		t.Fatalf("NewMemoryStore(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func TestNewMemoryStoreRejectsBadConfig(t *testing.T) {
	for _, cfg := range []chatring.Config{{MaxConversations: -1}, {IdleTTL: -time.Second}, {Backend: "redis"}} {
		if s, err := chatring.NewMemoryStore(cfg); !errors.Is(err, chatring.ErrInvalidConfig) || s != nil {
			t.Errorf("NewMemoryStore(%+v) = %v, %v; want nil, ErrInvalidConfig", cfg, s, err)
		}
	}
}

// TestMemoryStoreEvictsByUse fills a store far beyond MaxConversations
// with one-message conversations while one conversation is used all the
// time: W-TinyLFU keeps the one in use and the bound holds.
func TestMemoryStoreEvictsByUse(t *testing.T) {
	const max = 100
	forEachBackend(t, func(t *testing.T, backend string) {
		s := newStore(t, chatring.Config{Backend: backend, MaxConversations: max})
		ctx := t.Context()
		use := func(i int) {
			if _, err := s.Append(ctx, "hot", chatring.Message{Role: chatring.User, Content: fmt.Sprint("hot ", i)}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Messages(ctx, "hot", nil); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Window(ctx, "hot", 0); err != nil {
				t.Fatal(err)
			}
		}
		// The conversation in use has a history before the flood: a
		// brand-new conversation may rightly lose to it, an established
		// one must not.
		const warm = 100
		for i := range warm {
			use(i)
		}
		for i := range 20 * max {
			use(warm + i)
			if _, err := s.Append(ctx, fmt.Sprint("cold-", i), chatring.Message{Role: chatring.User, Content: "once"}); err != nil {
				t.Fatal(err)
			}
			// otter records reads in lossy buffers that its maintenance
			// drains on other goroutines; a loop that never yields outruns
			// it and the hot conversation's reads go uncounted (it was
			// evicted in 37 of 90 runs without this). A service's
			// goroutines block on I/O and let maintenance run.
			runtime.Gosched()
		}
		// Eviction runs in otter's maintenance, shortly after the writes.
		deadline := time.Now().Add(10 * time.Second)
		for s.Len() > max && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		st := s.Stats()
		if st.Conversations > max || s.Len() > max {
			t.Errorf("the store holds %d conversations (Len %d), bound %d", st.Conversations, s.Len(), max)
		}
		if want := uint64(20*max + 1); st.Created != want {
			t.Errorf("Created = %d, want %d", st.Created, want)
		}
		if got := st.EvictedByReason["capacity"]; got != st.Created-uint64(s.Len()) {
			t.Errorf("evicted for capacity %d, want created %d - held %d", got, st.Created, s.Len())
		}
		msgs, err := s.Messages(ctx, "hot", nil)
		if err != nil || len(msgs) == 0 || msgs[len(msgs)-1].Seq != warm+20*max {
			t.Errorf("the conversation in use was evicted: window %d messages, %v", len(msgs), err)
		}
	})
}

func TestMemoryStoreStats(t *testing.T) {
	s := newStore(t, chatring.Config{MaxTurns: 1, IdleTTL: 50 * time.Millisecond})
	ctx := t.Context()
	for _, m := range []chatring.Message{
		{Role: chatring.User, Content: "hello", ID: "x"},
		{Role: chatring.User, Content: "hello", ID: "x"}, // deduplicated
		{Role: chatring.Assistant, Content: "hi there"},
		{Role: chatring.Tool, Content: "42", ToolCallID: "c1"},
	} {
		if _, err := s.Append(ctx, "a", m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, "b", chatring.Message{Role: chatring.User, Content: "b"}); err != nil {
		t.Fatal(err)
	}
	s.Append(ctx, "c", chatring.Message{Role: "robot", Content: "x"})          // invalid_role
	s.Append(ctx, "", chatring.Message{Role: chatring.User, Content: "x"})     // invalid_conversation
	s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "\x00"}) // invalid_content
	if err := s.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.Clear(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := s.Messages(ctx, "a", nil); err != nil { // finds "a" expired
		t.Fatal(err)
	}
	s.Close(ctx)
	s.Append(ctx, "d", chatring.Message{Role: chatring.User, Content: "late"}) // closed

	st := s.Stats()
	want := chatring.StoreStats{
		Backend: "mutex", Capacity: 2, MaxConversations: chatring.DefaultMaxConversations,
		Created: 2, Deleted: 1,
		Appended: 4, Deduplicated: 1, Rejected: 4, AppendedBytes: 5 + 8 + 2 + 2 + 1, // tool_call_id counts
		ByRole: map[chatring.Role]uint64{chatring.System: 0, chatring.User: 2, chatring.Assistant: 1, chatring.Tool: 1},
		RejectedByReason: map[string]uint64{"invalid_role": 1, "invalid_conversation": 1,
			"invalid_content": 1, "closed": 1},
		Clears: 1, Closed: true,
	}
	ignore := cmpopts.IgnoreFields(chatring.StoreStats{}, "EvictedByReason", "AppendedTokens", "Uptime", "HeldBytes", "Conversations")
	if diff := cmp.Diff(want, st, ignore); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	// "a" expired: gone from reads at once, counted once otter has
	// processed its removal, which its maintenance does shortly after.
	if st.EvictedByReason["capacity"] != 0 || st.EvictedByReason["idle"] > 1 {
		t.Errorf("EvictedByReason = %v, want no capacity eviction and at most 1 idle", st.EvictedByReason)
	}
	if _, err := json.Marshal(st); err != nil {
		t.Errorf("json.Marshal(Stats): %v", err)
	}
}

// blockingTokenizer blocks Count until release is closed, so that a test
// can hold an Append in flight.
type blockingTokenizer struct {
	entered chan struct{}
	release chan struct{}
}

func (b blockingTokenizer) Count(text string) int {
	b.entered <- struct{}{}
	<-b.release
	return 1
}

func TestMemoryStoreCloseWaitsForWrites(t *testing.T) {
	tok := blockingTokenizer{entered: make(chan struct{}), release: make(chan struct{})}
	s, err := chatring.NewMemoryStore(chatring.Config{}, chatring.WithTokenizer(tok))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := s.Append(context.Background(), "c", chatring.Message{Role: chatring.User, Content: "in flight"})
		done <- err
	}()
	<-tok.entered
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := s.Close(short); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 calls still in flight") {
		t.Errorf("Close with an Append in flight = %v, want DeadlineExceeded and 1 call in flight", err)
	}
	if _, err := s.Append(t.Context(), "c", chatring.Message{Role: chatring.User, Content: "late"}); !errors.Is(err, chatring.ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	close(tok.release)
	if err := <-done; err != nil {
		t.Errorf("the Append in flight failed: %v", err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("Close after the Append returned: %v", err)
	}
	msgs, err := s.Messages(t.Context(), "c", nil)
	if err != nil || len(msgs) != 1 || msgs[0].Content != "in flight" {
		t.Errorf("after Close, Messages = %v, %v; want the Append that was in flight", brief(msgs), err)
	}
}

// TestMemoryStoreHeldBytes checks StoreStats.HeldBytes against the heap
// the store holds, measured with runtime.ReadMemStats after a collection,
// on every backend and for conversations of several shapes: the estimate
// must be within 25% of it, the bound its doc comment promises, both
// once the conversations are written and after half of them are deleted
// (the running total gives back what they held, as the heap does).
func TestMemoryStoreHeldBytes(t *testing.T) {
	const convs = 5000
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	shapes := []struct {
		name     string
		maxTurns int
		conv     func(i int) string
		messages func(i int) []chatring.Message
	}{
		{
			// Default windows, some wrapped around, some with a prompt.
			"default", 0,
			func(i int) string { return fmt.Sprint("conv-", i) },
			func(i int) []chatring.Message {
				var ms []chatring.Message
				for j := range 20 + i%7 {
					ms = append(ms, chatring.Message{Role: chatring.User, Content: strings.Repeat("x", 20+(i+j)%100)})
				}
				return ms
			},
		},
		{
			// Windows of two short messages: the conversation ID (250
			// bytes) is a large part of what a conversation holds.
			"long conversation IDs", 1,
			func(i int) string { return fmt.Sprintf("%0250d", i) },
			func(i int) []chatring.Message {
				return []chatring.Message{{Role: chatring.User, Content: "hello"}, {Role: chatring.Assistant, Content: "hi"}}
			},
		},
		{
			"IDs and names", 0,
			func(i int) string { return fmt.Sprint("conv-", i) },
			func(i int) []chatring.Message {
				var ms []chatring.Message
				for j := range 20 {
					ms = append(ms, chatring.Message{Role: chatring.User, Content: strings.Repeat("x", 40),
						ID: fmt.Sprintf("%036d", i*100+j), Name: fmt.Sprint("user-", j)})
				}
				return ms
			},
		},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, backend string) {
				base := heap()
				s, err := chatring.NewMemoryStore(chatring.Config{Backend: backend, MaxTurns: sh.maxTurns, MaxConversations: convs})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close(t.Context())
				for i := range convs {
					conv := sh.conv(i)
					if i%10 == 0 {
						if err := s.SetSystemPrompt(t.Context(), conv, strings.Repeat("p", 200)); err != nil {
							t.Fatal(err)
						}
					}
					for _, m := range sh.messages(i) { // a new string each
						if _, err := s.Append(t.Context(), conv, m); err != nil {
							t.Fatal(err)
						}
					}
				}
				held := float64(heap() - base)
				est := float64(s.Stats().HeldBytes)
				t.Logf("%s: %d conversations, heap %.0f B/conv, estimate %.0f B/conv (%.2f×)", backend, convs, held/convs, est/convs, est/held)
				if est < 0.75*held || est > 1.25*held {
					t.Errorf("HeldBytes = %.0f, measured heap %.0f: off by more than 25%%", est, held)
				}
				// Delete every other conversation: the estimate follows
				// the heap they leave.
				for i := 0; i < convs; i += 2 {
					if err := s.Delete(t.Context(), sh.conv(i)); err != nil {
						t.Fatal(err)
					}
				}
				held = float64(heap() - base)
				est = float64(s.Stats().HeldBytes)
				t.Logf("%s: after deleting half, heap %.0f B/conv, estimate %.0f B/conv (%.2f×)", backend, 2*held/convs, 2*est/convs, est/held)
				if est < 0.75*held || est > 1.25*held {
					t.Errorf("after deleting half the conversations, HeldBytes = %.0f, measured heap %.0f: off by more than 25%%", est, held)
				}
				runtime.KeepAlive(s)
			})
		})
	}
}

// TestMemoryStoreSetSystemPromptRacingDelete: a SetSystemPrompt that finds
// its conversation removed under it (here by Delete) retries on the new
// one; nothing was rejected, so Stats counts no rejection. It counted one
// "closed" rejection per lost race (86 in 200 000 calls) and logged each
// at Warn, on a store that was never closed.
func TestMemoryStoreSetSystemPromptRacingDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		s := newStore(t, chatring.Config{Backend: backend})
		ctx := t.Context()
		var done atomic.Bool
		var wg sync.WaitGroup
		wg.Go(func() {
			for !done.Load() {
				if err := s.Delete(ctx, "c"); err != nil {
					t.Error(err)
					return
				}
			}
		})
		for i := range 50_000 {
			prompt := ""
			if i%2 == 0 {
				prompt = fmt.Sprint("prompt ", i)
			}
			if err := s.SetSystemPrompt(ctx, "c", prompt); err != nil {
				t.Errorf("SetSystemPrompt: %v", err)
				break
			}
		}
		done.Store(true)
		wg.Wait()
		if st := s.Stats(); st.Rejected != 0 {
			t.Errorf("no call was rejected, but Stats.Rejected = %d (%v); %d conversations deleted",
				st.Rejected, st.RejectedByReason, st.Deleted)
		}
	})
}

// TestMemoryStoreAllocatesAsHistory: on an existing conversation, a
// MemoryStore's Append (without an ID) and Messages (into a dst with room)
// allocate no more than History's, on every backend: the target
// is at most one allocation more, and the lookup, the gate and the size
// tracking allocate nothing.
func TestMemoryStoreAllocatesAsHistory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		cfg := chatring.Config{Backend: backend}
		s := newStore(t, cfg)
		h := newHistory(t, cfg)
		ctx := t.Context()
		m := chatring.Message{Role: chatring.User, Content: "hello"}
		if _, err := s.Append(ctx, "c", m); err != nil {
			t.Fatal(err)
		}
		dst := make([]chatring.Message, 0, 2*chatring.DefaultMaxTurns)
		for _, op := range []struct {
			name           string
			store, history func()
		}{
			{"Append", func() { s.Append(ctx, "c", m) }, func() { h.Append(ctx, m) }},
			{"Messages", func() { s.Messages(ctx, "c", dst[:0]) }, func() { h.Messages(ctx, dst[:0]) }},
		} {
			st, hi := testing.AllocsPerRun(200, op.store), testing.AllocsPerRun(200, op.history)
			if st > hi {
				t.Errorf("%s allocates %.1f times per call in a MemoryStore, %.1f in a History", op.name, st, hi)
			}
		}
	})
}

// TestMemoryStoreCountsUnderChurn runs every write and read over 200
// conversations in a store bounded at 50 with a 20ms idle TTL, so that
// Delete, expiry and eviction race with Append (with and without IDs),
// SetSystemPrompt and Clear. No call fails, Len never goes negative, and
// once everything has expired the counters add up: created = deleted +
// evicted for capacity + idle, with nothing left and no bytes held.
func TestMemoryStoreCountsUnderChurn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		s := newStore(t, chatring.Config{Backend: backend, MaxConversations: 50, IdleTTL: 20 * time.Millisecond, MaxTurns: 1})
		ctx := t.Context()
		var done atomic.Bool
		var negative atomic.Int64
		var watch sync.WaitGroup
		watch.Go(func() {
			for !done.Load() {
				if n := s.Len(); n < 0 {
					negative.Store(int64(n))
				}
				runtime.Gosched()
			}
		})
		var workers sync.WaitGroup
		for g := range 4 {
			workers.Go(func() {
				for i := range 5000 {
					conv := fmt.Sprint("c", (i*7+g*13)%200)
					var err error
					switch i % 6 {
					case 0:
						err = s.Delete(ctx, conv)
					case 1:
						err = s.SetSystemPrompt(ctx, conv, "prompt")
					case 2:
						err = s.Clear(ctx, conv)
					case 3:
						_, err = s.Messages(ctx, conv, nil)
					default:
						m := chatring.Message{Role: chatring.User, Content: "x"}
						if i%2 == 0 {
							m.ID = fmt.Sprint(i % 7)
						}
						_, err = s.Append(ctx, conv, m)
					}
					if err != nil {
						t.Errorf("call %d on %s: %v", i, conv, err)
						return
					}
					if i%500 == 0 {
						time.Sleep(time.Millisecond)
					}
				}
			})
		}
		workers.Wait()
		deadline := time.Now().Add(20 * time.Second)
		for s.Len() != 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // otter cleans up expired entries every second
		}
		done.Store(true)
		watch.Wait()
		st := s.Stats()
		removed := st.Deleted + st.EvictedByReason["capacity"] + st.EvictedByReason["idle"]
		if s.Len() != 0 || st.Created != removed || negative.Load() != 0 {
			t.Errorf("Len %d (lowest negative seen %d); created %d, removed %d (deleted %d, evicted %v)",
				s.Len(), negative.Load(), st.Created, removed, st.Deleted, st.EvictedByReason)
		}
		if st.Conversations != 0 || st.HeldBytes != 0 {
			t.Errorf("nothing left, but Stats says %d conversations holding %d bytes", st.Conversations, st.HeldBytes)
		}
		if st.Rejected != 0 {
			t.Errorf("no call was rejected, but Stats.Rejected = %d (%v)", st.Rejected, st.RejectedByReason)
		}
	})
}

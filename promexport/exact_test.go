package promexport_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/promexport"
	"github.com/chatring/chatring/promexport/internal/promtest"
)

// tally is what the workers of TestMemoryStoreCountsExact did, counted
// from the results of their calls.
type tally struct {
	byRole          [4]atomic.Uint64 // Appends without ID that succeeded
	bytes, tokens   atomic.Uint64    // of those
	idAppends       atomic.Uint64    // Appends with an ID that succeeded (stored or deduplicated)
	rejected        sync.Map         // reason -> *atomic.Uint64
	clears, deletes atomic.Uint64
}

func (t *tally) reject(reason string) {
	n, _ := t.rejected.LoadOrStore(reason, new(atomic.Uint64))
	n.(*atomic.Uint64).Add(1)
}

// TestMemoryStoreCountsExact drives a MemoryStore from 8 goroutines with
// appends of every role and of known sizes, appends with IDs that are
// retried (deduplicated while in the window), every kind of rejection,
// Clears, Deletes, SetSystemPrompt, over more conversations than the
// store may hold and with a short idle TTL, while another goroutine
// scrapes; under -race. The scrapes never see a counter go down, and
// once the calls have returned the exposition is exactly what the calls
// did: appended by role, bytes and tokens (the deduplicated appends'
// share taken out), rejections by reason, and every conversation created
// accounted for (deleted, evicted for capacity or idleness, or live).
func TestMemoryStoreCountsExact(t *testing.T) {
	for _, backend := range chatring.Backends() {
		t.Run("backend="+backend, func(t *testing.T) {
			s, err := chatring.NewMemoryStore(chatring.Config{Backend: backend, MaxTurns: 2, MaxConversations: 30,
				IdleTTL: 50 * time.Millisecond, MaxMessageBytes: 64}, chatring.WithTokenizer(words))
			if err != nil {
				t.Fatal(err)
			}
			c := promexport.NewMemoryStoreCollector(s)
			ctx := t.Context()
			canceled, cancel := context.WithCancel(ctx)
			cancel()
			roles := []chatring.Role{chatring.System, chatring.User, chatring.Assistant, chatring.Tool}
			const dup = "the same three" // every message with an ID: 14 bytes, 3 tokens
			var tl tally
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 1500 {
						conv := fmt.Sprint("c", (i*7+g*31)%90)
						var err error
						switch k := (i + g) % 20; k {
						case 0, 1, 2, 3, 4, 5, 6, 7:
							r := (i + g) % 4
							m := chatring.Message{Role: roles[r], Content: strings.Repeat("w ", 1+i%20)}
							tokens := uint64(1 + i%20)
							if roles[r] == chatring.Tool {
								m.ToolCallID = "call"
								tokens++ // the tool call ID's word
							}
							if _, err = s.Append(ctx, conv, m); err == nil {
								tl.byRole[r].Add(1)
								tl.bytes.Add(uint64(len(m.Content) + len(m.ToolCallID)))
								tl.tokens.Add(tokens)
							}
						case 8, 9, 10:
							// A retry of an append, often while the first is in the window.
							_, err = s.Append(ctx, conv, chatring.Message{Role: chatring.User, Content: dup, ID: fmt.Sprint("id", i/4%3)})
							if err == nil {
								tl.idAppends.Add(1)
							}
						case 11:
							bad := []struct {
								ctx    context.Context
								conv   string
								m      chatring.Message
								reason string
							}{
								{ctx, conv, chatring.Message{Role: "robot", Content: "x"}, "invalid_role"},
								{ctx, conv, chatring.Message{Role: chatring.User, Content: " \n"}, "empty_content"},
								{ctx, conv, chatring.Message{Role: chatring.User, Content: strings.Repeat("x", 65)}, "message_too_large"},
								{ctx, conv, chatring.Message{Role: chatring.User, Content: "a\x00b"}, "invalid_content"},
								{ctx, "", chatring.Message{Role: chatring.User, Content: "x"}, "invalid_conversation"},
								{canceled, conv, chatring.Message{Role: chatring.User, Content: "x"}, "canceled"},
								{ctx, conv, chatring.Message{Role: chatring.Tool, Content: "x"}, "invalid_tool_call"},
							}[i/20%7]
							if _, err := s.Append(bad.ctx, bad.conv, bad.m); err == nil {
								t.Errorf("%s: Append accepted it", bad.reason)
								return
							} else if got := chatring.RejectionReason(err); got != bad.reason {
								t.Errorf("%s: rejected as %s (%v)", bad.reason, got, err)
								return
							}
							tl.reject(bad.reason)
						case 12, 13:
							err = s.Clear(ctx, conv)
							tl.clears.Add(1)
						case 14:
							err = s.Delete(ctx, conv)
							tl.deletes.Add(1)
						case 15:
							err = s.SetSystemPrompt(ctx, conv, strings.Repeat("p", 1+i%60))
						case 16:
							if err = s.SetSystemPrompt(ctx, conv, strings.Repeat("p", 65)); err != nil {
								tl.reject("message_too_large")
								err = nil
							} else {
								t.Error("SetSystemPrompt accepted a prompt over max_message_bytes")
							}
						case 17:
							err = s.SetSystemPrompt(ctx, conv, "")
						default:
							_, err = s.Messages(ctx, conv, nil)
						}
						if err != nil {
							t.Errorf("call %d on %s: %v", i, conv, err)
							return
						}
					}
				})
			}
			done := make(chan struct{})
			var scraper sync.WaitGroup
			scraper.Go(func() {
				last := promtest.Counters(t, c)
				for {
					select {
					case <-done:
						return
					default:
					}
					now := promtest.Counters(t, c)
					promtest.Monotonic(t, last, now)
					last = now
				}
			})
			wg.Wait()
			close(done)
			scraper.Wait()
			if err := s.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(ctx, "c1", chatring.Message{Role: chatring.User, Content: "late"}); err == nil {
				t.Fatal("Append after Close succeeded")
			}
			tl.reject("closed")

			get := func(name string, labels map[string]string) uint64 {
				return uint64(promtest.Sample(t, c, name, labels))
			}
			var stored uint64
			for r, role := range roles {
				want := tl.byRole[r].Load()
				got := get("chatring_messages_appended_total", map[string]string{"role": string(role)})
				if role == chatring.User {
					stored = got - want // the appends with IDs that were not deduplicated
				} else if got != want {
					t.Errorf("appended{role=%s} = %d, want %d", role, got, want)
				}
			}
			dedup := get("chatring_messages_deduplicated_total", nil)
			if stored+dedup != tl.idAppends.Load() || stored > tl.idAppends.Load() {
				t.Errorf("appends with an ID: %d stored (user appends beyond those without ID) + %d deduplicated, want %d in all",
					int64(stored), dedup, tl.idAppends.Load())
			}
			if dedup == 0 || stored == 0 {
				t.Errorf("the workload should both store and deduplicate appends with IDs: stored %d, deduplicated %d", stored, dedup)
			}
			if got, want := get("chatring_appended_bytes_total", nil), tl.bytes.Load()+stored*uint64(len(dup)); got != want {
				t.Errorf("appended bytes = %d, want %d", got, want)
			}
			if got, want := get("chatring_appended_tokens_total", nil), tl.tokens.Load()+stored*3; got != want {
				t.Errorf("appended tokens = %d, want %d", got, want)
			}
			for _, reason := range promexport.RejectionReasons() {
				var want uint64
				if n, ok := tl.rejected.Load(reason); ok {
					want = n.(*atomic.Uint64).Load()
				}
				if got := get("chatring_messages_rejected_total", map[string]string{"reason": reason}); got != want {
					t.Errorf("rejected{reason=%s} = %d, want %d", reason, got, want)
				}
			}
			created := get("chatring_conversations_created_total", nil)
			deleted := get("chatring_conversations_deleted_total", nil)
			capacity := get("chatring_conversations_evicted_total", map[string]string{"reason": "capacity"})
			idle := get("chatring_conversations_evicted_total", map[string]string{"reason": "idle"})
			live := get("chatring_conversations", nil)
			if created != deleted+capacity+idle+live {
				t.Errorf("created %d != deleted %d + evicted for capacity %d + idle %d + live %d",
					created, deleted, capacity, idle, live)
			}
			if deleted > tl.deletes.Load() || deleted == 0 || capacity == 0 {
				t.Errorf("deleted %d (of %d Deletes), evicted for capacity %d: the workload should do both",
					deleted, tl.deletes.Load(), capacity)
			}
			if clears := get("chatring_clears_total", nil); clears > tl.clears.Load() || clears == 0 {
				t.Errorf("clears_total %d, after %d Clear calls", clears, tl.clears.Load())
			}
		})
	}
}

package promexport_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/promexport"
	"github.com/chatring/chatring/promexport/internal/promtest"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// words counts white-space separated words: a tokenizer whose counts the
// expected expositions can state.
var words = chatring.TokenizerFunc(func(s string) int { return len(strings.Fields(s)) })

// mustAppend appends m to h and fails the test on an error.
func mustAppend(t *testing.T, h *chatring.History, m chatring.Message) {
	t.Helper()
	if _, err := h.Append(t.Context(), m); err != nil {
		t.Fatalf("Append(%q): %v", m.Content, err)
	}
}

// TestHistoryCollector pins the whole exposition of a History that went
// through every kind of event, on every backend.
func TestHistoryCollector(t *testing.T) {
	for _, backend := range chatring.Backends() {
		t.Run("backend="+backend, func(t *testing.T) {
			h, err := chatring.New(chatring.Config{Backend: backend, MaxTurns: 2, MaxMessageBytes: 64},
				chatring.WithTokenizer(words))
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if err := h.SetSystemPrompt("be brief"); err != nil { // 8 bytes, 2 tokens
				t.Fatal(err)
			}
			for _, m := range []chatring.Message{
				{Role: chatring.User, Content: "hello there"},          // seq 1: 11 bytes, 2 tokens; evicted by seq 5
				{Role: chatring.Assistant, Content: "hi"},              // seq 2: 2, 1
				{Role: chatring.User, Content: "one two three"},        // seq 3: 13, 3
				{Role: chatring.Assistant, Content: "ok", Name: "bot"}, // seq 4: 2+3, 1
				{Role: chatring.User, Content: "again"},                // seq 5: 5, 1
			} {
				mustAppend(t, h, m)
			}
			if err := h.Clear(ctx); err != nil { // clears seq 2 to 5
				t.Fatal(err)
			}
			mustAppend(t, h, chatring.Message{Role: chatring.User, Content: "after clear", ID: "q1"})              // seq 6: 11, 2
			mustAppend(t, h, chatring.Message{Role: chatring.User, Content: "after clear", ID: "q1"})              // deduplicated
			mustAppend(t, h, chatring.Message{Role: chatring.Tool, Content: "42", Name: "calc", ToolCallID: "c1"}) // seq 7: 2+4+2, 1+1

			canceled, cancel := context.WithCancel(ctx)
			cancel()
			for _, bad := range []struct {
				ctx context.Context
				m   chatring.Message
			}{
				{ctx, chatring.Message{Role: "robot", Content: "x"}},
				{ctx, chatring.Message{Role: chatring.User, Content: "  "}},
				{ctx, chatring.Message{Role: chatring.User, Content: strings.Repeat("x", 65)}},
				{ctx, chatring.Message{Role: chatring.User, Content: "a\x00b"}},
				{canceled, chatring.Message{Role: chatring.User, Content: "late"}},
			} {
				if _, err := h.Append(bad.ctx, bad.m); err == nil {
					t.Fatalf("Append(%q, role %q) succeeded, want a rejection", bad.m.Content, bad.m.Role)
				}
			}
			h.Close()
			if _, err := h.Append(ctx, chatring.Message{Role: chatring.User, Content: "closed"}); err == nil {
				t.Fatal("Append after Close succeeded")
			}

			want := fmt.Sprintf(`
# HELP chatring_appended_bytes_total Content, name and tool call bytes of the messages accepted by Append.
# TYPE chatring_appended_bytes_total counter
chatring_appended_bytes_total 55
# HELP chatring_appended_tokens_total Tokens of the messages accepted by Append.
# TYPE chatring_appended_tokens_total counter
chatring_appended_tokens_total 12
# HELP chatring_backend_info Always 1; the backend label names the ring that holds each window.
# TYPE chatring_backend_info gauge
chatring_backend_info{backend=%q} 1
# HELP chatring_closed 1 once Close was called, else 0.
# TYPE chatring_closed gauge
chatring_closed 1
# HELP chatring_messages_appended_total Messages accepted by Append, by role.
# TYPE chatring_messages_appended_total counter
chatring_messages_appended_total{role="assistant"} 2
chatring_messages_appended_total{role="system"} 0
chatring_messages_appended_total{role="tool"} 1
chatring_messages_appended_total{role="user"} 4
# HELP chatring_messages_cleared_total Messages removed from the window by Clear.
# TYPE chatring_messages_cleared_total counter
chatring_messages_cleared_total 4
# HELP chatring_messages_deduplicated_total Appends that stored nothing because a message with their ID was in the window.
# TYPE chatring_messages_deduplicated_total counter
chatring_messages_deduplicated_total 1
# HELP chatring_messages_evicted_total Messages pushed out of the window by newer ones.
# TYPE chatring_messages_evicted_total counter
chatring_messages_evicted_total 1
# HELP chatring_messages_rejected_total Rejected writes (invalid input, writes after Close, canceled contexts), by reason.
# TYPE chatring_messages_rejected_total counter
chatring_messages_rejected_total{reason="canceled"} 1
chatring_messages_rejected_total{reason="closed"} 1
chatring_messages_rejected_total{reason="empty_content"} 1
chatring_messages_rejected_total{reason="invalid_content"} 1
chatring_messages_rejected_total{reason="invalid_conversation"} 0
chatring_messages_rejected_total{reason="invalid_role"} 1
chatring_messages_rejected_total{reason="invalid_tool_call"} 0
chatring_messages_rejected_total{reason="message_too_large"} 1
chatring_messages_rejected_total{reason="other"} 0
# HELP chatring_system_prompt_bytes Bytes of the pinned system prompt, 0 when none is set.
# TYPE chatring_system_prompt_bytes gauge
chatring_system_prompt_bytes 8
# HELP chatring_system_prompt_tokens Tokens of the pinned system prompt, 0 when none is set.
# TYPE chatring_system_prompt_tokens gauge
chatring_system_prompt_tokens 2
# HELP chatring_window_bytes Content, name and tool call bytes of the messages in the window.
# TYPE chatring_window_bytes gauge
chatring_window_bytes 19
# HELP chatring_window_capacity_messages Messages a window keeps: 2 x max_turns.
# TYPE chatring_window_capacity_messages gauge
chatring_window_capacity_messages 4
# HELP chatring_window_messages Messages in the window, without the pinned system prompt.
# TYPE chatring_window_messages gauge
chatring_window_messages 2
# HELP chatring_window_tokens Tokens of the messages in the window.
# TYPE chatring_window_tokens gauge
chatring_window_tokens 4
`, backend)
			if err := testutil.CollectAndCompare(promexport.NewHistoryCollector(h), strings.NewReader(want)); err != nil {
				t.Error(err)
			}
		})
	}
}

// fixedStore is a MemoryStoreSource that reports fixed StoreStats.
type fixedStore chatring.StoreStats

func (f fixedStore) Stats() chatring.StoreStats { return chatring.StoreStats(f) }

// TestMemoryStoreCollector pins the whole exposition of StoreStats,
// including a rejection reason and an eviction reason that this package
// does not know (a future chatring's), which are exported from their
// first occurrence.
func TestMemoryStoreCollector(t *testing.T) {
	src := fixedStore{
		Backend: "lockfree", Capacity: 20, Conversations: 7, MaxConversations: 1000,
		Created: 12, Deleted: 2,
		EvictedByReason: map[string]uint64{"capacity": 2, "idle": 1, "pressure": 5},
		Appended:        30,
		ByRole:          map[chatring.Role]uint64{chatring.System: 1, chatring.User: 15, chatring.Assistant: 13, chatring.Tool: 1},
		Deduplicated:    3, Rejected: 6,
		RejectedByReason: map[string]uint64{"invalid_conversation": 2, "message_too_large": 3, "quota": 1},
		AppendedBytes:    4096, AppendedTokens: 1024,
		Clears: 4, HeldBytes: 123456, Uptime: time.Hour, Closed: false,
	}
	want := `
# HELP chatring_appended_bytes_total Content, name and tool call bytes of the messages accepted by Append.
# TYPE chatring_appended_bytes_total counter
chatring_appended_bytes_total{store="sessions"} 4096
# HELP chatring_appended_tokens_total Tokens of the messages accepted by Append.
# TYPE chatring_appended_tokens_total counter
chatring_appended_tokens_total{store="sessions"} 1024
# HELP chatring_backend_info Always 1; the backend label names the ring that holds each window.
# TYPE chatring_backend_info gauge
chatring_backend_info{backend="lockfree",store="sessions"} 1
# HELP chatring_clears_total Clear calls on existing conversations.
# TYPE chatring_clears_total counter
chatring_clears_total{store="sessions"} 4
# HELP chatring_closed 1 once Close was called, else 0.
# TYPE chatring_closed gauge
chatring_closed{store="sessions"} 0
# HELP chatring_conversations Conversations the store holds.
# TYPE chatring_conversations gauge
chatring_conversations{store="sessions"} 7
# HELP chatring_conversations_created_total Conversations created by a first write.
# TYPE chatring_conversations_created_total counter
chatring_conversations_created_total{store="sessions"} 12
# HELP chatring_conversations_deleted_total Conversations removed by Delete.
# TYPE chatring_conversations_deleted_total counter
chatring_conversations_deleted_total{store="sessions"} 2
# HELP chatring_conversations_evicted_total Conversations removed by the store itself: reason capacity (max_conversations) or idle (idle_ttl).
# TYPE chatring_conversations_evicted_total counter
chatring_conversations_evicted_total{reason="capacity",store="sessions"} 2
chatring_conversations_evicted_total{reason="idle",store="sessions"} 1
chatring_conversations_evicted_total{reason="pressure",store="sessions"} 5
# HELP chatring_held_bytes Estimated heap bytes the conversations hold (rings, message strings, bookkeeping).
# TYPE chatring_held_bytes gauge
chatring_held_bytes{store="sessions"} 123456
# HELP chatring_max_conversations The store's bound on conversations (max_conversations); beyond it the store evicts one.
# TYPE chatring_max_conversations gauge
chatring_max_conversations{store="sessions"} 1000
# HELP chatring_messages_appended_total Messages accepted by Append, by role.
# TYPE chatring_messages_appended_total counter
chatring_messages_appended_total{role="assistant",store="sessions"} 13
chatring_messages_appended_total{role="system",store="sessions"} 1
chatring_messages_appended_total{role="tool",store="sessions"} 1
chatring_messages_appended_total{role="user",store="sessions"} 15
# HELP chatring_messages_deduplicated_total Appends that stored nothing because a message with their ID was in the window.
# TYPE chatring_messages_deduplicated_total counter
chatring_messages_deduplicated_total{store="sessions"} 3
# HELP chatring_messages_rejected_total Rejected writes (invalid input, writes after Close, canceled contexts), by reason.
# TYPE chatring_messages_rejected_total counter
chatring_messages_rejected_total{reason="canceled",store="sessions"} 0
chatring_messages_rejected_total{reason="closed",store="sessions"} 0
chatring_messages_rejected_total{reason="empty_content",store="sessions"} 0
chatring_messages_rejected_total{reason="invalid_content",store="sessions"} 0
chatring_messages_rejected_total{reason="invalid_conversation",store="sessions"} 2
chatring_messages_rejected_total{reason="invalid_role",store="sessions"} 0
chatring_messages_rejected_total{reason="invalid_tool_call",store="sessions"} 0
chatring_messages_rejected_total{reason="message_too_large",store="sessions"} 3
chatring_messages_rejected_total{reason="other",store="sessions"} 0
chatring_messages_rejected_total{reason="quota",store="sessions"} 1
# HELP chatring_window_capacity_messages Messages a window keeps: 2 x max_turns.
# TYPE chatring_window_capacity_messages gauge
chatring_window_capacity_messages{store="sessions"} 20
`
	c := promexport.NewMemoryStoreCollector(src, promexport.WithConstLabels(prometheus.Labels{"store": "sessions"}))
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// rejections is a RejectionSource that reports fixed counts.
type rejections map[string]uint64

func (r rejections) RejectedByReason() map[string]uint64 { return maps.Clone(r) }

// TestWithRejectionsOf pins chatring_messages_rejected_total of a store
// with two fronts: each reason is the sum of the three sources, a reason
// only a front knows is exported from its first occurrence, and the
// store's own Stats map is left as it was.
func TestWithRejectionsOf(t *testing.T) {
	src := fixedStore{RejectedByReason: map[string]uint64{"invalid_role": 2, "quota": 1}}
	c := promexport.NewMemoryStoreCollector(src,
		promexport.WithRejectionsOf(rejections{"invalid_role": 1, "closed": 3}),
		promexport.WithRejectionsOf(rejections{"invalid_role": 4, "canceled": 5, "throttled": 6}))
	const want = `
# HELP chatring_messages_rejected_total Rejected writes (invalid input, writes after Close, canceled contexts), by reason.
# TYPE chatring_messages_rejected_total counter
chatring_messages_rejected_total{reason="canceled"} 5
chatring_messages_rejected_total{reason="closed"} 3
chatring_messages_rejected_total{reason="empty_content"} 0
chatring_messages_rejected_total{reason="invalid_content"} 0
chatring_messages_rejected_total{reason="invalid_conversation"} 0
chatring_messages_rejected_total{reason="invalid_role"} 7
chatring_messages_rejected_total{reason="invalid_tool_call"} 0
chatring_messages_rejected_total{reason="message_too_large"} 0
chatring_messages_rejected_total{reason="other"} 0
chatring_messages_rejected_total{reason="quota"} 1
chatring_messages_rejected_total{reason="throttled"} 6
`
	for range 2 { // the sums do not accumulate from one scrape to the next
		if err := testutil.CollectAndCompare(c, strings.NewReader(want), "chatring_messages_rejected_total"); err != nil {
			t.Error(err)
		}
	}
	if diff := cmp.Diff(map[string]uint64{"invalid_role": 2, "quota": 1}, src.RejectedByReason); diff != "" {
		t.Errorf("the store's Stats map changed (-want +got):\n%s", diff)
	}
	// A store with no rejection map of its own (a zero Stats) still
	// gets its fronts'.
	c = promexport.NewMemoryStoreCollector(fixedStore{}, promexport.WithRejectionsOf(rejections{"closed": 2}))
	if got := promtest.Sample(t, c, "chatring_messages_rejected_total", map[string]string{"reason": "closed"}); got != 2 {
		t.Errorf("chatring_messages_rejected_total{reason=closed} = %v, want 2", got)
	}
}

// TestMemoryStoreCollectorCounts checks the exported values against the
// calls made on a real MemoryStore.
func TestMemoryStoreCollectorCounts(t *testing.T) {
	s, err := chatring.NewMemoryStore(chatring.Config{MaxTurns: 1, MaxConversations: 500}, chatring.WithTokenizer(words))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const convs, perConv = 40, 5
	for c := range convs {
		for i := range perConv {
			role := chatring.User
			if i%2 == 1 {
				role = chatring.Assistant
			}
			if _, err := s.Append(ctx, fmt.Sprintf("conv %d", c), chatring.Message{Role: role, Content: "two words"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for c := range 10 {
		if err := s.Delete(ctx, fmt.Sprintf("conv %d", c)); err != nil {
			t.Fatal(err)
		}
	}
	for c := 10; c < 13; c++ {
		if err := s.Clear(ctx, fmt.Sprintf("conv %d", c)); err != nil {
			t.Fatal(err)
		}
	}
	s.Append(ctx, "", chatring.Message{Role: chatring.User, Content: "x"})        // invalid_conversation
	s.Append(ctx, "conv 0", chatring.Message{Role: chatring.User, Content: "\t"}) // empty_content
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s.Append(ctx, "conv 1", chatring.Message{Role: chatring.User, Content: "late"}) // closed

	c := promexport.NewMemoryStoreCollector(s)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"chatring_messages_appended_total", map[string]string{"role": "user"}, convs * 3},
		{"chatring_messages_appended_total", map[string]string{"role": "assistant"}, convs * 2},
		{"chatring_appended_bytes_total", nil, convs * perConv * float64(len("two words"))},
		{"chatring_appended_tokens_total", nil, convs * perConv * 2},
		{"chatring_messages_rejected_total", map[string]string{"reason": "invalid_conversation"}, 1},
		{"chatring_messages_rejected_total", map[string]string{"reason": "empty_content"}, 1},
		{"chatring_messages_rejected_total", map[string]string{"reason": "closed"}, 1},
		{"chatring_conversations", nil, convs - 10},
		{"chatring_max_conversations", nil, 500},
		{"chatring_conversations_created_total", nil, convs},
		{"chatring_conversations_deleted_total", nil, 10},
		{"chatring_conversations_evicted_total", map[string]string{"reason": "capacity"}, 0},
		{"chatring_clears_total", nil, 3},
		{"chatring_window_capacity_messages", nil, 2},
		{"chatring_closed", nil, 1},
		{"chatring_held_bytes", nil, float64(s.Stats().HeldBytes)},
	} {
		if got := promtest.Sample(t, c, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if held := promtest.Sample(t, c, "chatring_held_bytes", nil); held <= 0 {
		t.Errorf("chatring_held_bytes = %v with %d conversations, want > 0", held, convs-10)
	}
}

// TestRejectionReasons checks that every reason chatring reports for the
// rejections a caller can cause is in RejectionReasons, so that each is
// exported at 0 before its first occurrence.
func TestRejectionReasons(t *testing.T) {
	s, err := chatring.NewMemoryStore(chatring.Config{MaxMessageBytes: 8})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	s.Append(ctx, "c", chatring.Message{Role: "robot", Content: "x"})
	s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: " "})
	s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "123456789"})
	s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "\x01"})
	s.Append(ctx, "", chatring.Message{Role: chatring.User, Content: "x"})
	s.Append(canceled, "c", chatring.Message{Role: chatring.User, Content: "x"})
	s.Close(ctx)
	s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "x"})
	got := s.Stats().RejectedByReason
	if len(got) != 7 {
		t.Errorf("RejectedByReason = %v, want 7 reasons", got)
	}
	for reason := range got {
		found := false
		for _, r := range promexport.RejectionReasons() {
			found = found || r == reason
		}
		if !found {
			t.Errorf("reason %q is not in RejectionReasons() %v", reason, promexport.RejectionReasons())
		}
	}
}

// newSources returns a History and a MemoryStore with the default Config;
// the store is closed when the test ends.
func newSources(t *testing.T) (*chatring.History, *chatring.MemoryStore) {
	t.Helper()
	h, err := chatring.New(chatring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := chatring.NewMemoryStore(chatring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return h, s
}

// TestLint runs promlint over both collectors' expositions.
func TestLint(t *testing.T) {
	h, s := newSources(t)
	promtest.Lint(t, promexport.NewHistoryCollector(h))
	promtest.Lint(t, promexport.NewMemoryStoreCollector(s))
}

// TestOneRegistry registers a History's and a store's collectors in one
// pedantic registry: with distinct constant labels they coexist (the
// shared names have the same help and labels); without, the second is
// refused at Register rather than failing every scrape.
func TestOneRegistry(t *testing.T) {
	h, s := newSources(t)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(promexport.NewHistoryCollector(h, promexport.WithConstLabels(prometheus.Labels{"store": "cli"})))
	reg.MustRegister(promexport.NewMemoryStoreCollector(s, promexport.WithConstLabels(prometheus.Labels{"store": "sessions"})))
	if _, err := reg.Gather(); err != nil {
		t.Errorf("Gather: %v", err)
	}
	reg = prometheus.NewPedanticRegistry()
	reg.MustRegister(promexport.NewHistoryCollector(h))
	if err := reg.Register(promexport.NewMemoryStoreCollector(s)); err == nil {
		t.Error("Register accepted a second collector with the same metrics and no distinguishing labels")
	}
	// Distinct label names are refused too: the shared metric names must
	// have the same label names in one registry.
	reg = prometheus.NewPedanticRegistry()
	reg.MustRegister(promexport.NewHistoryCollector(h, promexport.WithConstLabels(prometheus.Labels{"history": "cli"})))
	if err := reg.Register(promexport.NewMemoryStoreCollector(s, promexport.WithConstLabels(prometheus.Labels{"store": "sessions"}))); err == nil {
		t.Error("Register accepted collectors whose constant labels have different names")
	}
}

// TestCardinality checks that the number of series does not grow with the
// number of conversations.
func TestCardinality(t *testing.T) {
	count := func(convs int) int {
		s, err := chatring.NewMemoryStore(chatring.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(t.Context())
		for i := range convs {
			if _, err := s.Append(t.Context(), fmt.Sprint("user-", i), chatring.Message{Role: chatring.User, Content: "hi"}); err != nil {
				t.Fatal(err)
			}
		}
		return testutil.CollectAndCount(promexport.NewMemoryStoreCollector(s))
	}
	one, many := count(1), count(5000)
	if one != many {
		t.Errorf("%d series with 1 conversation, %d with 5000", one, many)
	}
	if one == 0 {
		t.Error("no series")
	}
}

// TestScrapeDuringAppends scrapes while appends run (under -race in make
// test) and checks that the counters never decrease between scrapes and
// that the final one counts every append.
func TestScrapeDuringAppends(t *testing.T) {
	for _, backend := range chatring.Backends() {
		t.Run("backend="+backend, func(t *testing.T) {
			s, err := chatring.NewMemoryStore(chatring.Config{Backend: backend, MaxTurns: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(t.Context())
			c := promexport.NewMemoryStoreCollector(s)
			const writers, each = 4, 500
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						conv := fmt.Sprintf("w%d-%d", w, i%20)
						if _, err := s.Append(t.Context(), conv, chatring.Message{Role: chatring.User, Content: "hi"}); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			var last, lastCreated float64
			for scraping := true; scraping; {
				select {
				case <-done:
					scraping = false
				default:
				}
				n := promtest.Sample(t, c, "chatring_messages_appended_total", map[string]string{"role": "user"})
				created := promtest.Sample(t, c, "chatring_conversations_created_total", nil)
				if n < last || created < lastCreated {
					t.Fatalf("counters went down: appended %v -> %v, created %v -> %v", last, n, lastCreated, created)
				}
				last, lastCreated = n, created
			}
			if last != writers*each {
				t.Errorf("final scrape: appended %v, want %d", last, writers*each)
			}
			if lastCreated != writers*20 {
				t.Errorf("final scrape: created %v, want %d", lastCreated, writers*20)
			}
		})
	}
}

package promredis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/promexport"
	"github.com/chatring/chatring/promexport/internal/promtest"
	"github.com/chatring/chatring/promexport/promredis"
	"github.com/chatring/chatring/promexport/promresilient"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/chatring/chatring/resilient"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
)

// TestStatsExposition pins the exposition of a Redis store's Stats after
// calls on a real redis-server: appends by role, one deduplicated, two
// rejected, then Close.
func TestStatsExposition(t *testing.T) {
	server := redistest.NewServer(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr})
	t.Cleanup(func() { client.Close() })
	s, err := redisstore.New(client, chatring.Config{MaxTurns: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var bytes, tokens int
	for i, m := range []chatring.Message{
		{Role: chatring.User, Content: "hello there", ID: "m1"},
		{Role: chatring.Assistant, Content: "general kenobi"},
		{Role: chatring.User, Content: "hello there", ID: "m1"}, // deduplicated
	} {
		got, err := s.Append(ctx, "c", m)
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq == 3 {
			t.Fatal("the duplicate was stored")
		}
		if i < 2 { // the duplicate returns the stored message: not counted
			bytes += got.Size()
			tokens += got.Tokens
		}
	}
	if _, err := s.Append(ctx, "c", chatring.Message{Role: "robot", Content: "x"}); err == nil {
		t.Fatal("invalid role accepted")
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Clear(ctx, "c"); err == nil {
		t.Fatal("Clear after Close succeeded")
	}

	want := fmt.Sprintf(`
# HELP chatring_appended_bytes_total Content, name and tool call bytes of the messages accepted by Append.
# TYPE chatring_appended_bytes_total counter
chatring_appended_bytes_total{store="sessions"} %d
# HELP chatring_appended_tokens_total Tokens of the messages accepted by Append.
# TYPE chatring_appended_tokens_total counter
chatring_appended_tokens_total{store="sessions"} %d
# HELP chatring_closed 1 once Close was called, else 0.
# TYPE chatring_closed gauge
chatring_closed{store="sessions"} 1
# HELP chatring_messages_appended_total Messages accepted by Append, by role.
# TYPE chatring_messages_appended_total counter
chatring_messages_appended_total{role="assistant",store="sessions"} 1
chatring_messages_appended_total{role="system",store="sessions"} 0
chatring_messages_appended_total{role="tool",store="sessions"} 0
chatring_messages_appended_total{role="user",store="sessions"} 1
# HELP chatring_messages_deduplicated_total Appends that stored nothing because a message with their ID was in the window.
# TYPE chatring_messages_deduplicated_total counter
chatring_messages_deduplicated_total{store="sessions"} 1
# HELP chatring_messages_rejected_total Rejected writes (invalid input, writes after Close, canceled contexts), by reason.
# TYPE chatring_messages_rejected_total counter
chatring_messages_rejected_total{reason="canceled",store="sessions"} 0
chatring_messages_rejected_total{reason="closed",store="sessions"} 1
chatring_messages_rejected_total{reason="empty_content",store="sessions"} 0
chatring_messages_rejected_total{reason="invalid_content",store="sessions"} 0
chatring_messages_rejected_total{reason="invalid_conversation",store="sessions"} 0
chatring_messages_rejected_total{reason="invalid_role",store="sessions"} 1
chatring_messages_rejected_total{reason="invalid_tool_call",store="sessions"} 0
chatring_messages_rejected_total{reason="message_too_large",store="sessions"} 0
chatring_messages_rejected_total{reason="other",store="sessions"} 0
# HELP chatring_window_capacity_messages Messages a window keeps: 2 x max_turns.
# TYPE chatring_window_capacity_messages gauge
chatring_window_capacity_messages{store="sessions"} 4
`, bytes, tokens)
	c := promredis.NewStatsCollector(s, promexport.WithConstLabels(map[string]string{"store": "sessions"}))
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	promtest.Lint(t, c)
}

// TestStatsWithWrapperRejections writes through the resilient wrapper in
// front of a Redis store on a real redis-server, with invalid messages
// the wrapper refuses before calling the store, an Append under a
// canceled ctx, and an invalid prompt that the wrapper passes on and the
// store refuses; the store's Stats collector given the wrapper with
// promexport.WithRejectionsOf exports the sum, each write once, and it
// registers in one registry beside promredis's Observer and
// promresilient's collector, which export no rejection series of their
// own.
func TestStatsWithWrapperRejections(t *testing.T) {
	server := redistest.NewServer(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr})
	t.Cleanup(func() { client.Close() })
	observer := promredis.New()
	primary, err := redisstore.New(client, chatring.Config{}, redisstore.WithObserver(observer))
	if err != nil {
		t.Fatal(err)
	}
	store, err := resilient.New(primary)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(context.Background())
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := store.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "hi"}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		ctx context.Context
		m   chatring.Message
	}{
		{ctx, chatring.Message{Role: "robot", Content: "hi"}},
		{ctx, chatring.Message{Role: "robot", Content: "hi"}},
		{ctx, chatring.Message{Role: chatring.User, Content: " "}},
		{canceled, chatring.Message{Role: chatring.User, Content: "hi"}},
	} {
		if _, err := store.Append(w.ctx, "c", w.m); err == nil {
			t.Fatalf("Append(%+v) succeeded", w.m)
		}
	}
	if err := store.SetSystemPrompt(ctx, "c", "\x00"); err == nil {
		t.Fatal("SetSystemPrompt of an invalid prompt succeeded")
	}
	// Each rejection is counted by the layer that refused it, once.
	if got := primary.Stats().RejectedByReason; !cmp.Equal(got, map[string]uint64{"invalid_content": 1}) {
		t.Errorf("the Redis store counted %v, want the prompt alone", got)
	}

	stats := promredis.NewStatsCollector(primary, promexport.WithRejectionsOf(store))
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(observer); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(stats); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(promresilient.New(store)); err != nil {
		t.Fatalf("promresilient's collector beside the Stats collector: %v", err)
	}
	const want = `
# HELP chatring_messages_rejected_total Rejected writes (invalid input, writes after Close, canceled contexts), by reason.
# TYPE chatring_messages_rejected_total counter
chatring_messages_rejected_total{reason="canceled"} 1
chatring_messages_rejected_total{reason="closed"} 0
chatring_messages_rejected_total{reason="empty_content"} 1
chatring_messages_rejected_total{reason="invalid_content"} 1
chatring_messages_rejected_total{reason="invalid_conversation"} 0
chatring_messages_rejected_total{reason="invalid_role"} 2
chatring_messages_rejected_total{reason="invalid_tool_call"} 0
chatring_messages_rejected_total{reason="message_too_large"} 0
chatring_messages_rejected_total{reason="other"} 0
`
	if err := testutil.CollectAndCompare(stats, strings.NewReader(want), "chatring_messages_rejected_total"); err != nil {
		t.Error(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Errorf("gathering the three collectors: %v", err)
	}
	if got := promtest.Sample(t, stats, "chatring_messages_appended_total", map[string]string{"role": "user"}); got != 1 {
		t.Errorf("chatring_messages_appended_total{role=user} = %v, want 1", got)
	}
}

// TestStatsSameMetricsAsMemoryStore checks that every family the Redis
// store's Stats collector exports is one the MemoryStore collector
// exports too, with the same type, help text and label names, so that the
// same alerts read both.
func TestStatsSameMetricsAsMemoryStore(t *testing.T) {
	type family struct {
		Type, Help string
		Labels     []string
	}
	mem, err := chatring.NewMemoryStore(chatring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close(context.Background())
	memFamilies := map[string]family{}
	for _, f := range promtest.Gather(t, promexport.NewMemoryStoreCollector(mem)) {
		memFamilies[f.GetName()] = family{f.GetType().String(), f.GetHelp(), labelNames(f)}
	}
	redisFamilies := promtest.Gather(t, promredis.NewStatsCollector(stubStats{}))
	if len(redisFamilies) == 0 {
		t.Fatal("the Stats collector exports nothing")
	}
	for _, f := range redisFamilies {
		got := family{f.GetType().String(), f.GetHelp(), labelNames(f)}
		if diff := cmp.Diff(memFamilies[f.GetName()], got); diff != "" {
			t.Errorf("%s differs from the MemoryStore collector's (-memory +redis):\n%s", f.GetName(), diff)
		}
	}
}

// labelNames returns the label names of f's first series.
func labelNames(f *dto.MetricFamily) []string {
	var names []string
	for _, l := range f.GetMetric()[0].GetLabel() {
		names = append(names, l.GetName())
	}
	return names
}

// stubStats is a StatsSource with nothing counted.
type stubStats struct{}

func (stubStats) Stats() redisstore.Stats { return redisstore.Stats{} }

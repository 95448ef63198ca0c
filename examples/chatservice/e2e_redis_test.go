package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/redis/go-redis/v9"
)

// TestRedisShutdownUnderLoad runs the service with -redis on a
// redis-server of its own and shuts it down under load as
// TestShutdownUnderLoad does; then, through a new redisstore.Store, Redis
// holds exactly the appends answered 201, each once and with the Seq it
// was answered with, in every conversation the clients wrote to (an
// append answered 503 unavailable and never 201 may be there, once).
// Before the load, /metrics serves the Redis and resilient collectors,
// and counts the invalid appends sent, which the resilient wrapper
// refused, under their reasons.
// Without redis-server it is skipped, unless CHATRING_REQUIRE_REDIS=1.
func TestRedisShutdownUnderLoad(t *testing.T) {
	redistest.Require(t)
	srv := redistest.NewServer(t)
	// Windows large enough that no conversation evicts what it was sent.
	cfg := chatring.Config{MaxTurns: 500}
	cfgFile := filepath.Join(t.TempDir(), "chatring.json")
	if err := os.WriteFile(cfgFile, []byte(`{"max_turns": 500}`), 0o600); err != nil {
		t.Fatal(err)
	}
	const timeout = 10 * time.Second
	s := startService(t, "-redis", srv.Addr, "-config", cfgFile, "-shutdown-timeout", timeout.String())

	// The Redis and resilient metrics are served: an append is one
	// attempt on the primary and one Redis operation, the breaker closed.
	httpClient := newClient(1)
	if code, b, err := post(t.Context(), httpClient, s.url+"/conversations/probe/messages", `{"role":"user","content":"hi"}`); err != nil || code != http.StatusCreated {
		t.Fatalf("append: %d %s %v", code, b, err)
	}
	// Invalid appends, which the resilient wrapper refuses before the
	// Redis store sees them, are counted under their reasons, as with the
	// memory store; a body that is not JSON never reaches the store and
	// is not counted.
	rejected := map[string]int{}
	for _, bad := range []struct {
		path, body, reason string
		code               int
	}{
		{"/conversations/probe/messages", `{"role":"robot","content":"beep"}`, "invalid_role", 400},
		{"/conversations/probe/messages", `{"role":"robot","content":"boop"}`, "invalid_role", 400},
		{"/conversations/probe/messages", `{"role":"user","content":"   "}`, "empty_content", 400},
		{"/conversations/probe/messages", fmt.Sprintf(`{"role":"user","content":%q}`,
			strings.Repeat("x", chatring.DefaultMaxMessageBytes+1)), "message_too_large", 413},
		{"/conversations/%7F/messages", `{"role":"user","content":"x"}`, "invalid_conversation", 400},
		{"/conversations/probe/messages", `{"role":`, "", 400},
	} {
		if code, b, err := post(t.Context(), httpClient, s.url+bad.path, bad.body); err != nil || code != bad.code {
			t.Fatalf("invalid append (%s): %d %s %v, want %d", bad.reason, code, b, err, bad.code)
		}
		if bad.reason != "" {
			rejected[bad.reason]++
		}
	}
	families := scrape(t, httpClient, s.url)
	for _, reason := range []string{"invalid_role", "empty_content", "message_too_large", "invalid_conversation", "canceled", "closed"} {
		if got := value(t, families, "chatring_messages_rejected_total", "reason", reason); got != float64(rejected[reason]) {
			t.Errorf("chatring_messages_rejected_total{reason=%s} = %v, want %d", reason, got, rejected[reason])
		}
	}
	if got := value(t, families, "chatring_primary_attempts_total"); got != 1 {
		t.Errorf("chatring_primary_attempts_total = %v after one append, want 1", got)
	}
	if got := value(t, families, "chatring_breaker_state", "state", "closed"); got != 1 {
		t.Errorf("chatring_breaker_state{state=closed} = %v, want 1", got)
	}
	appends := uint64(0)
	for _, m := range families["chatring_redis_operation_duration_seconds"].GetMetric() {
		if labelValue(m, "op") == "append" {
			appends = m.GetHistogram().GetSampleCount()
		}
	}
	if appends != 1 {
		t.Errorf("chatring_redis_operation_duration_seconds{op=append} counted %d operations after one append, want 1", appends)
	}

	load := appendUntilShutdown(t, s, timeout)
	rec := s.logRecord("chatservice: stopped")
	if rec == nil || rec["clean"] != true || rec["breaker"] != "closed" {
		t.Fatalf("stop record %v, want clean with the breaker closed", rec)
	}

	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	store, err := redisstore.New(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(context.Background())
	want := map[string]map[string]uint64{} // conversation -> ID -> Seq answered
	for _, a := range load.acked {
		if want[a.conv] == nil {
			want[a.conv] = map[string]uint64{}
		}
		if seq, dup := want[a.conv][a.m.ID]; dup {
			t.Errorf("%s: %s answered 201 twice, with Seq %d and %d", a.conv, a.m.ID, seq, a.m.Seq)
		}
		want[a.conv][a.m.ID] = a.m.Seq
	}
	convs := []string{"slow"}
	for w := range 16 {
		for k := range 50 {
			convs = append(convs, fmt.Sprintf("load-%d-%d", w, k))
		}
	}
	stored := 0
	for _, conv := range convs {
		msgs, err := store.Messages(t.Context(), conv, nil)
		if err != nil {
			t.Fatalf("%s: %v", conv, err)
		}
		stored += len(msgs)
		seen := map[string]bool{}
		for _, m := range msgs {
			switch seq, ok := want[conv][m.ID]; {
			case seen[m.ID]:
				t.Errorf("%s: %s is stored twice", conv, m.ID)
			case ok && seq != m.Seq:
				t.Errorf("%s: %s is stored with Seq %d, answered with %d", conv, m.ID, m.Seq, seq)
			case !ok && !load.uncertain[m.ID]:
				t.Errorf("%s: %s (Seq %d) is stored but was never answered 201", conv, m.ID, m.Seq)
			}
			seen[m.ID] = true
		}
		for id, seq := range want[conv] {
			if !seen[id] {
				t.Errorf("%s: %s was answered 201 (Seq %d) but is not in Redis", conv, id, seq)
			}
		}
	}
	if stored < len(load.acked) {
		t.Errorf("Redis holds %d messages, %d appends were answered 201", stored, len(load.acked))
	}
	t.Logf("Redis holds %d messages in %d conversations; %d answered 201", stored, len(want), len(load.acked))
}

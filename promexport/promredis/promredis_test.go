package promredis_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/promexport"
	"github.com/chatring/chatring/promexport/internal/promtest"
	"github.com/chatring/chatring/promexport/promredis"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestExposition pins the whole exposition after feed's observations:
// every op and every op and kind exported from the start, the buckets,
// an op and a kind that this package does not know.
func TestExposition(t *testing.T) {
	c := promredis.New(promexport.WithConstLabels(prometheus.Labels{"store": "sessions"}))
	feed(c)
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

const want = `
# HELP chatring_redis_errors_total Operations sent to Redis that failed, by op and kind (canceled, timeout, unavailable, format, other).
# TYPE chatring_redis_errors_total counter
chatring_redis_errors_total{kind="canceled",op="append",store="sessions"} 0
chatring_redis_errors_total{kind="canceled",op="append_batch",store="sessions"} 0
chatring_redis_errors_total{kind="canceled",op="clear",store="sessions"} 0
chatring_redis_errors_total{kind="canceled",op="delete",store="sessions"} 1
chatring_redis_errors_total{kind="canceled",op="messages",store="sessions"} 0
chatring_redis_errors_total{kind="canceled",op="scan",store="sessions"} 0
chatring_redis_errors_total{kind="canceled",op="set_system_prompt",store="sessions"} 0
chatring_redis_errors_total{kind="canceled",op="window",store="sessions"} 0
chatring_redis_errors_total{kind="format",op="append",store="sessions"} 0
chatring_redis_errors_total{kind="format",op="append_batch",store="sessions"} 0
chatring_redis_errors_total{kind="format",op="clear",store="sessions"} 0
chatring_redis_errors_total{kind="format",op="delete",store="sessions"} 0
chatring_redis_errors_total{kind="format",op="messages",store="sessions"} 0
chatring_redis_errors_total{kind="format",op="scan",store="sessions"} 0
chatring_redis_errors_total{kind="format",op="set_system_prompt",store="sessions"} 1
chatring_redis_errors_total{kind="format",op="window",store="sessions"} 0
chatring_redis_errors_total{kind="other",op="append",store="sessions"} 0
chatring_redis_errors_total{kind="other",op="append_batch",store="sessions"} 0
chatring_redis_errors_total{kind="other",op="clear",store="sessions"} 1
chatring_redis_errors_total{kind="other",op="delete",store="sessions"} 0
chatring_redis_errors_total{kind="other",op="messages",store="sessions"} 0
chatring_redis_errors_total{kind="other",op="scan",store="sessions"} 1
chatring_redis_errors_total{kind="other",op="set_system_prompt",store="sessions"} 0
chatring_redis_errors_total{kind="other",op="window",store="sessions"} 0
chatring_redis_errors_total{kind="timeout",op="append",store="sessions"} 0
chatring_redis_errors_total{kind="timeout",op="append_batch",store="sessions"} 0
chatring_redis_errors_total{kind="timeout",op="clear",store="sessions"} 0
chatring_redis_errors_total{kind="timeout",op="delete",store="sessions"} 0
chatring_redis_errors_total{kind="timeout",op="messages",store="sessions"} 0
chatring_redis_errors_total{kind="timeout",op="scan",store="sessions"} 0
chatring_redis_errors_total{kind="timeout",op="set_system_prompt",store="sessions"} 0
chatring_redis_errors_total{kind="timeout",op="window",store="sessions"} 1
chatring_redis_errors_total{kind="unavailable",op="append",store="sessions"} 2
chatring_redis_errors_total{kind="unavailable",op="append_batch",store="sessions"} 0
chatring_redis_errors_total{kind="unavailable",op="clear",store="sessions"} 0
chatring_redis_errors_total{kind="unavailable",op="delete",store="sessions"} 0
chatring_redis_errors_total{kind="unavailable",op="messages",store="sessions"} 0
chatring_redis_errors_total{kind="unavailable",op="scan",store="sessions"} 0
chatring_redis_errors_total{kind="unavailable",op="set_system_prompt",store="sessions"} 0
chatring_redis_errors_total{kind="unavailable",op="window",store="sessions"} 0
# HELP chatring_redis_operation_duration_seconds Duration of the operations the store sent to Redis, by op, failed ones included.
# TYPE chatring_redis_operation_duration_seconds histogram
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="0.0001"} 0
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="0.00025"} 0
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="0.0005"} 2
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="0.001"} 2
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="0.0025"} 3
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="0.005"} 3
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="0.01"} 3
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="0.025"} 3
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="0.05"} 3
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="0.1"} 3
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="0.25"} 3
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="0.5"} 4
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="1"} 4
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="2.5"} 4
chatring_redis_operation_duration_seconds_bucket{op="append",store="sessions",le="+Inf"} 4
chatring_redis_operation_duration_seconds_sum{op="append",store="sessions"} 0.5027
chatring_redis_operation_duration_seconds_count{op="append",store="sessions"} 4
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="0.0001"} 0
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="0.00025"} 0
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="0.0005"} 0
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="0.001"} 0
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="0.0025"} 0
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="0.005"} 0
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="0.01"} 0
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="0.025"} 0
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="0.05"} 0
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="0.1"} 0
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="0.25"} 0
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="0.5"} 0
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="1"} 0
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="2.5"} 0
chatring_redis_operation_duration_seconds_bucket{op="append_batch",store="sessions",le="+Inf"} 0
chatring_redis_operation_duration_seconds_sum{op="append_batch",store="sessions"} 0
chatring_redis_operation_duration_seconds_count{op="append_batch",store="sessions"} 0
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="0.0001"} 0
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="0.00025"} 0
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="0.0005"} 0
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="0.001"} 0
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="0.0025"} 0
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="0.005"} 0
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="0.01"} 1
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="0.025"} 1
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="0.05"} 1
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="0.1"} 1
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="0.25"} 1
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="0.5"} 1
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="1"} 1
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="2.5"} 1
chatring_redis_operation_duration_seconds_bucket{op="clear",store="sessions",le="+Inf"} 1
chatring_redis_operation_duration_seconds_sum{op="clear",store="sessions"} 0.01
chatring_redis_operation_duration_seconds_count{op="clear",store="sessions"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="0.0001"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="0.00025"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="0.0005"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="0.001"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="0.0025"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="0.005"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="0.01"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="0.025"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="0.05"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="0.1"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="0.25"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="0.5"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="1"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="2.5"} 1
chatring_redis_operation_duration_seconds_bucket{op="delete",store="sessions",le="+Inf"} 1
chatring_redis_operation_duration_seconds_sum{op="delete",store="sessions"} 2e-05
chatring_redis_operation_duration_seconds_count{op="delete",store="sessions"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="0.0001"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="0.00025"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="0.0005"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="0.001"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="0.0025"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="0.005"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="0.01"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="0.025"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="0.05"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="0.1"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="0.25"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="0.5"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="1"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="2.5"} 1
chatring_redis_operation_duration_seconds_bucket{op="messages",store="sessions",le="+Inf"} 1
chatring_redis_operation_duration_seconds_sum{op="messages",store="sessions"} 5e-05
chatring_redis_operation_duration_seconds_count{op="messages",store="sessions"} 1
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="0.0001"} 0
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="0.00025"} 0
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="0.0005"} 0
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="0.001"} 2
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="0.0025"} 2
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="0.005"} 2
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="0.01"} 2
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="0.025"} 2
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="0.05"} 2
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="0.1"} 2
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="0.25"} 2
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="0.5"} 2
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="1"} 2
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="2.5"} 2
chatring_redis_operation_duration_seconds_bucket{op="scan",store="sessions",le="+Inf"} 2
chatring_redis_operation_duration_seconds_sum{op="scan",store="sessions"} 0.002
chatring_redis_operation_duration_seconds_count{op="scan",store="sessions"} 2
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="0.0001"} 0
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="0.00025"} 0
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="0.0005"} 0
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="0.001"} 1
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="0.0025"} 1
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="0.005"} 1
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="0.01"} 1
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="0.025"} 1
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="0.05"} 1
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="0.1"} 1
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="0.25"} 1
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="0.5"} 1
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="1"} 1
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="2.5"} 1
chatring_redis_operation_duration_seconds_bucket{op="set_system_prompt",store="sessions",le="+Inf"} 1
chatring_redis_operation_duration_seconds_sum{op="set_system_prompt",store="sessions"} 0.001
chatring_redis_operation_duration_seconds_count{op="set_system_prompt",store="sessions"} 1
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="0.0001"} 0
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="0.00025"} 0
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="0.0005"} 0
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="0.001"} 0
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="0.0025"} 0
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="0.005"} 0
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="0.01"} 0
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="0.025"} 0
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="0.05"} 0
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="0.1"} 0
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="0.25"} 0
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="0.5"} 0
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="1"} 0
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="2.5"} 0
chatring_redis_operation_duration_seconds_bucket{op="window",store="sessions",le="+Inf"} 1
chatring_redis_operation_duration_seconds_sum{op="window",store="sessions"} 3
chatring_redis_operation_duration_seconds_count{op="window",store="sessions"} 1
`

// newStore returns a store on a fresh redis-server (or skips the test, see
// redistest.Require), observed by c.
func newStore(t *testing.T, c *promredis.Collector) (*redisstore.Store, redis.UniversalClient) {
	t.Helper()
	server := redistest.NewServer(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr})
	t.Cleanup(func() { client.Close() })
	s, err := redisstore.New(client, chatring.Config{MaxTurns: 2}, redisstore.WithObserver(c))
	if err != nil {
		t.Fatal(err)
	}
	return s, client
}

// TestCounts checks the exported counts against the calls made on a
// store on a real redis-server.
func TestCounts(t *testing.T) {
	c := promredis.New()
	s, client := newStore(t, c)
	ctx := t.Context()
	for i := range 5 {
		if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: fmt.Sprint("m", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Messages(ctx, "c", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Window(ctx, "c", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSystemPrompt(ctx, "c", "be brief"); err != nil {
		t.Fatal(err)
	}
	if err := s.Clear(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	// Not operations on Redis: rejected before.
	s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: " "})
	s.Messages(ctx, "", nil)
	// WRONGTYPE: other.
	msgs, _, _ := s.Keys("w")
	if err := client.Set(ctx, msgs, "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Messages(ctx, "w", nil); err == nil {
		t.Fatal("Messages of a string key succeeded")
	}
	// A refused connection: unavailable; the same collector sums both
	// stores.
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	down := redis.NewClient(&redis.Options{Addr: gone.Addr().String(), MaxRetries: -1})
	defer down.Close()
	s2, err := redisstore.New(down, chatring.Config{}, redisstore.WithObserver(c))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "x"}); err == nil {
		t.Fatal("Append to a closed port succeeded")
	}

	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"chatring_redis_operation_duration_seconds", map[string]string{"op": "append"}, 6},
		{"chatring_redis_operation_duration_seconds", map[string]string{"op": "messages"}, 2},
		{"chatring_redis_operation_duration_seconds", map[string]string{"op": "window"}, 1},
		{"chatring_redis_operation_duration_seconds", map[string]string{"op": "set_system_prompt"}, 1},
		{"chatring_redis_operation_duration_seconds", map[string]string{"op": "clear"}, 1},
		{"chatring_redis_operation_duration_seconds", map[string]string{"op": "delete"}, 1},
		{"chatring_redis_errors_total", map[string]string{"op": "messages", "kind": "other"}, 1},
		{"chatring_redis_errors_total", map[string]string{"op": "append", "kind": "unavailable"}, 1},
		{"chatring_redis_errors_total", map[string]string{"op": "append", "kind": "other"}, 0},
		{"chatring_redis_errors_total", map[string]string{"op": "window", "kind": "canceled"}, 0},
		{"chatring_redis_errors_total", map[string]string{"op": "window", "kind": "timeout"}, 0},
	} {
		if got := promtest.Sample(t, c, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if ops := len(redisstore.Ops()); ops != 7 {
		t.Errorf("redisstore.Ops() has %d ops, this test knows 7", ops)
	}
	if n := testutil.CollectAndCount(c); n != 7+7*5 {
		t.Errorf("%d series (a histogram is one), want %d: one histogram per op, one error counter per op and kind", n, 7+7*5)
	}
}

// TestLint runs promlint over the exposition.
func TestLint(t *testing.T) {
	c := promredis.New()
	feed(c)
	promtest.Lint(t, c)
}

// TestScrapeDuringAppends scrapes while appends run on a real
// redis-server (under -race in make test) and checks that the counts never
// decrease between scrapes and that the last one counts every append.
func TestScrapeDuringAppends(t *testing.T) {
	c := promredis.New()
	s, _ := newStore(t, c)
	const writers, each = 4, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := s.Append(context.Background(), fmt.Sprintf("w%d-%d", w, i%5), chatring.Message{Role: chatring.User, Content: "hi"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var last float64
	for scraping := true; scraping; {
		select {
		case <-done:
			scraping = false
		default:
		}
		n := promtest.Sample(t, c, "chatring_redis_operation_duration_seconds", map[string]string{"op": "append"})
		if n < last {
			t.Fatalf("the append count went down: %v -> %v", last, n)
		}
		last = n
	}
	if last != writers*each {
		t.Errorf("last scrape: %v appends, want %d", last, writers*each)
	}
}

package promredis_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/promexport/internal/promtest"
	"github.com/chatring/chatring/promexport/promredis"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/redis/go-redis/v9"
)

// TestStatsCountsExact has 8 goroutines append to a real redis-server,
// each message sent by two goroutines with the same ID at about the same
// time, a third of them with a bad role: the Stats collector's appended
// and deduplicated counts add up to the accepted calls, appended equals
// what Redis holds, and every bad message is one rejection.
func TestStatsCountsExact(t *testing.T) {
	server := redistest.NewServer(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr})
	t.Cleanup(func() { client.Close() })
	s, err := redisstore.New(client, chatring.Config{MaxTurns: 500})
	if err != nil {
		t.Fatal(err)
	}
	c := promredis.NewStatsCollector(s)
	ctx := t.Context()
	const goroutines, each, convs = 8, 150, 4
	var accepted, rejected atomic.Uint64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				n := g/2*each + i // goroutines 2k and 2k+1 send the same messages
				m := chatring.Message{Role: chatring.User, Content: fmt.Sprint("m ", n), ID: fmt.Sprint("id-", n)}
				if n%3 == 0 {
					m.Role = "robot"
				}
				if _, err := s.Append(ctx, fmt.Sprint("c", n%convs), m); err == nil {
					accepted.Add(1)
				} else if chatring.RejectionReason(err) == "invalid_role" {
					rejected.Add(1)
				} else {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var held int
	for k := range convs {
		msgs, err := s.Messages(ctx, fmt.Sprint("c", k), nil)
		if err != nil {
			t.Fatal(err)
		}
		held += len(msgs)
	}
	appended := promtest.Sample(t, c, "chatring_messages_appended_total", map[string]string{"role": "user"})
	dedup := promtest.Sample(t, c, "chatring_messages_deduplicated_total", nil)
	bad := promtest.Sample(t, c, "chatring_messages_rejected_total", map[string]string{"reason": "invalid_role"})
	if appended != float64(held) || appended+dedup != float64(accepted.Load()) || bad != float64(rejected.Load()) {
		t.Errorf("appended %v (Redis holds %d), deduplicated %v, of %d accepted; rejected %v of %d",
			appended, held, dedup, accepted.Load(), bad, rejected.Load())
	}
	if want := float64(goroutines / 2 * each * 2 / 3); appended != want {
		t.Errorf("appended %v, want %v: each valid message once", appended, want)
	}
}

package redisfault_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/chatring/chatring/resilient"
	"github.com/redis/go-redis/v9"
)

func BenchmarkRedisAppend(b *testing.B) {
	server := redistest.NewServer(b)
	client := redis.NewClient(&redis.Options{Addr: server.Addr})
	b.Cleanup(func() { client.Close() })
	cfg := chatring.Config{MaxTurns: 10}
	newRedis := func(prefix string) *redisstore.Store {
		s, err := redisstore.New(client, cfg, redisstore.WithPrefix(prefix))
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	bare := newRedis("bare")
	wrapped, err := resilient.New(newRedis("wrapped"))
	if err != nil {
		b.Fatal(err)
	}
	untimed, err := resilient.New(newRedis("untimed"), resilient.WithRetry(resilient.RetryPolicy{AttemptTimeout: -1}))
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range []struct {
		name  string
		store chatring.Store
	}{{"redis", bare}, {"resilient", wrapped}, {"resilient-untimed", untimed}, {"redis-cancelable", bare}, {"resilient-cancelable", wrapped}} {
		b.Run("store="+s.name, func(b *testing.B) {
			// *-cancelable: under a cancelable ctx without a deadline, as
			// a server's request context usually is (the others under
			// context.Background): the wrapper's attempt then has a
			// context.WithDeadline of its own.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if !strings.HasSuffix(s.name, "-cancelable") {
				ctx = context.Background()
			}
			m := chatring.Message{Role: chatring.User, Content: "what is the weather in Paris today?"}
			i := 0
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				m.ID = fmt.Sprint("req-", i)
				if _, err := s.store.Append(ctx, "conv", m); err != nil {
					b.Fatal(err)
				}
				i++
			}
			// The process's CPU time per Append (the client's: redis-server
			// is another process): what the wrapper adds is CPU work, and
			// this figure grows far less than ns/op on a loaded machine.
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "client-cpu-ns/op")
		})
	}
}

// cpuTime returns the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

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
	nomirror, err := resilient.New(newRedis("nomirror"), resilient.WithMirror(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, s := range []*resilient.Store{wrapped, untimed, nomirror} {
			_ = s.Close(context.Background()) // their mirrors' goroutines
		}
	})
	next := map[string]int{} // per sub-benchmark, the number of its next ID
	for _, s := range []struct {
		name  string
		store chatring.Store
	}{
		{"redis", bare}, {"resilient", wrapped}, {"resilient-untimed", untimed},
		{"redis-cancelable", bare}, {"resilient-cancelable", wrapped},
		{"redis-deadline", bare}, {"resilient-deadline", wrapped}, {"resilient-nomirror-deadline", nomirror},
	} {
		b.Run("store="+s.name, func(b *testing.B) {
			// *-cancelable: under a cancelable ctx without a deadline, as
			// a server's request context usually is (the others under
			// context.Background): the wrapper's attempt then has a
			// deadline of its own, a context.WithDeadline once go-redis
			// asks for its Done channel. *-deadline: each Append under a
			// context.WithTimeout of that cancelable ctx by the default
			// AttemptTimeout, as a service that bounds its Redis calls
			// without the wrapper does; the wrapper then makes no
			// deadline of its own (the caller's comes first).
			// resilient-nomirror-*: degraded reads off (WithMirror(0)),
			// the mirror's share of the wrapper's cost. Every
			// sub-benchmark appends IDs of its own, so that none
			// appends IDs an earlier one (or an earlier run of it, with
			// -count) stored: a duplicate, which Redis answers without
			// storing.
			parent, cancel := context.WithCancel(context.Background())
			defer cancel()
			ctx, deadline := parent, false
			switch {
			case strings.HasSuffix(s.name, "-deadline"):
				deadline = true
			case !strings.HasSuffix(s.name, "-cancelable"):
				ctx = context.Background()
			}
			m := chatring.Message{Role: chatring.User, Content: "what is the weather in Paris today?"}
			i := next[s.name]
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				m.ID = fmt.Sprint(s.name, "-", i)
				actx, stop := ctx, context.CancelFunc(nil)
				if deadline {
					actx, stop = context.WithTimeout(parent, resilient.DefaultRetry.AttemptTimeout)
				}
				_, err := s.store.Append(actx, "conv", m)
				if stop != nil {
					stop()
				}
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
			next[s.name] = i
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

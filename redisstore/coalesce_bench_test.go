package redisstore_test

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/redis/go-redis/v9"
)

// BenchmarkHotRead reads the window of one conversation (20 messages)
// from 64 goroutines of one process, with read coalescing off and on:
// time per read and the Redis reads (EXEC calls) sent per read, against
// the shared single-node server (-redis.rtt does not apply here).
//
//	go test -run '^$' -bench HotRead -count 10 ./redisstore
func BenchmarkHotRead(b *testing.B) {
	client, _ := singleNode(b)
	for _, coalesce := range []bool{false, true} {
		b.Run("coalesce="+strconv.FormatBool(coalesce), func(b *testing.B) {
			var opts []redisstore.Option
			if coalesce {
				opts = append(opts, redisstore.WithReadCoalescing())
			}
			s := newStore(b, client, chatring.Config{}, opts...)
			for i := range 20 {
				mustAppend(b, s, "hot", strconv.Itoa(i))
			}
			ctx := context.Background()
			b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			execs := execCalls(b, client)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Window(ctx, "hot", 0); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(execCalls(b, client)-execs)/float64(b.N), "redis-reads/op")
		})
	}
}

// execCalls returns how many EXEC commands the server has run.
func execCalls(b *testing.B, client redis.UniversalClient) int64 {
	info, err := client.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "cmdstat_exec:calls="); ok {
			n, err := strconv.ParseInt(v[:strings.IndexByte(v, ',')], 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	return 0
}

package redisstore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/redis/go-redis/v9"
)

// BenchmarkAppendFullWindow appends to one conversation whose window is
// full, at small and large windows, one call at a time, and reports the
// Redis server's own time per script call (server-µs/op, from INFO
// commandstats) beside the wall clock: an Append's cost on the server must
// not grow with the window, since Redis serves no other client while a
// script runs.
//
//	go test -run '^$' -bench AppendFullWindow -count 10 ./redisstore
func BenchmarkAppendFullWindow(b *testing.B) {
	for _, turns := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint("turns=", turns), func(b *testing.B) {
			client, _ := singleNode(b)
			s := newStore(b, client, chatring.Config{MaxTurns: turns})
			ctx := context.Background()
			const conv = "bench"
			batch := make([]chatring.Message, 0, 100)
			for range 100 {
				batch = append(batch, chatring.Message{Role: chatring.User, Content: "filler of a full window"})
			}
			for filled := 0; filled < 2*turns; filled += len(batch) {
				if _, err := s.AppendBatch(ctx, conv, batch); err != nil {
					b.Fatal(err)
				}
			}
			m := chatring.Message{Role: chatring.User, Content: "a message of some forty bytes, give or take"}
			if err := client.ConfigResetStat(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Append(ctx, conv, m); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			usec, calls := scriptStats(b, client)
			if calls > 0 {
				b.ReportMetric(usec/calls, "server-µs/op")
			}
			if err := s.Delete(ctx, conv); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// scriptStats returns the microseconds Redis spent in EVALSHA and EVAL
// since the last CONFIG RESETSTAT, and how many calls that was.
func scriptStats(b *testing.B, client redis.UniversalClient) (usec, calls float64) {
	info, err := client.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		name, fields, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "cmdstat_evalsha" && name != "cmdstat_eval") {
			continue
		}
		for _, f := range strings.Split(fields, ",") {
			k, v, _ := strings.Cut(f, "=")
			n, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "calls":
				calls += n
			case "usec":
				usec += n
			}
		}
	}
	return usec, calls
}

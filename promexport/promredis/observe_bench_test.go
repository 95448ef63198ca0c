package promredis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/promexport/promredis"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/redis/go-redis/v9"
)

// BenchmarkObserve measures what the Collector adds to each operation of
// an observed redisstore.Store (besides the two clock reads redisstore
// makes): one histogram observation, and a counter increment for a
// failure.
func BenchmarkObserve(b *testing.B) {
	for _, bc := range []struct {
		name string
		kind redisstore.ErrorKind
	}{{"kind=none", redisstore.KindNone}, {"kind=unavailable", redisstore.KindUnavailable}} {
		b.Run(bc.name, func(b *testing.B) {
			c := promredis.New()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.Observe("append", 300*time.Microsecond, bc.kind)
				}
			})
		})
	}
}

// rounds counts BenchmarkAppend's runs.
var rounds int

// BenchmarkAppend compares Appends to a real redis-server without an
// Observer and with this package's Collector, one after the other in
// each round, so that `benchstat -col /observer` compares them.
func BenchmarkAppend(b *testing.B) {
	server := redistest.NewServer(b)
	client := redis.NewClient(&redis.Options{Addr: server.Addr})
	defer client.Close()
	for _, bc := range []struct {
		name string
		opts []redisstore.Option
	}{
		{"observer=none", nil},
		{"observer=promredis", []redisstore.Option{redisstore.WithObserver(promredis.New())}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rounds++ // a fresh key prefix: every run starts from empty conversations
			opts := append([]redisstore.Option{redisstore.WithPrefix(fmt.Sprintf("bench%d:", rounds))}, bc.opts...)
			s, err := redisstore.New(client, chatring.Config{MaxTurns: 10}, opts...)
			if err != nil {
				b.Fatal(err)
			}
			m := chatring.Message{Role: chatring.User, Content: "hello there"}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := s.Append(context.Background(), fmt.Sprint("c", i%100), m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

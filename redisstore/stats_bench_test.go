package redisstore_test

import (
	"context"
	"testing"

	"github.com/chatring/chatring"
)

// BenchmarkAppend appends to one conversation on the shared redis-server,
// one call at a time: the round trip that Stats's atomic adds ride on.
// Compare it before and after a change to Append's path with benchstat.
func BenchmarkAppend(b *testing.B) {
	client, _ := singleNode(b)
	s := newStore(b, client, chatring.Config{MaxTurns: 10})
	ctx := context.Background()
	m := chatring.Message{Role: chatring.User, Content: "a message of some forty bytes, give or take"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Append(ctx, "bench", m); err != nil {
			b.Fatal(err)
		}
	}
}

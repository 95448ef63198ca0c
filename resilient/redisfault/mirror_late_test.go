package redisfault_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/resilient"
	"github.com/redis/go-redis/v9"
)

// TestMirrorLateRetry: the Redis store answers a retry whose message has
// left the window (cleared, or pushed out by newer messages) with that
// message as sent and the Seq it was stored at. The resilient Store puts
// what its primary returns into its mirror; a degraded read must not then
// show a message that is not in the conversation's window. Each case
// appends through the resilient Store, retries an ID whose message left
// the window (recognised by Redis: nothing stored), kills the server and
// reads: the degraded read must hold nothing but messages of the window
// Redis held. (From a process whose mirror knows nothing newer of the
// conversation the retry does show: resilient's doc says so; a Seq alone
// cannot tell it from a new message.)
func TestMirrorLateRetry(t *testing.T) {
	for _, c := range []struct {
		name   string
		before func(t *testing.T, s chatring.Store) // after the first append
		want   []string                             // the window Redis holds
	}{
		{"cleared", func(t *testing.T, s chatring.Store) {
			if err := s.Clear(context.Background(), "c"); err != nil {
				t.Fatal(err)
			}
		}, []string{}},
		{"pushed out", func(t *testing.T, s chatring.Store) {
			for i := range 5 {
				if _, err := s.Append(context.Background(), "c", chatring.Message{Role: chatring.Assistant, Content: fmt.Sprint("newer ", i)}); err != nil {
					t.Fatal(err)
				}
			}
		}, []string{"5:newer 3", "6:newer 4"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			server := startServer(t)
			client := redis.NewClient(&redis.Options{Addr: server.Addr, MaxRetries: -1, ContextTimeoutEnabled: true,
				DialTimeout: 100 * time.Millisecond})
			defer client.Close()
			primary, err := redisstore.New(client, chatring.Config{MaxTurns: 1})
			if err != nil {
				t.Fatal(err)
			}
			s, err := resilient.New(primary, resilient.WithRetry(resilient.RetryPolicy{Attempts: 1, AttemptTimeout: time.Second}))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			ctx := context.Background()
			m := chatring.Message{Role: chatring.User, Content: "first", ID: "req-1"}
			if _, err := s.Append(ctx, "c", m); err != nil {
				t.Fatal(err)
			}
			c.before(t, s)
			got, err := s.Append(ctx, "c", m) // a late retry: Redis recognises it
			if err != nil || got.Seq != 1 {
				t.Fatalf("late retry = %+v, %v; want Seq 1, recognised", got, err)
			}
			held, err := primary.Messages(ctx, "c", nil)
			if err != nil {
				t.Fatal(err)
			}
			if w := seqContent(held); fmt.Sprint(w) != fmt.Sprint(c.want) {
				t.Fatalf("Redis holds %v, want %v", w, c.want)
			}
			server.Kill()
			degraded, err := s.Messages(ctx, "c", nil)
			if err != nil {
				if !errors.Is(err, chatring.ErrUnavailable) {
					t.Fatal(err)
				}
				return // the mirror knew nothing: no stale answer either
			}
			inWindow := map[string]bool{}
			for _, w := range c.want {
				inWindow[w] = true
			}
			for _, w := range seqContent(degraded) {
				if !inWindow[w] {
					t.Errorf("degraded read = %v holds %s; Redis held %v", seqContent(degraded), w, c.want)
				}
			}
		})
	}
}

func seqContent(msgs []chatring.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = fmt.Sprintf("%d:%s", m.Seq, m.Content)
	}
	return out
}

package redisfault_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/resilient"
	"github.com/redis/go-redis/v9"
)

// loseReply is a primary that stores the next Append whose ID is id and
// then loses its reply (ErrUnavailable), once.
type loseReply struct {
	chatring.Store
	id   string
	lost atomic.Bool
}

// The Redis store is both optional interfaces the resilient Store looks
// for (a wrapper that embeds chatring.Store hides them: see loseReply).
var (
	_ resilient.BatchAppender = (*redisstore.Store)(nil)
	_ resilient.ClearReporter = (*redisstore.Store)(nil)
)

// ClearThrough passes the Redis store's through: embedding
// chatring.Store would hide it, and the resilient Store uses it
// (ClearReporter).
func (l *loseReply) ClearThrough(ctx context.Context, conv string) (uint64, error) {
	return l.Store.(resilient.ClearReporter).ClearThrough(ctx, conv)
}

func (l *loseReply) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	got, err := l.Store.Append(ctx, conv, m)
	if err == nil && m.ID == l.id && l.lost.CompareAndSwap(false, true) {
		return chatring.Message{}, fmt.Errorf("%w: reply lost (test)", chatring.ErrUnavailable)
	}
	return got, err
}

// TestMirrorClearAfterLostReply: a cleared message must not come back in
// degraded reads through a late retry. The first attempt's reply was
// lost, so the mirror never learned the message's Seq (2); the caller
// retries with the returned ID after a Clear, Redis recognises it and
// answers Seq 2. The mirror knew only Seq 1, but the Redis store's
// ClearThrough said the Clear removed up to 2, so the answer stays out.
// (Keeping every ID whose append failed before the Clear out of the
// mirror instead would break read-your-writes:
// TestReadYourWritesRetryAfterClear.)
func TestMirrorClearAfterLostReply(t *testing.T) {
	server := startServer(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr, MaxRetries: -1, ContextTimeoutEnabled: true,
		DialTimeout: 100 * time.Millisecond})
	defer client.Close()
	rs, err := redisstore.New(client, chatring.Config{MaxTurns: 2})
	if err != nil {
		t.Fatal(err)
	}
	primary := &loseReply{Store: rs, id: "req-1"}
	s, err := resilient.New(primary, resilient.WithConfig(chatring.Config{MaxTurns: 2}), resilient.WithRetry(resilient.RetryPolicy{Attempts: 1, AttemptTimeout: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx := context.Background()
	if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Messages(ctx, "c", nil); err != nil {
		t.Fatal(err)
	}
	m := chatring.Message{Role: chatring.User, Content: "lost", ID: "req-1"}
	if _, err := s.Append(ctx, "c", m); !errors.Is(err, chatring.ErrUnavailable) {
		t.Fatalf("Append with a lost reply = %v, want ErrUnavailable", err)
	}
	if err := s.Clear(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Append(ctx, "c", m) // the caller retries later with the ID, as the doc suggests
	if err != nil || got.Seq != 2 {
		t.Fatalf("retry = %+v, %v; want Seq 2, recognised by Redis", got, err)
	}
	held, err := rs.Messages(ctx, "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 0 {
		t.Fatalf("Redis holds %v, want nothing after the Clear", seqContent(held))
	}
	server.Kill()
	degraded, err := s.Messages(ctx, "c", nil)
	if err != nil {
		t.Fatalf("degraded read: %v", err)
	}
	if len(degraded) != 0 {
		t.Errorf("degraded read = %v; Redis held nothing (the Clear removed it)", seqContent(degraded))
	}
}

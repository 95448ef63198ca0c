package main

import (
	"context"
	"errors"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/chatring/chatring/resilient"
)

// TestRedisFrozenAttemptTimeout opens the store as the service does with
// -redis, on a redis-server that then stops answering (SIGSTOP: a
// partition, a stalled host): an append must fail with ErrUnavailable
// after its attempts were cut at the resilient wrapper's AttemptTimeout
// and retried within MaxElapsed, as resilient documents. Without
// ContextTimeoutEnabled go-redis ignores the attempt's deadline and reads
// until its own timeouts: the one attempt took 5 s, with no retry, and
// every request on a frozen Redis waited that long. Without
// redis-server it is skipped, unless CHATRING_REQUIRE_REDIS=1.
func TestRedisFrozenAttemptTimeout(t *testing.T) {
	redistest.Require(t)
	srv := redistest.NewServer(t)
	store, _, err := openStore(chatring.Config{}, srv.Addr, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(context.Background())
	ctx, cancel := context.WithCancel(t.Context()) // cancelable, as a request's is
	defer cancel()
	if _, err := store.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "before"}); err != nil {
		t.Fatal(err)
	}
	stats := func() resilient.Stats { return store.(*redisStore).Stats() }
	before := stats().Attempts

	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			srv.Signal(syscall.SIGCONT)
		}
	}
	defer resume()
	start := time.Now()
	_, err = store.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "frozen"})
	took := time.Since(start)
	resume()
	if !errors.Is(err, chatring.ErrUnavailable) {
		t.Fatalf("append on a frozen Redis: %v, want ErrUnavailable", err)
	}
	attempts := stats().Attempts - before
	t.Logf("append on a frozen Redis failed after %v and %d attempts: %v", took, attempts, err)
	if attempts < 2 {
		t.Errorf("the append made %d attempt(s) in %v: the first was not cut at AttemptTimeout (%v) and never retried",
			attempts, took, resilient.DefaultRetry.AttemptTimeout)
	}
}

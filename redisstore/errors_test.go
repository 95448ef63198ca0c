package redisstore_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/redis/go-redis/v9"
)

// calls are the six Store methods, each as a function returning its error.
func calls(s chatring.Store, conv string) map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"Append": func(ctx context.Context) error {
			_, err := s.Append(ctx, conv, chatring.Message{Role: chatring.User, Content: "x", ID: "retry-me"})
			return err
		},
		"Messages":        func(ctx context.Context) error { _, err := s.Messages(ctx, conv, nil); return err },
		"Window":          func(ctx context.Context) error { _, err := s.Window(ctx, conv, 0); return err },
		"SetSystemPrompt": func(ctx context.Context) error { return s.SetSystemPrompt(ctx, conv, "p") },
		"Clear":           func(ctx context.Context) error { return s.Clear(ctx, conv) },
		"Delete":          func(ctx context.Context) error { return s.Delete(ctx, conv) },
	}
}

// wantUnavailable fails t unless every call fails with ErrUnavailable
// wrapping an error that contains cause.
func wantUnavailable(t *testing.T, s chatring.Store, only ...string) {
	t.Helper()
	for name, call := range calls(s, "conv") {
		if len(only) > 0 && name != only[0] {
			continue
		}
		err := call(t.Context())
		var ve *chatring.ValidationError
		if !errors.Is(err, chatring.ErrUnavailable) || errors.As(err, &ve) || errors.Is(err, redisstore.ErrFormat) {
			t.Errorf("%s: error %v, want ErrUnavailable", name, err)
		}
	}
}

// noRetries is a client of addr that does not retry, so that the tests
// see the first error rather than the last of go-redis's retries.
func noRetries(t *testing.T, opts redis.Options) *redis.Client {
	opts.MaxRetries = -1
	c := redis.NewClient(&opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestUnavailableServerDown: a server that is gone (connection refused).
func TestUnavailableServerDown(t *testing.T) {
	server := redistest.NewServer(t)
	server.Stop()
	s := newStore(t, noRetries(t, redis.Options{Addr: server.Addr}), chatring.Config{})
	wantUnavailable(t, s)
}

// TestUnavailableReplica: a replica refuses writes (READONLY), and a
// replica cut off from its master with replica-serve-stale-data no
// refuses everything (MASTERDOWN).
func TestUnavailableReplica(t *testing.T) {
	_, master := singleNode(t)
	host, port := splitAddr(t, master.Addr)
	replica := redistest.NewServer(t, "--replicaof", host, port)
	wantUnavailable(t, newStore(t, noRetries(t, redis.Options{Addr: replica.Addr}), chatring.Config{}))
	if err := newStore(t, noRetries(t, redis.Options{Addr: replica.Addr}), chatring.Config{}).Clear(t.Context(), "c"); !containsAll(err, "READONLY") {
		t.Errorf("Clear on a replica: %v, want READONLY as the cause", err)
	}

	dead := redistest.NewServer(t)
	dead.Stop()
	host, port = splitAddr(t, dead.Addr)
	orphan := redistest.NewServer(t, "--replicaof", host, port, "--replica-serve-stale-data", "no")
	s := newStore(t, noRetries(t, redis.Options{Addr: orphan.Addr}), chatring.Config{})
	wantUnavailable(t, s)
	if _, err := s.Messages(t.Context(), "c", nil); !containsAll(err, "MASTERDOWN") {
		t.Errorf("Messages on an orphaned replica: %v, want MASTERDOWN as the cause", err)
	}
}

// TestUnavailableTimeout: a server that does not answer within the
// client's ReadTimeout (DEBUG SLEEP stalls it).
func TestUnavailableTimeout(t *testing.T) {
	server := redistest.NewServer(t, "--enable-debug-command", "yes")
	s := newStore(t, noRetries(t, redis.Options{Addr: server.Addr, ReadTimeout: 50 * time.Millisecond}), chatring.Config{})
	mustAppend(t, s, "conv", "before the stall")
	stalled := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		c := redis.NewClient(&redis.Options{Addr: server.Addr})
		defer c.Close()
		c.Ping(context.Background())
		close(stalled)
		c.Do(context.Background(), "DEBUG", "SLEEP", "1")
	})
	<-stalled
	time.Sleep(50 * time.Millisecond) // let DEBUG SLEEP reach the server
	wantUnavailable(t, s, "Append")
	wg.Wait()
}

// TestUnavailableBusy: a server running a slow script answers BUSY.
func TestUnavailableBusy(t *testing.T) {
	server := redistest.NewServer(t, "--busy-reply-threshold", "20")
	s := newStore(t, noRetries(t, redis.Options{Addr: server.Addr}), chatring.Config{})
	mustAppend(t, s, "conv", "before the busy script")
	busy := redis.NewClient(&redis.Options{Addr: server.Addr, MaxRetries: -1, ReadTimeout: -1})
	t.Cleanup(func() { busy.Close() })
	var wg sync.WaitGroup
	wg.Go(func() { busy.Eval(context.Background(), "while true do end", nil) })
	killer := redis.NewClient(&redis.Options{Addr: server.Addr})
	t.Cleanup(func() { killer.Close() })
	defer wg.Wait()
	defer func() {
		for killer.ScriptKill(context.Background()).Err() != nil && t.Context().Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.Messages(t.Context(), "conv", nil)
		if containsAll(err, "BUSY") {
			if !errors.Is(err, chatring.ErrUnavailable) {
				t.Errorf("Messages while a script runs: %v, want ErrUnavailable", err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no BUSY reply within 5s; last: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUnavailablePoolExhausted: every connection of the client's pool is
// taken, and none frees up within PoolTimeout.
func TestUnavailablePoolExhausted(t *testing.T) {
	_, server := singleNode(t)
	client := noRetries(t, redis.Options{Addr: server.Addr, PoolSize: 1, PoolTimeout: 20 * time.Millisecond})
	s := newStore(t, client, chatring.Config{})
	conn := client.Conn() // holds the pool's only connection until Close
	if err := conn.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	wantUnavailable(t, s, "Append")
	conn.Close()
	mustAppend(t, s, "conv", "the pool has a connection again")
}

// TestClientClosed: a client closed under the store gives ErrClosed, not
// ErrUnavailable (retrying cannot help).
func TestClientClosed(t *testing.T) {
	_, server := singleNode(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr})
	s := newStore(t, client, chatring.Config{})
	client.Close()
	for name, call := range calls(s, "conv") {
		if err := call(t.Context()); !errors.Is(err, chatring.ErrClosed) || errors.Is(err, chatring.ErrUnavailable) {
			t.Errorf("%s on a closed client: %v, want ErrClosed", name, err)
		}
	}
}

// TestCanceledDuringCall: a ctx that ends while the call waits for Redis
// gives ctx's error, not ErrUnavailable.
func TestCanceledDuringCall(t *testing.T) {
	server := redistest.NewServer(t, "--enable-debug-command", "yes")
	s := newStore(t, noRetries(t, redis.Options{Addr: server.Addr, ContextTimeoutEnabled: true}), chatring.Config{})
	mustAppend(t, s, "conv", "before the stall")
	sleeper := redis.NewClient(&redis.Options{Addr: server.Addr})
	t.Cleanup(func() { sleeper.Close() })
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { sleeper.Do(context.Background(), "DEBUG", "SLEEP", "0.3") })
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := s.Messages(ctx, "conv", nil)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("Messages whose ctx expired during the call: %v, want context.DeadlineExceeded", err)
	}
}

func splitAddr(t *testing.T, addr string) (host, port string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}

// containsAll reports whether err's text contains every one of subs.
func containsAll(err error, subs ...string) bool {
	if err == nil {
		return false
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			return false
		}
	}
	return true
}

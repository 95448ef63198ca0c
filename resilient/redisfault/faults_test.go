package redisfault_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/acks"
	"github.com/redis/go-redis/v9"
)

// startServer starts a redis-server with AOF on every write (appendonly
// yes, appendfsync always: what it acknowledged is on disk), that a test
// can freeze (Signal), kill and restart on the same port and data.
func startServer(t *testing.T) *redistest.Server {
	return redistest.NewServer(t, "--appendonly", "yes", "--appendfsync", "always")
}

// run loads a resilient Store over a Redis store at addr (key prefix
// prefix) with writers, each appending and reading a window, for d;
// calls fault halfway; then, once fault has returned and the rest of d
// has passed, closes the Store (which must flush its outbox) and checks
// what Redis holds. It logs when the breaker closed after the fault and
// how long the outbox then took to drain.
//
// The go-redis client has ContextTimeoutEnabled, so that the attempt's
// deadline cuts a call to a frozen server, and MaxRetries -1, so that the
// retries are the Store's.
func run(t *testing.T, addr, prefix string, d time.Duration, fault func()) resilient.Stats {
	const writers, convs = 8, 16
	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, PoolTimeout: 200 * time.Millisecond})
	defer client.Close()
	cfg := chatring.Config{MaxTurns: 1000}
	primary, err := redisstore.New(client, cfg, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	s, err := resilient.New(primary, resilient.WithOutbox(100_000), resilient.WithFlushInterval(20*time.Millisecond),
		resilient.WithRetry(resilient.RetryPolicy{AttemptTimeout: 200 * time.Millisecond, MaxElapsed: 400 * time.Millisecond}),
		resilient.WithBreaker(resilient.BreakerPolicy{Failures: 5, Window: time.Second, OpenFor: 200 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	acked := make([][]acks.Ack, writers)
	var wg sync.WaitGroup
	var maxLat atomic.Int64
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for n := 0; !stop.Load(); n++ {
				a := acks.Ack{Writer: w, N: n, Conv: fmt.Sprint("c", rng.IntN(convs)), Content: fmt.Sprintf("w%d-%d", w, n)}
				start := time.Now()
				m, err := s.Append(context.Background(), a.Conv, chatring.Message{Role: chatring.User, Content: a.Content})
				if l := time.Since(start); int64(l) > maxLat.Load() {
					maxLat.Store(int64(l))
				}
				if a, err = acks.Record(a, m, err); err != nil {
					t.Error(err)
					return
				}
				acked[w] = append(acked[w], a)
				win, err := s.Window(context.Background(), a.Conv, 0)
				if err == nil {
					err = acks.CheckRead(win)
				}
				if err != nil && !errors.Is(err, chatring.ErrUnavailable) {
					t.Errorf("Window: %v", err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	time.Sleep(d / 2)
	closedBefore := s.Stats().BreakerTransitions["closed"]
	fault()
	healed := time.Now()
	var closedAt, drainedAt time.Time
	for end := healed.Add(d / 2); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		st := s.Stats()
		if closedAt.IsZero() && st.BreakerTransitions["closed"] > closedBefore {
			closedAt = time.Now()
		}
		if !closedAt.IsZero() && drainedAt.IsZero() && st.Outbox == 0 {
			drainedAt = time.Now()
		}
	}
	if !closedAt.IsZero() {
		t.Logf("breaker closed %v after the fault ended; outbox drained %v after that", closedAt.Sub(healed), drainedAt.Sub(closedAt))
	}
	stop.Store(true)
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	closeStart := time.Now()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st := s.Stats()
	t.Logf("close took %v; max append latency %v", time.Since(closeStart), time.Duration(maxLat.Load()))

	// Read back with a plain client.
	check := redis.NewClient(&redis.Options{Addr: addr})
	defer check.Close()
	reader, err := redisstore.New(check, cfg, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	windows := map[string][]chatring.Message{}
	for c := range convs {
		conv := fmt.Sprint("c", c)
		if windows[conv], err = reader.Messages(context.Background(), conv, nil); err != nil {
			t.Fatal(err)
		}
	}
	n, errs := acks.Check(windows, acked)
	for _, err := range errs {
		t.Error(err)
	}
	t.Logf("acks: %+v", n)
	t.Logf("stats: %+v", st)
	return st
}

var freeze = flag.Duration("freeze", 1500*time.Millisecond, "how long TestFreeze keeps redis-server stopped")

// TestFreeze: the server is stopped (SIGSTOP) and continued (SIGCONT):
// attempts time out, the breaker opens, appends are buffered and reads
// degraded, and the outbox drains once the breaker closes.
func TestFreeze(t *testing.T) {
	s := startServer(t)
	st := run(t, s.Addr, "freeze", 2**freeze, func() {
		s.Signal(syscall.SIGSTOP)
		time.Sleep(*freeze)
		s.Signal(syscall.SIGCONT)
	})
	if st.BreakerTransitions["open"] == 0 || st.Buffered == 0 || st.DegradedReads == 0 {
		t.Errorf("a %v freeze did not open the breaker, buffer appends and degrade reads: %+v", *freeze, st)
	}
}

// TestRestart: the server is killed (SIGKILL) and restarted on its AOF:
// every durable acknowledgment survives.
func TestRestart(t *testing.T) {
	s := startServer(t)
	run(t, s.Addr, "restart", 2*time.Second, func() {
		s.Kill()
		time.Sleep(500 * time.Millisecond)
		if err := s.Restart(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

// TestClientPauseWrite: the server holds every write for a second (reads
// go on): writes time out, and the ones that ran late are deduplicated
// by ID when retried or replayed.
func TestClientPauseWrite(t *testing.T) {
	s := startServer(t)
	run(t, s.Addr, "pause", 2*time.Second, func() {
		if reply, err := s.Command(context.Background(), "CLIENT", "PAUSE", "1000", "WRITE"); reply != "+OK" {
			t.Errorf("CLIENT PAUSE = %q, %v", reply, err)
		}
		time.Sleep(1200 * time.Millisecond)
	})
}

// TestLostReplies: a proxy lets requests reach the server and then drops
// the reply and resets the connection, 20 times: each retry finds the
// message stored once.
func TestLostReplies(t *testing.T) {
	s := startServer(t)
	p := redistest.StartProxy(t, s.Addr)
	run(t, p.Addr, "lost", 2*time.Second, func() {
		for range 20 {
			p.DropReplyTo([]byte("lost")) // the key prefix: any command of the store
			time.Sleep(50 * time.Millisecond)
		}
		if p.Dropped() == 0 {
			t.Error("the proxy dropped no reply: the test tested nothing")
		}
	})
}

// TestLateReplayStoredOnce: an append whose reply is lost is buffered in
// the outbox; before the outbox replays it, another replica appends more
// than a window of messages to the conversation, pushing the first
// attempt's message out of the window. The replay must recognise it by
// its ID (the Redis store keeps tokens beyond the window) and store
// nothing: Redis's Seq counts each message once.
func TestLateReplayStoredOnce(t *testing.T) {
	server := startServer(t)
	p := redistest.StartProxy(t, server.Addr)
	client := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	defer client.Close()
	cfg := chatring.Config{MaxTurns: 1}
	primary, err := redisstore.New(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := resilient.New(primary, resilient.WithOutbox(10), resilient.WithFlushInterval(time.Hour),
		resilient.WithRetry(resilient.RetryPolicy{Attempts: 1, AttemptTimeout: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Load the script, so that the dropped reply is that of a script that
	// ran (a first EVALSHA gets NOSCRIPT and stores nothing).
	if _, err := s.Append(ctx, "warm-up", chatring.Message{Role: chatring.User, Content: "x"}); err != nil {
		t.Fatal(err)
	}
	p.DropReplyTo([]byte("chatring:")) // the key prefix: the append's script
	_, err = s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "reply lost"})
	if !errors.Is(err, resilient.ErrBuffered) {
		t.Fatalf("Append whose reply was lost: %v, want ErrBuffered (%d replies dropped, %+v)", err, p.Dropped(), s.Stats())
	}
	if p.Dropped() != 1 {
		t.Fatalf("the proxy dropped %d replies, want 1", p.Dropped())
	}
	// Another replica, on the server directly.
	direct := redis.NewClient(&redis.Options{Addr: server.Addr})
	defer direct.Close()
	other, err := redisstore.New(direct, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := other.Append(ctx, "c", chatring.Message{Role: chatring.Assistant, Content: fmt.Sprint("newer ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(ctx); err != nil { // replays the outbox
		t.Fatalf("Close: %v", err)
	}
	if st := s.Stats(); st.Replayed != 1 || st.Unflushed != 0 {
		t.Errorf("Stats: replayed %d, unflushed %d; want 1, 0", st.Replayed, st.Unflushed)
	}
	_, meta, _ := other.Keys("c")
	if seq, err := direct.HGet(ctx, meta, "seq").Result(); err != nil || seq != "6" {
		t.Errorf("Redis gave %s Seqs (%v), want 6: the first attempt's message and five newer, the replay storing nothing", seq, err)
	}
	win, err := other.Messages(ctx, "c", nil)
	if err != nil || len(win) != 2 || win[0].Content != "newer 3" || win[1].Content != "newer 4" {
		t.Errorf("window = %v, %v; want the two newest", win, err)
	}
}

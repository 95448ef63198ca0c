package redisstore_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// recorder is an Observer that records "op kind" for every observation,
// and checks that each duration is positive.
type recorder struct {
	t   *testing.T
	mu  sync.Mutex
	got []string
}

func (r *recorder) Observe(op string, d time.Duration, kind redisstore.ErrorKind) {
	if d <= 0 {
		r.t.Errorf("Observe(%s, %v, %v): want a positive duration", op, d, kind)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, op+" "+kind.String())
}

// take returns the observations so far and forgets them.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// TestObserver: every method that calls Redis is observed once, with its
// op name and the kind of its error; calls rejected before Redis are not
// observed.
func TestObserver(t *testing.T) {
	client, _ := singleNode(t)
	rec := &recorder{t: t}
	s := newStore(t, client, chatring.Config{MaxTurns: 2}, redisstore.WithObserver(rec))
	ctx := t.Context()
	for name, call := range calls(s, "conv") {
		if err := call(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	got := rec.take()
	slices.Sort(got)
	want := []string{"append none", "clear none", "delete none", "messages none", "set_system_prompt none", "window none"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("observations (-want +got):\n%s", diff)
	}
	// AppendBatch: once per batch that reaches Redis; a batch cut short by
	// an invalid message sends (and observes) what comes before it; one
	// whose first message is invalid sends nothing.
	user := chatring.Message{Role: chatring.User, Content: "x"}
	bad := chatring.Message{Role: "robot", Content: "x"}
	for i, b := range [][]chatring.Message{{user, user}, {user, bad}, {bad, user}} {
		if _, err := s.AppendBatch(ctx, "conv", b); (err != nil) != (i > 0) {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if diff := cmp.Diff([]string{"append_batch none", "append_batch none"}, rec.take()); diff != "" {
		t.Errorf("AppendBatch observations (-want +got):\n%s", diff)
	}
	got = append(got, "append_batch none")
	for _, op := range got {
		if !slices.Contains(redisstore.Ops(), strings.Fields(op)[0]) {
			t.Errorf("observed op %q is not in Ops() %q", op, redisstore.Ops())
		}
	}

	// Rejected before Redis: not observed.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, err := range []error{
		func() error {
			_, err := s.Append(ctx, "conv", chatring.Message{Role: "robot", Content: "x"})
			return err
		}(),
		func() error { _, err := s.Messages(ctx, "", nil); return err }(),
		func() error { _, err := s.Window(canceled, "conv", 0); return err }(),
		s.Delete(ctx, strings.Repeat("x", 300)),
	} {
		if err == nil {
			t.Fatal("a call that should be rejected succeeded")
		}
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("rejected calls were observed: %q", got)
	}

	// KindFormat: a conversation in another format version.
	_, meta, _ := s.Keys("old")
	if err := client.HSet(ctx, meta, "v", "9").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Window(ctx, "old", 0); err == nil {
		t.Fatal("Window of a conversation in format 9 succeeded")
	}
	if _, err := s.Append(ctx, "old", chatring.Message{Role: chatring.User, Content: "x"}); err == nil {
		t.Fatal("Append to a conversation in format 9 succeeded")
	}
	// KindOther: the messages key holds a string (WRONGTYPE).
	msgs, _, _ := s.Keys("wrong")
	if err := client.Set(ctx, msgs, "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Messages(ctx, "wrong", nil); err == nil {
		t.Fatal("Messages of a string key succeeded")
	}
	want = []string{"window format", "append format", "messages other"}
	if diff := cmp.Diff(want, rec.take()); diff != "" {
		t.Errorf("observations (-want +got):\n%s", diff)
	}
}

// TestObserverUnavailableTimeoutCanceled: a refused connection is
// KindUnavailable; a server that never answers is KindTimeout when the
// caller's deadline passes, KindCanceled when the caller cancels.
func TestObserverUnavailableTimeoutCanceled(t *testing.T) {
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	rec := &recorder{t: t}
	s := newStore(t, noRetries(t, redis.Options{Addr: gone.Addr().String()}), chatring.Config{}, redisstore.WithObserver(rec))
	if err := s.Clear(t.Context(), "c"); err == nil {
		t.Fatal("Clear on a closed port succeeded")
	}

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() { // accept, read and never answer
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = c.Read(make([]byte, 1<<16)); <-t.Context().Done() }()
		}
	}()
	s = newStore(t, noRetries(t, redis.Options{Addr: silent.Addr().String(), ContextTimeoutEnabled: true, Protocol: 2, ReadTimeout: 500 * time.Millisecond}),
		chatring.Config{}, redisstore.WithObserver(rec))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := s.Messages(ctx, "c", nil); err == nil {
		t.Fatal("Messages on a silent server succeeded")
	}
	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := s.Window(ctx, "c", 0); err == nil {
		t.Fatal("Window on a silent server succeeded")
	}
	want := []string{"clear unavailable", "messages timeout", "window canceled"}
	if diff := cmp.Diff(want, rec.take()); diff != "" {
		t.Errorf("observations (-want +got):\n%s", diff)
	}
}

// TestKindOf: the kinds of the errors the Store returns, and their
// names, which are metric label values.
func TestKindOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "none"},
		{fmt.Errorf("x: %w: %w", chatring.ErrUnavailable, context.DeadlineExceeded), "unavailable"},
		{fmt.Errorf("x: %w (%w)", context.Canceled, net.ErrClosed), "canceled"},
		{fmt.Errorf("x: %w (%w)", context.DeadlineExceeded, net.ErrClosed), "timeout"},
		{fmt.Errorf("x: %w: bad", redisstore.ErrFormat), "format"},
		{fmt.Errorf("x: %w (%w)", chatring.ErrClosed, redis.ErrClosed), "other"},
		{fmt.Errorf("WRONGTYPE"), "other"},
	} {
		if got := redisstore.KindOf(c.err).String(); got != c.want {
			t.Errorf("KindOf(%v) = %s, want %s", c.err, got, c.want)
		}
	}
	var names []string
	for _, k := range redisstore.ErrorKinds() {
		names = append(names, k.String())
	}
	if diff := cmp.Diff([]string{"canceled", "timeout", "unavailable", "format", "other"}, names); diff != "" {
		t.Errorf("ErrorKinds (-want +got):\n%s", diff)
	}
}

// TestObserverCoalescedReads: with WithReadCoalescing, every read is
// observed once, whether it sent a Redis read, shared one or gave up
// waiting for one (observed canceled), although Redis served fewer reads
// than the calls (else nothing was coalesced and the test proves
// nothing).
func TestObserverCoalescedReads(t *testing.T) {
	redistest.Require(t)
	server := redistest.NewServer(t)
	proxy := redistest.StartProxy(t, server.Addr, redistest.WithDelay(5*time.Millisecond))
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr, PoolSize: 64})
	t.Cleanup(func() { client.Close() })
	rec := &recorder{t: t}
	s := newStore(t, client, chatring.Config{MaxTurns: 2}, redisstore.WithObserver(rec), redisstore.WithReadCoalescing())
	ctx := t.Context()
	mustAppend(t, s, "hot", "hello")
	rec.take()
	lranges := func() int {
		info, err := client.Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(info) {
			if rest, ok := strings.CutPrefix(line, "cmdstat_lrange:calls="); ok {
				n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
				return n
			}
		}
		return 0
	}
	before := lranges()

	const readers, rounds = 16, 5
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			for range rounds {
				var err error
				if i%2 == 0 {
					_, err = s.Messages(ctx, "hot", nil)
				} else {
					_, err = s.Window(ctx, "hot", 0)
				}
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	// One more that gives up while it waits behind the reads in the air.
	wg.Go(func() {
		for range rounds {
			short, cancel := context.WithCancel(ctx)
			time.AfterFunc(time.Millisecond, cancel)
			_, _ = s.Messages(short, "hot", nil)
			cancel()
		}
	})
	wg.Wait()
	sent := lranges() - before
	counts := map[string]int{}
	for _, o := range rec.take() {
		counts[o]++
	}
	if got, want := counts["messages none"]+counts["messages canceled"], readers/2*rounds+rounds; got != want {
		t.Errorf("%d Messages calls observed, want %d: %v", got, want, counts)
	}
	if got, want := counts["window none"], readers/2*rounds; got != want {
		t.Errorf("%d Window calls observed, want %d: %v", got, want, counts)
	}
	if len(counts) > 3 {
		t.Errorf("unexpected observations: %v", counts)
	}
	if sent >= readers*rounds {
		t.Fatalf("Redis served %d reads for %d calls: nothing was coalesced", sent, readers*rounds)
	}
	t.Logf("observed %v; Redis served %d reads", counts, sent)
}

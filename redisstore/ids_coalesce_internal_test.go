package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/redis/go-redis/v9"
)

// runAppend runs append.lua on conv with the given raw token.
func runAppend(t *testing.T, s *Store, client redis.Scripter, conv, token, content string) ([]any, error) {
	t.Helper()
	body, err := encodeMessage(chatring.Message{Role: chatring.User, Content: content})
	if err != nil {
		t.Fatal(err)
	}
	res, err := appendScript.Run(t.Context(), client, s.keys(conv), body, token, s.window, s.ttl, FormatVersion, s.horizon).Result()
	if err != nil {
		return nil, err
	}
	return res.([]any), nil
}

// TestTokenOfTheWrongLengthRefused: append.lua refuses a token that is not
// 22 bytes before it writes anything.
func TestTokenOfTheWrongLengthRefused(t *testing.T) {
	s, client := serverStore(t)
	for _, tok := range []string{"", "short", idempotencyToken("a") + "x"} {
		if r, err := runAppend(t, s, client, "c", tok, "x"); err == nil || !strings.Contains(err.Error(), "CHATRING_TOKEN") {
			t.Errorf("token %q: reply %v, %v; want a CHATRING_TOKEN error", tok, r, err)
		}
	}
	if n, _ := client.Exists(t.Context(), s.keys("c")...).Result(); n != 0 {
		t.Errorf("refused appends left %d keys", n)
	}
}

// fillPipelined appends messages first..last-1 (content i, ID id(i)) to
// conv with pipelined runs of append.lua, a thousand per round trip.
func fillPipelined(t *testing.T, s *Store, client *redis.Client, conv string, first, last int, id func(int) string) {
	t.Helper()
	ctx := t.Context()
	if err := appendScript.Load(ctx, client).Err(); err != nil {
		t.Fatal(err)
	}
	for start := first; start < last; start += 1000 {
		p := client.Pipeline()
		for i := start; i < min(start+1000, last); i++ {
			body, _ := encodeMessage(chatring.Message{Role: chatring.User, Content: fmt.Sprint(i), ID: id(i)})
			appendScript.EvalSha(ctx, p, s.keys(conv), body, idempotencyToken(id(i)), s.window, s.ttl, FormatVersion, s.horizon)
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTokensKeptForTheHorizon: ids holds the tokens of exactly the newest
// max(horizon, window) appends, scored by Seq, for small and large windows
// and horizons. A retry of the oldest of them is recognised: the stored
// message when it is in the window, its Seq when it was pushed out; a
// retry of the one trimmed just before is a new message. At the default
// horizon and a window below it, ids stays a listpack.
func TestTokensKeptForTheHorizon(t *testing.T) {
	for _, c := range []struct{ turns, horizon, keep int }{
		{1, 0, DefaultIdempotencyHorizon},
		{10, 5, 20},
		{10, 300, 300},
		{1000, 0, 2000},
	} {
		t.Run(fmt.Sprintf("turns=%d,horizon=%d", c.turns, c.horizon), func(t *testing.T) {
			s, client := serverStoreWith(t, chatring.Config{MaxTurns: c.turns}, WithIdempotencyHorizon(c.horizon))
			ctx := t.Context()
			total := c.keep + 3
			id := func(i int) string { return fmt.Sprintf("id-%d", i) }
			fillPipelined(t, s, client, "c", 0, total, id)
			_, _, idsKey := s.Keys("c")
			tokens, err := client.ZRangeWithScores(ctx, idsKey, 0, -1).Result()
			if err != nil || len(tokens) != c.keep {
				t.Fatalf("ids holds %d tokens (%v), want %d", len(tokens), err, c.keep)
			}
			for j, z := range tokens {
				if i := total - c.keep + j; z.Member != idempotencyToken(id(i)) || z.Score != float64(i+1) {
					t.Fatalf("ids[%d] = %v, want message %d's token scored %d", j, z, i, i+1)
				}
			}
			if enc, _ := client.ObjectEncoding(ctx, idsKey).Result(); c.keep <= 128 && enc != "listpack" {
				t.Errorf("ids of %d tokens is a %s, want a listpack", c.keep, enc)
			}
			oldest := total - c.keep
			got, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "retry", ID: id(oldest)})
			wantContent := "retry" // pushed out: the message as sent, with its Seq
			if c.keep <= 2*c.turns {
				wantContent = fmt.Sprint(oldest) // in the window: the stored message
			}
			if err != nil || got.Seq != uint64(oldest+1) || got.Content != wantContent {
				t.Errorf("retry of the oldest kept token = %d:%q, %v; want %d:%q", got.Seq, got.Content, err, oldest+1, wantContent)
			}
			got, err = s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "new", ID: id(oldest - 1)})
			if err != nil || got.Content != "new" || got.Seq != uint64(total+1) {
				t.Errorf("retry of a trimmed token = %d:%q, %v; want it appended as new, Seq %d", got.Seq, got.Content, err, total+1)
			}
			if n, _ := client.ZCard(ctx, idsKey).Result(); n != int64(c.keep) {
				t.Errorf("after one more append ids holds %d tokens, want %d", n, c.keep)
			}
		})
	}
}

// TestLateRetryNotStoredTwice is the case the horizon is for: an Append
// whose reply was lost is retried after newer appends pushed its message
// out of the window (as the resilient wrapper's outbox does after an
// outage). The retry returns the first Seq and stores nothing.
func TestLateRetryNotStoredTwice(t *testing.T) {
	s, _ := serverStoreWith(t, chatring.Config{MaxTurns: 2})
	ctx := t.Context()
	lost := chatring.Message{Role: chatring.User, Content: "sent once", ID: "req-1"}
	first, err := s.Append(ctx, "c", lost)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.Assistant, Content: fmt.Sprint("newer ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	retry, err := s.Append(ctx, "c", lost)
	if err != nil || retry.Seq != first.Seq || retry.Content != lost.Content || retry.ID != lost.ID {
		t.Errorf("late retry = %+v, %v; want the message with Seq %d", retry, err, first.Seq)
	}
	win, err := s.Messages(ctx, "c", nil)
	if err != nil || len(win) != 4 || win[3].Seq != 11 {
		t.Errorf("window after the late retry = %v, %v; want Seq 8..11, nothing appended", win, err)
	}
	if st := s.Stats(); st.Appended != 11 || st.Deduplicated != 1 {
		t.Errorf("Stats = %d appended, %d deduplicated; want 11, 1", st.Appended, st.Deduplicated)
	}
}

// TestClearKeepsTokensDeleteForgets: after Clear an ID that was appended
// before is still recognised (its Seq, nothing stored); after Delete it is
// a new message at Seq 1, and Delete leaves no key.
func TestClearKeepsTokensDeleteForgets(t *testing.T) {
	s, client := serverStore(t)
	ctx := t.Context()
	m := chatring.Message{Role: chatring.User, Content: "hi", ID: "req"}
	if _, err := s.Append(ctx, "c", m); err != nil {
		t.Fatal(err)
	}
	if err := s.Clear(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Append(ctx, "c", m)
	if err != nil || got.Seq != 1 {
		t.Errorf("Append after Clear = %+v, %v; want Seq 1, recognised", got, err)
	}
	if win, err := s.Messages(ctx, "c", nil); err != nil || len(win) != 0 {
		t.Errorf("window after Clear and a retry = %v, %v; want empty", win, err)
	}
	if err := s.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.Exists(ctx, s.keys("c")...).Result(); n != 0 {
		t.Errorf("Delete left %d keys", n)
	}
	got, err = s.Append(ctx, "c", m)
	if err != nil || got.Seq != 1 || got.Content != "hi" {
		t.Errorf("Append after Delete = %+v, %v; want Seq 1", got, err)
	}
	if win, err := s.Messages(ctx, "c", nil); err != nil || len(win) != 1 {
		t.Errorf("window after Delete and an Append = %v, %v; want the message", win, err)
	}
}

// TestTokenBeyondMetaIgnored: a token scored above meta's seq (meta lost
// while ids lived, which only a hand-made change can do) is not taken for
// a stored message: the append is new.
func TestTokenBeyondMetaIgnored(t *testing.T) {
	s, client := serverStore(t)
	ctx := t.Context()
	m := chatring.Message{Role: chatring.User, Content: "hi", ID: "req"}
	for range 3 {
		if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, "c", m); err != nil {
		t.Fatal(err)
	}
	msgs, meta, _ := s.Keys("c")
	if err := client.Del(ctx, msgs, meta).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Append(ctx, "c", m)
	if err != nil || got.Seq != 1 {
		t.Errorf("Append = %+v, %v; want a new message at Seq 1", got, err)
	}
}

// TestCoalescedLeaderCanceled: when the call that sends a shared read
// gives up, the read fails for it alone: the calls that joined it still
// get the window, without an error.
func TestCoalescedLeaderCanceled(t *testing.T) {
	c := &coalescer{flights: map[string]*flight{}}
	inAir := make(chan struct{})
	release := make(chan struct{})
	first := make(chan struct{})
	go func() { // an earlier flight, so that the next ones queue behind it
		c.read(context.Background(), "conv", func(context.Context) (rawWindow, error) {
			close(inAir)
			<-release
			return rawWindow{list: []string{"old"}}, nil
		})
		close(first)
	}()
	<-inAir
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	results := make([]string, 4)
	errs := make([]error, 4)
	fetch := func(ctx context.Context) (rawWindow, error) {
		if err := ctx.Err(); err != nil {
			return rawWindow{}, err
		}
		return rawWindow{list: []string{"new"}}, nil
	}
	for i := range 4 {
		cctx := context.Background()
		if i == 0 {
			cctx = ctx
		}
		wg.Go(func() {
			raw, err := c.read(cctx, "conv", fetch)
			errs[i] = err
			if len(raw.list) == 1 {
				results[i] = raw.list[0]
			}
		})
	}
	for { // every read waits behind the first flight
		c.mu.Lock()
		n := c.flights["conv"].next
		ok := n != nil && n.waiters == 4
		c.mu.Unlock()
		if ok {
			break
		}
	}
	cancel()
	close(release)
	wg.Wait()
	<-first
	for i := 1; i < 4; i++ {
		if errs[i] != nil || results[i] != "new" {
			t.Errorf("read %d = %q, %v; want the new window", i, results[i], errs[i])
		}
	}
	if errs[0] != nil && !errors.Is(errs[0], context.Canceled) {
		t.Errorf("the canceled read = %v", errs[0])
	}
	if len(c.flights) != 0 {
		t.Errorf("%d flights left", len(c.flights))
	}
}

// TestCoalescedReadsFreshThroughDelay: with a network round trip of a few
// milliseconds (the delaying proxy), a coalesced read called after an
// Append was acknowledged holds that Append, even while other reads of the
// conversation are in the air. A coalescer that let a read join a flight
// already sent fails this test.
func TestCoalescedReadsFreshThroughDelay(t *testing.T) {
	server := redistest.NewServer(t)
	proxy := redistest.StartProxy(t, server.Addr, redistest.WithDelay(2*time.Millisecond))
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr, PoolSize: 64})
	t.Cleanup(func() { client.Close() })
	s, err := New(client, chatring.Config{MaxTurns: 50}, WithReadCoalescing())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var acked atomic.Uint64
	stop := make(chan struct{})
	var stale atomic.Int64
	var wg sync.WaitGroup
	for range 8 { // background readers keep a flight in the air
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Messages(ctx, "hot", nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range 100 {
		m, err := s.Append(ctx, "hot", chatring.Message{Role: chatring.User, Content: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		acked.Store(m.Seq)
		// A read right after the acknowledgement, while the background
		// readers' flight (sent before the Append returned) is in the air.
		msgs, err := s.Messages(ctx, "hot", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 || msgs[len(msgs)-1].Seq < m.Seq {
			stale.Add(1)
		}
	}
	close(stop)
	wg.Wait()
	if n := stale.Load(); n > 0 {
		t.Errorf("%d of 100 reads called after an acknowledged Append missed it", n)
	}
}

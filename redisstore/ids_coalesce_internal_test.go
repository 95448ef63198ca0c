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
func runAppend(t *testing.T, s *Store, client redis.Scripter, conv, token, content string) []any {
	t.Helper()
	body, err := encodeMessage(chatring.Message{Role: chatring.User, Content: content})
	if err != nil {
		t.Fatal(err)
	}
	res, err := appendScript.Run(t.Context(), client, s.keys(conv), body, token, s.window, s.ttl, FormatVersion).Result()
	if err != nil {
		t.Fatal(err)
	}
	return res.([]any)
}

// TestTokenFoundAfterAnUnalignedMatch: when a token occurs first at an
// offset that is not a multiple of 22 (straddling two stored tokens) and
// again at a boundary, append.lua must go on searching and find the
// aligned one: the message is a duplicate of the one stored under it.
func TestTokenFoundAfterAnUnalignedMatch(t *testing.T) {
	s, client := serverStore(t)
	tok := idempotencyToken("target")
	p := strings.Repeat("x", 11) + tok[:11]
	q := tok[11:] + strings.Repeat("y", 11)
	for i, k := range []string{p, q, tok} {
		if r := runAppend(t, s, client, "c", k, fmt.Sprint(i)); r[0] != int64(1) {
			t.Fatalf("append %d: %v", i, r)
		}
	}
	if ids, _ := client.HGet(t.Context(), s.keys("c")[1], "ids").Result(); strings.Index(ids, tok) != 11 {
		t.Fatalf("test setup: the token is not first found at offset 11 of %q", ids)
	}
	r := runAppend(t, s, client, "c", tok, "again")
	if r[0] != int64(0) {
		t.Fatalf("the aligned token was not found: %v", r)
	}
	m, err := decodeMessage("append", r[1].(string))
	if err != nil || m.Seq != 3 || m.Content != "2" {
		t.Errorf("the duplicate returned %+v, %v; want the third message", m, err)
	}
}

// TestTokensOfTheSmallestAndLargestWindows: ids holds exactly the window's
// tokens, at MaxTurns 1 and 1000 (MaxMaxTurns takes 90 s under -race: see append.lua); the oldest message of the
// window is still found, the one just trimmed is not.
func TestTokensOfTheSmallestAndLargestWindows(t *testing.T) {
	for _, turns := range []int{1, 1000} {
		t.Run(fmt.Sprint(turns), func(t *testing.T) {
			server := redistest.NewServer(t)
			client := redis.NewClient(&redis.Options{Addr: server.Addr})
			t.Cleanup(func() { client.Close() })
			s, err := New(client, chatring.Config{MaxTurns: turns})
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			window := 2 * turns
			total := window + 3
			id := func(i int) string { return fmt.Sprintf("id-%d", i) }
			if err := appendScript.Load(ctx, client).Err(); err != nil {
				t.Fatal(err)
			}
			for start := 0; start < total; start += 1000 {
				p := client.Pipeline()
				for i := start; i < min(start+1000, total); i++ {
					body, _ := encodeMessage(chatring.Message{Role: chatring.User, Content: fmt.Sprint(i), ID: id(i)})
					appendScript.EvalSha(ctx, p, s.keys("c"), body, idempotencyToken(id(i)), s.window, s.ttl, FormatVersion)
				}
				if _, err := p.Exec(ctx); err != nil {
					t.Fatal(err)
				}
			}
			ids, err := client.HGet(ctx, s.keys("c")[1], "ids").Result()
			if err != nil || len(ids) != 22*window {
				t.Fatalf("ids holds %d bytes (%v), want %d", len(ids), err, 22*window)
			}
			if ids[:22] != idempotencyToken(id(total-window)) || ids[len(ids)-22:] != idempotencyToken(id(total-1)) {
				t.Error("ids does not hold the window's tokens, oldest first")
			}
			oldest, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "retry", ID: id(total - window)})
			if err != nil || oldest.Content != fmt.Sprint(total-window) || oldest.Seq != uint64(total-window+1) {
				t.Errorf("retry of the window's oldest = %+v, %v; want the stored message", oldest, err)
			}
			gone, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "new", ID: id(total - window - 1)})
			if err != nil || gone.Content != "new" || gone.Seq != uint64(total+1) {
				t.Errorf("retry of a trimmed message = %+v, %v; want it appended as new", gone, err)
			}
		})
	}
}

// TestClearAndDeleteForgetTokens: after Clear, and after Delete, an ID
// that was in the window is a new message; Clear keeps Seq, Delete
// restarts it.
func TestClearAndDeleteForgetTokens(t *testing.T) {
	s, client := serverStore(t)
	ctx := t.Context()
	m := chatring.Message{Role: chatring.User, Content: "hi", ID: "req"}
	if _, err := s.Append(ctx, "c", m); err != nil {
		t.Fatal(err)
	}
	if err := s.Clear(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.HExists(ctx, s.keys("c")[1], "ids").Result(); n {
		t.Error("Clear left meta's ids")
	}
	got, err := s.Append(ctx, "c", m)
	if err != nil || got.Seq != 2 {
		t.Errorf("Append after Clear = %+v, %v; want Seq 2", got, err)
	}
	if err := s.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.Exists(ctx, s.keys("c")...).Result(); n != 0 {
		t.Errorf("Delete left %d keys", n)
	}
	got, err = s.Append(ctx, "c", m)
	if err != nil || got.Seq != 1 {
		t.Errorf("Append after Delete = %+v, %v; want Seq 1", got, err)
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

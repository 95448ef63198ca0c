package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
)

// testConcurrentIdempotency: goroutines append the same IDs at once; each
// ID is stored once and every goroutine gets the same message for it.
func testConcurrentIdempotency(t *testing.T, newStore NewStore) {
	const goroutines, ids = 8, 30
	s := open(t, newStore, chatring.Config{MaxTurns: ids})
	got := make([][]chatring.Message, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range ids {
				m, err := s.Append(context.Background(), "same-ids",
					chatring.Message{Role: chatring.User, Content: fmt.Sprint("message ", i), ID: fmt.Sprint("id-", i)})
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				got[g] = append(got[g], m)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for g := 1; g < goroutines; g++ {
		if diff := cmp.Diff(got[0], got[g]); diff != "" {
			t.Fatalf("goroutines 0 and %d got different messages for the same IDs (-0 +%d):\n%s", g, g, diff)
		}
	}
	win := messages(t, s, "same-ids")
	if len(win) != ids {
		t.Fatalf("window holds %d messages, want %d: one per ID", len(win), ids)
	}
	for i, m := range win {
		if m.Seq != uint64(i+1) {
			t.Errorf("window[%d].Seq = %d, want %d", i, m.Seq, i+1)
		}
	}
}

// testCloseRacesWrites: Appends racing with Close either succeed, and are
// then in the window when reads still work, or fail with ErrClosed.
func testCloseRacesWrites(t *testing.T, newStore NewStore) {
	const writers = 8
	s := newStore(t, chatring.Config{MaxTurns: 1000, MaxConversations: 1000})
	var acked sync.Map // content -> true
	var started sync.WaitGroup
	var wg sync.WaitGroup
	for w := range writers {
		started.Add(1)
		wg.Go(func() {
			conv := fmt.Sprint("racing-", w%2)
			for i := 0; ; i++ {
				content := fmt.Sprintf("w%d-%d", w, i)
				_, err := s.Append(context.Background(), conv, chatring.Message{Role: chatring.User, Content: content})
				if i == 10 {
					started.Done()
				}
				switch {
				case err == nil:
					acked.Store(content, conv)
				case errors.Is(err, chatring.ErrClosed):
					if i < 10 {
						started.Done()
					}
					return
				default:
					t.Errorf("Append racing with Close: %v, want nil or ErrClosed", err)
					if i < 10 {
						started.Done()
					}
					return
				}
				if i > 400 { // bounded: Close may come late on a slow machine
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	started.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	closeErr := s.Close(ctx)
	if closeErr != nil {
		t.Errorf("Close with writes in flight: %v", closeErr)
	}
	// Close waited for the writes in flight, and later ones fail: what
	// reads return now is final.
	atClose := make([][]chatring.Message, 2)
	for c := range 2 {
		atClose[c], _ = s.Messages(context.Background(), fmt.Sprint("racing-", c), nil)
	}
	wg.Wait()
	inWindow := map[string]bool{}
	for c := range 2 {
		msgs, err := s.Messages(context.Background(), fmt.Sprint("racing-", c), nil)
		if errors.Is(err, chatring.ErrClosed) {
			return // this store does not read after Close
		}
		if err != nil {
			t.Fatalf("Messages after Close: %v", err)
		}
		for _, m := range msgs {
			inWindow[m.Content] = true
		}
		if diff := cmp.Diff(brief(atClose[c]), brief(msgs)); closeErr == nil && diff != "" {
			t.Errorf("racing-%d changed after Close returned: a write in flight landed after it (-at Close +later):\n%s", c, diff)
		}
	}
	acked.Range(func(k, _ any) bool {
		if !inWindow[k.(string)] {
			t.Errorf("append %s was acknowledged but is not in the window after Close", k)
		}
		return true
	})
}

// testIdleTTL: a conversation neither written nor read for the idle TTL is
// deleted; one that is accessed keeps living, whichever method accesses it
// (Append, a retried Append whose ID is stored already, Messages, Window,
// SetSystemPrompt and Clear all count).
func testIdleTTL(t *testing.T, newStore NewStore) {
	const ttl = time.Second
	s := open(t, newStore, chatring.Config{IdleTTL: ttl})
	ctx := t.Context()
	mustAppend(t, s, "idle", chatring.User, "forgotten")
	if err := s.SetSystemPrompt(ctx, "idle", "prompt"); err != nil {
		t.Fatal(err)
	}
	// One conversation kept alive by each method.
	keep := map[string]func() error{
		"kept-messages": func() error { _, err := s.Messages(ctx, "kept-messages", nil); return err },
		"kept-window":   func() error { _, err := s.Window(ctx, "kept-window", 0); return err },
		"kept-prompt":   func() error { return s.SetSystemPrompt(ctx, "kept-prompt", "kept prompt") },
		"kept-clear":    func() error { return s.Clear(ctx, "kept-clear") },
		"kept-retry": func() error { // an Append of an ID already stored
			_, err := s.Append(ctx, "kept-retry", chatring.Message{Role: chatring.User, Content: "remembered", ID: "once"})
			return err
		},
	}
	for conv := range keep {
		m := chatring.Message{Role: chatring.User, Content: "remembered"}
		if conv == "kept-retry" {
			// A message before the ID's shows whether the retries
			// recreated an expired conversation.
			mustAppend(t, s, conv, chatring.User, "before")
			m.ID = "once"
		}
		if _, err := s.Append(ctx, conv, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetSystemPrompt(ctx, "kept-clear", "kept prompt"); err != nil {
		t.Fatal(err)
	}
	appended := mustAppend(t, s, "kept-append", chatring.User, "remembered").Seq
	var restarted []string // Appends to kept-append that did not continue its Seq
	var maxGap time.Duration
	last := time.Now()
	for end := last.Add(5 * ttl / 2); time.Now().Before(end); {
		time.Sleep(ttl / 10)
		for conv, access := range keep {
			if err := access(); err != nil {
				t.Fatalf("%s: %v", conv, err)
			}
		}
		m := mustAppend(t, s, "kept-append", chatring.User, "tick")
		if m.Seq != appended+1 {
			restarted = append(restarted, fmt.Sprintf("Seq %d after %d", m.Seq, appended))
		}
		appended = m.Seq
		now := time.Now()
		maxGap = max(maxGap, now.Sub(last))
		last = now
	}
	if w, err := s.Window(ctx, "idle", 0); err != nil || len(w) != 0 {
		t.Errorf("a conversation idle for 2.5 × its TTL still has Window = %v, %v", brief(w), err)
	}
	if m := mustAppend(t, s, "idle", chatring.User, "new"); m.Seq != 1 {
		t.Errorf("Append after the idle TTL got Seq %d, want 1: the conversation was not deleted", m.Seq)
	}
	if maxGap >= ttl {
		// The machine stalled the keep-alive calls for a whole TTL: the
		// conversations may rightly have expired, so nothing can be said.
		t.Logf("keep-alive calls were %v apart (TTL %v); not checking that the accessed conversations lived", maxGap, ttl)
		return
	}
	if len(restarted) > 0 {
		t.Errorf("a conversation appended to every %v expired with TTL %v: %v", ttl/10, ttl, restarted)
	}
	want := map[string][]string{
		"kept-messages": {"1:user:remembered"},
		"kept-window":   {"1:user:remembered"},
		"kept-retry":    {"1:user:before", "2:user:remembered"},
		"kept-prompt":   {"0:system:kept prompt", "1:user:remembered"},
		"kept-clear":    {"0:system:kept prompt"}, // expired, it would have no prompt
	}
	for conv, w := range want {
		got, err := s.Window(ctx, conv, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(w, brief(got)); diff != "" {
			t.Errorf("a conversation accessed every %v (%s) expired with TTL %v (-want +got):\n%s", ttl/10, conv, ttl, diff)
		}
	}
}

// testHammer runs writers and readers over many conversations at once and
// checks every window it reads.
func testHammer(t *testing.T, newStore NewStore) {
	const (
		convs   = 32
		writers = 4
		readers = 4
		maxTurn = 2 // a window of 4: constant eviction
	)
	s := open(t, newStore, chatring.Config{MaxTurns: maxTurn})
	type conversation struct {
		name  string
		acked atomic.Uint64 // the highest Seq an Append returned
		mu    sync.Mutex
		bySeq map[uint64]string // content Append returned each Seq for
	}
	cs := make([]*conversation, convs)
	for i := range cs {
		cs[i] = &conversation{name: fmt.Sprintf("hammer:{%d}", i), bySeq: map[uint64]string{}}
	}
	record := func(c *conversation, m chatring.Message) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if prev, dup := c.bySeq[m.Seq]; dup && prev != m.Content {
			return fmt.Errorf("%s: Seq %d returned for %q and %q", c.name, m.Seq, prev, m.Content)
		}
		c.bySeq[m.Seq] = m.Content
		for {
			old := c.acked.Load()
			if m.Seq <= old || c.acked.CompareAndSwap(old, m.Seq) {
				return nil
			}
		}
	}
	// check verifies one window read of c; ackedBefore is c.acked loaded
	// before the read started.
	check := func(c *conversation, ackedBefore uint64, win []chatring.Message) error {
		for i, m := range win {
			if i > 0 && m.Seq != win[i-1].Seq+1 {
				return fmt.Errorf("%s: window not contiguous: %v", c.name, brief(win))
			}
			if !strings.HasPrefix(m.Content, c.name+"/") {
				return fmt.Errorf("%s: holds %q, a message of another conversation", c.name, m.Content)
			}
			c.mu.Lock()
			want, ok := c.bySeq[m.Seq]
			c.mu.Unlock()
			if ok && want != m.Content {
				return fmt.Errorf("%s: Seq %d holds %q, but Append returned it for %q", c.name, m.Seq, m.Content, want)
			}
		}
		if len(win) > 2*maxTurn {
			return fmt.Errorf("%s: window of %d messages, capacity %d", c.name, len(win), 2*maxTurn)
		}
		if ackedBefore > 0 && (len(win) == 0 || win[len(win)-1].Seq < ackedBefore) {
			return fmt.Errorf("%s: Seq %d was acknowledged before the read, which returned %v", c.name, ackedBefore, brief(win))
		}
		return nil
	}

	var writing sync.WaitGroup
	var done atomic.Bool
	errs := make(chan error, writers+readers)
	for w := range writers {
		writing.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for n := range *hammerOps {
				c := cs[rng.IntN(convs)]
				in := chatring.Message{Role: chatring.User, Content: fmt.Sprintf("%s/w%d/%d", c.name, w, n)}
				if n%5 == 0 {
					in.ID = fmt.Sprintf("w%d-%d", w, n)
				}
				m, err := s.Append(context.Background(), c.name, in)
				if err == nil {
					err = record(c, m)
				}
				if err == nil && in.ID != "" && n%10 == 0 { // a retry of the same ID
					var again chatring.Message
					again, err = s.Append(context.Background(), c.name, in)
					switch {
					case err != nil:
					case again.Seq == m.Seq:
					case again.Seq > m.Seq+2*maxTurn:
						// The first attempt was evicted by other writers
						// meanwhile: the ID no longer matched.
						err = record(c, again)
					default:
						err = fmt.Errorf("%s: retry of ID %s got Seq %d, the first attempt %d, still in the window", c.name, in.ID, again.Seq, m.Seq)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var reading sync.WaitGroup
	var reads atomic.Int64
	for r := range readers {
		reading.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 2))
			var buf []chatring.Message
			for !done.Load() {
				c := cs[rng.IntN(convs)]
				before := c.acked.Load()
				var err error
				buf, err = s.Messages(context.Background(), c.name, buf[:0])
				if err == nil {
					err = check(c, before, buf)
				}
				if err != nil {
					errs <- err
					return
				}
				reads.Add(1)
			}
		})
	}
	writing.Wait()
	done.Store(true)
	reading.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	// Every conversation ends with its newest acknowledged messages.
	for _, c := range cs {
		win := messages(t, s, c.name)
		last := c.acked.Load()
		var want []string
		for seq := max(last, 2*maxTurn) - 2*maxTurn + 1; seq <= last; seq++ {
			want = append(want, fmt.Sprintf("%d:user:%s", seq, c.bySeq[seq]))
		}
		if diff := cmp.Diff(want, brief(win), equateEmpty); diff != "" {
			t.Errorf("%s: final window (-want +got):\n%s", c.name, diff)
		}
	}
	if reads.Load() == 0 {
		t.Error("the readers read nothing")
	}
}

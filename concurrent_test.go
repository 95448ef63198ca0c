package chatring_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/storetest"
	"github.com/google/go-cmp/cmp"
)

// TestSeedWorkload is the Python tutorial's thread-safety demo: 10 workers
// each append 100 (user, assistant) pairs to a history of 10 turns.
func TestSeedWorkload(t *testing.T) {
	const workers, pairs = 10, 100
	forEachBackend(t, func(t *testing.T, backend string) {
		h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: 10})
		var seqs sync.Map // seq -> content Append returned it for
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range pairs {
					if !appendRecorded(t, h, &seqs,
						chatring.Message{Role: chatring.User, Content: fmt.Sprintf("Thread %d - question %d", w, i)},
						chatring.Message{Role: chatring.Assistant, Content: fmt.Sprintf("Thread %d - answer %d", w, i)},
					) {
						return
					}
				}
			})
		}
		wg.Wait()

		s := h.Stats()
		want := map[chatring.Role]uint64{chatring.System: 0, chatring.User: 1000, chatring.Assistant: 1000, chatring.Tool: 0}
		if diff := cmp.Diff(want, s.ByRole); diff != "" {
			t.Errorf("ByRole (-want +got):\n%s", diff)
		}
		if s.Appended != 2000 || s.LastSeq != 2000 || s.Rejected != 0 || s.Evicted != 1980 || s.WindowMessages != 20 {
			t.Errorf("Stats = %+v, want 2000 appended, last seq 2000, 0 rejected, 1980 evicted, 20 in the window", s)
		}
		msgs, err := h.Messages(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 20 {
			t.Fatalf("window has %d messages, want 20", len(msgs))
		}
		for i, m := range msgs {
			if want := uint64(1981 + i); m.Seq != want {
				t.Errorf("msgs[%d].Seq = %d, want %d", i, m.Seq, want)
			}
			if c, _ := seqs.Load(m.Seq); c != m.Content {
				t.Errorf("Seq %d holds %q, but Append returned that Seq for %q", m.Seq, m.Content, c)
			}
		}
	})
}

// appendRecorded appends msgs and records in seqs the content Append
// returned each Seq for. It reports false, after t.Errorf, when an Append
// fails or a Seq is returned twice.
func appendRecorded(t *testing.T, h *chatring.History, seqs *sync.Map, msgs ...chatring.Message) bool {
	for _, m := range msgs {
		got, err := h.Append(t.Context(), m)
		if err != nil {
			t.Errorf("Append: %v", err)
			return false
		}
		if _, dup := seqs.LoadOrStore(got.Seq, got.Content); dup {
			t.Errorf("Seq %d returned twice", got.Seq)
			return false
		}
	}
	return true
}

// checkRun reports whether msgs have consecutive increasing Seq values and
// the content Append returned for each Seq (when already recorded).
func checkRun(msgs []chatring.Message, seqs *sync.Map) error {
	for i, m := range msgs {
		if i > 0 && m.Seq != msgs[i-1].Seq+1 {
			return fmt.Errorf("Seq %d follows %d", m.Seq, msgs[i-1].Seq)
		}
		if c, ok := seqs.Load(m.Seq); ok && c != m.Content {
			return fmt.Errorf("Seq %d holds %q, Append returned it for %q", m.Seq, m.Content, c)
		}
	}
	return nil
}

// checkWindow checks the invariants of a Window result.
func checkWindow(win []chatring.Message, budget int, prompt string, seqs *sync.Map) error {
	if len(win) == 0 || win[0].Seq != 0 || win[0].Content != prompt {
		return fmt.Errorf("window does not start with the pinned prompt: %v", brief(win))
	}
	total := 0
	for _, m := range win {
		total += m.Tokens
	}
	if total > budget {
		return fmt.Errorf("window of %d tokens exceeds the budget %d", total, budget)
	}
	rest := win[1:]
	for _, m := range rest {
		if c, ok := seqs.Load(m.Seq); ok && c != m.Content {
			return fmt.Errorf("Seq %d holds %q, Append returned it for %q", m.Seq, m.Content, c)
		}
	}
	if err := storetest.CheckExchanges(rest, true); err != nil {
		return fmt.Errorf("%v: %v", err, briefTools(rest))
	}
	return nil
}

// TestConcurrentInvariants runs Append, Messages, Window, Clear and Stats
// at once and checks the window invariants in every read.
func TestConcurrentInvariants(t *testing.T) {
	const (
		writers = 4
		pairs   = 150
		readers = 2
		reads   = 150
		clears  = 30
		budget  = 40
		prompt  = "You are a careful assistant."
	)
	forEachBackend(t, func(t *testing.T, backend string) {
		h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: 4})
		if err := h.SetSystemPrompt(prompt); err != nil {
			t.Fatal(err)
		}
		var seqs sync.Map
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range pairs {
					// Every other exchange is a tool call and its result,
					// which other writers' messages may come between.
					id := fmt.Sprintf("w%d-%d", w, i)
					answer := fmt.Sprintf("w%d answer %d, a little longer", w, i)
					msgs := []chatring.Message{user(fmt.Sprintf("w%d question %d", w, i)), reply(answer)}
					if i%2 == 1 {
						msgs = []chatring.Message{msgs[0], withCalls(answer, id, "f", "{}"), result(id, "ok")}
					}
					if !appendRecorded(t, h, &seqs, msgs...) {
						return
					}
				}
			})
		}
		for range readers {
			wg.Go(func() {
				var buf []chatring.Message
				for range reads {
					var err error
					buf, err = h.Messages(t.Context(), buf[:0])
					if err == nil {
						err = checkRun(buf, &seqs)
					}
					if err == nil && len(buf) > 8 {
						err = fmt.Errorf("window of %d messages, capacity 8", len(buf))
					}
					if err != nil {
						t.Errorf("Messages: %v", err)
						return
					}
					win, err := h.Window(t.Context(), budget)
					if err == nil {
						err = checkWindow(win, budget, prompt, &seqs)
					}
					if err != nil {
						t.Errorf("Window: %v", err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			for range clears {
				// Everything this goroutine saw appended before Clear
				// must be gone from any read after Clear returns.
				s := h.Stats()
				if err := h.Clear(t.Context()); err != nil {
					t.Errorf("Clear: %v", err)
					return
				}
				msgs, err := h.Messages(t.Context(), nil)
				if err != nil {
					t.Errorf("Messages: %v", err)
					return
				}
				if len(msgs) > 0 && msgs[0].Seq <= s.LastSeq {
					t.Errorf("Seq %d seen before Clear survived it", msgs[0].Seq)
					return
				}
			}
		})
		wg.Wait()

		s := h.Stats()
		const total = writers * (pairs*2 + pairs/2)
		if s.Appended != total || s.LastSeq != total {
			t.Errorf("Appended %d, LastSeq %d; want %d", s.Appended, s.LastSeq, total)
		}
		if got := s.Evicted + s.Cleared + uint64(s.WindowMessages); got != total {
			t.Errorf("evicted %d + cleared %d + window %d = %d, want %d",
				s.Evicted, s.Cleared, s.WindowMessages, got, total)
		}
	})
}

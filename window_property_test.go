package chatring_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// refWindow is Window's specification, written as directly as possible
// from its doc: leave out the tool messages that answer no call of their
// exchange and the exchanges (but the one in flight) that lack results;
// then take the longest suffix that fits the budget with the prompt; then
// drop replies whose question was cut off from its front.
func refWindow(msgs []chatring.Message, prompt *chatring.Message, budget int) []chatring.Message {
	n := len(msgs)
	keep := make([]bool, n)
	for i := range msgs {
		keep[i] = msgs[i].Role != chatring.Tool
	}
	for i, m := range msgs {
		if m.Role != chatring.Assistant || len(m.ToolCalls) == 0 {
			continue
		}
		missing := map[string]bool{}
		for _, c := range m.ToolCalls {
			missing[c.ID] = true
		}
		j := i + 1
		for ; j < n && msgs[j].Role == chatring.Tool; j++ {
			if missing[msgs[j].ToolCallID] {
				keep[j] = true
				delete(missing, msgs[j].ToolCallID)
			}
		}
		if len(missing) > 0 && j < n { // incomplete and not in flight
			for k := i; k < j; k++ {
				keep[k] = false
			}
		}
	}
	var kept []chatring.Message
	for i, m := range msgs {
		if keep[i] {
			kept = append(kept, m)
		}
	}
	if prompt != nil {
		budget -= prompt.Tokens
	}
	start := len(kept)
	for start > 0 && kept[start-1].Tokens <= budget {
		budget -= kept[start-1].Tokens
		start--
	}
	for start < len(kept) && kept[start].Seq > 1 && kept[start].Role != chatring.User && kept[start].Role != chatring.System {
		start++
	}
	out := []chatring.Message{}
	if prompt != nil {
		out = append(out, *prompt)
	}
	return append(out, kept[start:]...)
}

// windowMachine drives a History with random appends (tool exchanges done
// right and wrong), Clears and system prompts, and checks a Window with a
// random budget after every step.
type windowMachine struct {
	h       *chatring.History
	maxTok  int
	n       int      // messages appended, for unique content
	pending []string // call IDs of the newest call message
	ids     []string // every call ID used so far
}

// words returns k unique-ish words of content.
func (w *windowMachine) text(t *rapid.T) string {
	w.n++
	extra := rapid.IntRange(0, 3).Draw(t, "extra words")
	return strings.TrimSpace(fmt.Sprintf("m%d %s", w.n, strings.Repeat("x ", extra)))
}

func (w *windowMachine) append(t *rapid.T, m chatring.Message) {
	if _, err := w.h.Append(t.Context(), m); err != nil {
		t.Fatalf("Append(%v): %v", briefTools([]chatring.Message{m}), err)
	}
}

func (w *windowMachine) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"user":   func(t *rapid.T) { w.append(t, user(w.text(t))) },
		"reply":  func(t *rapid.T) { w.append(t, reply(w.text(t))) },
		"system": func(t *rapid.T) { w.append(t, chatring.Message{Role: chatring.System, Content: w.text(t)}) },
		"calls": func(t *rapid.T) {
			k := rapid.IntRange(1, 3).Draw(t, "calls")
			w.pending = w.pending[:0]
			for range k {
				w.pending = append(w.pending, fmt.Sprint("c", len(w.ids)))
				w.ids = append(w.ids, w.pending[len(w.pending)-1])
			}
			content := ""
			if rapid.Bool().Draw(t, "with content") {
				content = w.text(t)
			}
			w.append(t, calls(content, w.pending...))
		},
		"result": func(t *rapid.T) {
			// Mostly a pending call's result; sometimes one for an older
			// call, a repeat, or an unknown call.
			var id string
			switch {
			case len(w.pending) > 0 && rapid.IntRange(0, 3).Draw(t, "stray") > 0:
				i := rapid.IntRange(0, len(w.pending)-1).Draw(t, "pending")
				id = w.pending[i]
				if rapid.IntRange(0, 3).Draw(t, "keep pending") > 0 { // else answer it again later
					w.pending = append(w.pending[:i:i], w.pending[i+1:]...)
				}
			case len(w.ids) > 0 && rapid.Bool().Draw(t, "old"):
				id = rapid.SampledFrom(w.ids).Draw(t, "old id")
			default:
				id = "unknown"
			}
			w.append(t, result(id, w.text(t)))
		},
		"clear": func(t *rapid.T) {
			if err := w.h.Clear(t.Context()); err != nil {
				t.Fatal(err)
			}
		},
		"prompt": func(t *rapid.T) {
			p := ""
			if rapid.IntRange(0, 3).Draw(t, "remove prompt") > 0 {
				p = w.text(t)
			}
			if err := w.h.SetSystemPrompt(p); err != nil {
				t.Fatal(err)
			}
		},
		"": w.check,
	}
}

// check compares Window with a random budget to refWindow over the same
// state, and checks the rules of tool exchanges on it and on
// CompleteExchanges of it.
func (w *windowMachine) check(t *rapid.T) {
	budget := rapid.IntRange(0, 3*w.maxTok/2).Draw(t, "budget")
	msgs, err := w.h.Messages(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var prompt *chatring.Message
	if p, ok := w.h.SystemPrompt(); ok {
		prompt = &p
	}
	win, err := w.h.Window(t.Context(), budget)
	effective := budget
	if effective == 0 {
		effective = w.maxTok
	}
	if prompt != nil && prompt.Tokens > effective {
		if !errors.Is(err, chatring.ErrBudgetTooSmall) {
			t.Fatalf("Window(%d) with a %d-token prompt: error %v, want ErrBudgetTooSmall", budget, prompt.Tokens, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Window(%d): %v", budget, err)
	}
	want := refWindow(msgs, prompt, effective)
	if diff := cmp.Diff(briefTools(want), briefTools(win)); diff != "" {
		t.Fatalf("Window(%d) over %v (-want +got):\n%s", budget, briefTools(msgs), diff)
	}
	total := 0
	for _, m := range win {
		total += m.Tokens
	}
	if total > effective {
		t.Fatalf("Window(%d) holds %d tokens", budget, total)
	}
	rest := win
	if prompt != nil {
		if len(win) == 0 || win[0].Seq != 0 || win[0].Content != prompt.Content {
			t.Fatalf("Window(%d) does not start with the prompt: %v", budget, briefTools(win))
		}
		rest = win[1:]
	}
	if err := checkExchanges(rest, true); err != nil {
		t.Fatalf("Window(%d): %v in %v", budget, err, briefTools(rest))
	}
	complete := chatring.CompleteExchanges(rest)
	if err := checkExchanges(complete, false); err != nil {
		t.Fatalf("CompleteExchanges(Window(%d)): %v in %v", budget, err, briefTools(complete))
	}
}

// windowProperty runs one random windowMachine on backend.
func windowProperty(t *rapid.T, backend string) {
	w := &windowMachine{maxTok: rapid.IntRange(1, 40).Draw(t, "MaxTokens")}
	var err error
	w.h, err = chatring.New(chatring.Config{Backend: backend,
		MaxTurns: rapid.IntRange(1, 5).Draw(t, "MaxTurns"), MaxTokens: w.maxTok}, chatring.WithTokenizer(words))
	if err != nil {
		t.Fatal(err)
	}
	t.Repeat(w.actions())
}

// TestWindowProperties cuts windows at random on every backend: budgets,
// eviction (capacities of 2 to 10 messages), Clear and a pinned prompt
// that comes and goes, over tool exchanges done right and wrong, and
// checks every Window against refWindow and the rules of tool exchanges.
func TestWindowProperties(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		rapid.Check(t, func(t *rapid.T) { windowProperty(t, backend) })
	})
}

// FuzzWindow is TestWindowProperties driven by the fuzzer, with the
// backend among its choices.
func FuzzWindow(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(func(t *rapid.T) {
		windowProperty(t, rapid.SampledFrom(chatring.Backends()).Draw(t, "backend"))
	}))
}

package storetest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// CheckExchanges reports the first rule of the chat APIs about tool
// exchanges that win (a window without its pinned prompt) breaks, or nil.
// The rules, written from the APIs' documentation rather than from
// Window's algorithm:
//   - Seq increases;
//   - win does not start with a Tool message, nor with an Assistant
//     message other than the first of the conversation (Seq 1);
//   - every Tool message answers a call of the nearest non-Tool message
//     before it, which is an Assistant message in win, and no call is
//     answered twice;
//   - every Assistant message with ToolCalls has a result for each call,
//     except, when inFlight is set, the last one if only Tool messages
//     follow it (the exchange in flight).
//
// Window must satisfy it with inFlight set; chatring.CompleteExchanges of
// a window must satisfy it without.
func CheckExchanges(win []chatring.Message, inFlight bool) error {
	if len(win) > 0 && (win[0].Role == chatring.Tool || win[0].Role == chatring.Assistant && win[0].Seq != 1) {
		return fmt.Errorf("window opens with an orphaned %s message (Seq %d)", win[0].Role, win[0].Seq)
	}
	var open *chatring.Message // the exchange being answered
	var got map[string]bool    // its calls answered so far
	closeExchange := func(last bool) error {
		if open == nil {
			return nil
		}
		for _, c := range open.ToolCalls {
			if !got[c.ID] && !(last && inFlight) {
				return fmt.Errorf("call %s of Seq %d has no result", c.ID, open.Seq)
			}
		}
		open = nil
		return nil
	}
	for i := range win {
		m := &win[i]
		if i > 0 && m.Seq <= win[i-1].Seq {
			return fmt.Errorf("message Seq %d follows Seq %d", m.Seq, win[i-1].Seq)
		}
		if m.Role == chatring.Tool {
			if open == nil {
				return fmt.Errorf("tool result Seq %d follows no call", m.Seq)
			}
			known := false
			for _, c := range open.ToolCalls {
				known = known || c.ID == m.ToolCallID
			}
			if !known || got[m.ToolCallID] {
				return fmt.Errorf("tool result Seq %d answers %s: not a call of Seq %d, or answered already",
					m.Seq, m.ToolCallID, open.Seq)
			}
			got[m.ToolCallID] = true
			continue
		}
		if err := closeExchange(false); err != nil {
			return err
		}
		if m.Role == chatring.Assistant && len(m.ToolCalls) > 0 {
			open, got = m, map[string]bool{}
		}
	}
	return closeExchange(true)
}

// wholeExchanges returns msgs without the Tool messages that answer no
// call of the exchange they are in, and without the exchanges that lack a
// result, except the exchange in flight: the last Assistant message with
// calls when only Tool messages follow it.
func wholeExchanges(msgs []chatring.Message) []chatring.Message {
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
	return kept
}

// testWindowRandom cuts windows at random: random tool exchanges, done
// right and wrong (results missing, repeated, for unknown or older calls,
// after another message), plain messages, Clears and a pinned prompt that
// comes and goes, in windows of 2 to 10 messages; after every step a
// Window with a random budget must equal referenceWindow, satisfy
// CheckExchanges, and so must CompleteExchanges of it without the
// exchange in flight.
func testWindowRandom(t *testing.T, newStore NewStore) {
	stores := make([]chatring.Store, 6) // by MaxTurns
	for turns := 1; turns < len(stores); turns++ {
		stores[turns] = open(t, newStore, chatring.Config{MaxTurns: turns, MaxTokens: 8 * turns})
	}
	runs := 0
	rapid.Check(t, func(t *rapid.T) {
		turns := rapid.IntRange(1, len(stores)-1).Draw(t, "MaxTurns")
		runs++
		windowProperty(t, stores[turns], fmt.Sprint("random-", runs), 8*turns)
	})
}

// windowProperty runs one random sequence of steps on conversation conv
// of s, whose MaxTokens is maxTokens; see testWindowRandom.
func windowProperty(t *rapid.T, s chatring.Store, conv string, maxTokens int) {
	w := &windowMachine{s: s, conv: conv, maxTokens: maxTokens}
	t.Repeat(w.actions())
}

// windowMachine is the state of windowProperty.
type windowMachine struct {
	s         chatring.Store
	conv      string
	maxTokens int
	n         int      // messages written, for unique content
	pending   []string // call IDs of the newest call message not yet answered
	ids       []string // every call ID used so far
}

// text returns new content of 1 to 4 words.
func (w *windowMachine) text(t *rapid.T) string {
	w.n++
	return strings.TrimSpace(fmt.Sprintf("m%d %s", w.n, strings.Repeat("x ", rapid.IntRange(0, 3).Draw(t, "words"))))
}

func (w *windowMachine) append(t *rapid.T, m chatring.Message) {
	if _, err := w.s.Append(t.Context(), w.conv, m); err != nil {
		t.Fatalf("Append(%v): %v", brief([]chatring.Message{m}), err)
	}
}

func (w *windowMachine) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"user":  func(t *rapid.T) { w.append(t, chatring.Message{Role: chatring.User, Content: w.text(t)}) },
		"reply": func(t *rapid.T) { w.append(t, chatring.Message{Role: chatring.Assistant, Content: w.text(t)}) },
		"system": func(t *rapid.T) {
			w.append(t, chatring.Message{Role: chatring.System, Content: w.text(t)})
		},
		"calls": func(t *rapid.T) {
			m := chatring.Message{Role: chatring.Assistant}
			if rapid.Bool().Draw(t, "with content") {
				m.Content = w.text(t)
			}
			w.pending = w.pending[:0]
			for range rapid.IntRange(1, 3).Draw(t, "calls") {
				id := fmt.Sprint("c", len(w.ids))
				w.ids = append(w.ids, id)
				w.pending = append(w.pending, id)
				m.ToolCalls = append(m.ToolCalls, chatring.ToolCall{ID: id, Name: "f", Arguments: "{}"})
			}
			w.append(t, m)
		},
		"result": func(t *rapid.T) {
			// Mostly a pending call's result; sometimes a repeat, one for
			// an older call, or one for an unknown call.
			var id string
			switch {
			case len(w.pending) > 0 && rapid.IntRange(0, 3).Draw(t, "stray") > 0:
				i := rapid.IntRange(0, len(w.pending)-1).Draw(t, "pending")
				id = w.pending[i]
				if rapid.IntRange(0, 3).Draw(t, "repeat later") > 0 {
					w.pending = append(w.pending[:i:i], w.pending[i+1:]...)
				}
			case len(w.ids) > 0 && rapid.Bool().Draw(t, "old"):
				id = rapid.SampledFrom(w.ids).Draw(t, "old id")
			default:
				id = "unknown"
			}
			w.append(t, chatring.Message{Role: chatring.Tool, Content: w.text(t), ToolCallID: id})
		},
		"clear": func(t *rapid.T) {
			if err := w.s.Clear(t.Context(), w.conv); err != nil {
				t.Fatal(err)
			}
		},
		"prompt": func(t *rapid.T) {
			p := ""
			if rapid.IntRange(0, 3).Draw(t, "remove prompt") > 0 {
				p = w.text(t)
			}
			if err := w.s.SetSystemPrompt(t.Context(), w.conv, p); err != nil {
				t.Fatal(err)
			}
		},
		"": w.check,
	}
}

// check compares a Window with a random budget with referenceWindow and
// CheckExchanges.
func (w *windowMachine) check(t *rapid.T) {
	ctx := t.Context()
	budget := rapid.IntRange(0, 3*w.maxTokens/2).Draw(t, "budget")
	msgs, err := w.s.Messages(ctx, w.conv, nil)
	if err != nil {
		t.Fatal(err)
	}
	var prompt *chatring.Message
	if all, err := w.s.Window(ctx, w.conv, math.MaxInt32); err != nil {
		t.Fatal(err)
	} else if len(all) > 0 && all[0].Seq == 0 {
		prompt = &all[0]
	}
	effective := budget
	if effective == 0 {
		effective = w.maxTokens
	}
	win, err := w.s.Window(ctx, w.conv, budget)
	if prompt != nil && prompt.Tokens > effective {
		if !errors.Is(err, chatring.ErrBudgetTooSmall) {
			t.Fatalf("Window(%d) with a %d-token prompt: error %v, want ErrBudgetTooSmall", budget, prompt.Tokens, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Window(%d): %v", budget, err)
	}
	if diff := cmp.Diff(brief(referenceWindow(msgs, prompt, effective)), brief(win)); diff != "" {
		t.Fatalf("Window(%d) over %v (-want +got):\n%s", budget, brief(msgs), diff)
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
		rest = win[1:]
	}
	if err := CheckExchanges(rest, true); err != nil {
		t.Fatalf("Window(%d): %v in %v", budget, err, brief(rest))
	}
	complete := chatring.CompleteExchanges(rest)
	if err := CheckExchanges(complete, false); err != nil {
		t.Fatalf("CompleteExchanges(Window(%d)): %v in %v", budget, err, brief(complete))
	}
}

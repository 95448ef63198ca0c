// Package chattest builds the windows that the SDK adapter modules'
// tests convert and send: a scripted conversation with tool exchanges
// (parallel calls, results out of order, a call without content, a
// broken exchange, consecutive messages of one role, a system message in
// the window), cut by every budget, by eviction and by Clear, with and
// without a pinned prompt, on every backend. The adapters live in modules
// of their own under adapters/, whose import paths are under this
// module's, so they may import this internal package.
package chattest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chatring/chatring"
)

// Prompt is the pinned system prompt of the windows that have one.
const Prompt = "You are a travel assistant."

func call(id, name, args string) chatring.ToolCall {
	return chatring.ToolCall{ID: id, Name: name, Arguments: args}
}

// Conversation returns the scripted conversation, in the order it is
// appended.
func Conversation() []chatring.Message {
	a, u, tool := chatring.Assistant, chatring.User, chatring.Tool
	return []chatring.Message{
		{Role: u, Content: "What's the weather in Paris and Rome?", Name: "ada"},
		{Role: a, Content: "Let me check both.", ToolCalls: []chatring.ToolCall{
			call("call_paris", "get_weather", `{"city":"Paris"}`),
			call("call_rome", "get_weather", `{"city": "Rome", "unit": "C"}`)}},
		{Role: tool, Content: "25C, sunny", ToolCallID: "call_rome"},
		{Role: tool, Content: `{"temp": 21, "sky": "cloudy"}`, ToolCallID: "call_paris"},
		{Role: a, Content: "Paris is 21C and cloudy, Rome 25C and sunny."},
		{Role: u, Content: "Book a table for two in Rome tonight."},
		{Role: a, ToolCalls: []chatring.ToolCall{call("call_book", "book_table", `{"city":"Rome","people":2}`)}},
		{Role: tool, Content: "booked for 8pm at Da Enzo", ToolCallID: "call_book"},
		{Role: chatring.System, Content: "The user prefers short answers."},
		{Role: a, Content: "Booked: 8pm at Da Enzo."},
		{Role: a, ToolCalls: []chatring.ToolCall{call("call_time", "get_time", `{}`)}},
		{Role: tool, Content: "19:05", ToolCallID: "call_time"},
		{Role: u, Content: "Thanks!"},
		// A call whose result never came: Window leaves it out.
		{Role: a, ToolCalls: []chatring.ToolCall{call("call_lost", "get_time", `{"tz":"UTC"}`)}},
		{Role: u, Content: "Never mind."},
		{Role: u, Content: "What time is it in Tokyo?"},
		{Role: a, ToolCalls: []chatring.ToolCall{
			call("call_tokyo", "get_time", `{"tz":"Asia/Tokyo"}`),
			call("call_osaka", "get_time", `{"tz":"Asia/Tokyo","city":"Osaka"}`)}},
		{Role: tool, Content: "03:05", ToolCallID: "call_osaka"},
		{Role: tool, Content: "03:05", ToolCallID: "call_tokyo"},
		{Role: a, Content: "It is 3:05 in the morning in Tokyo."},
	}
}

// Window is one window to convert.
type Window struct {
	// Name says how it was cut.
	Name string
	// Messages is the window, the pinned prompt first if any.
	Messages []chatring.Message
	// InFlight is set when Messages ends with an exchange in flight (a
	// Window result as it is, not passed to CompleteExchanges): the APIs
	// refuse such a request, so a checker of their rules must reject it.
	InFlight bool
}

// Windows returns every distinct window with at least one message besides
// system messages that the cuts produce: on every backend, with and
// without the pinned prompt, windows of 6, 8 and 40 messages (eviction),
// with a Clear before the 4th or the 8th message or none, a Window after
// every Append at every budget from 1 token to the whole. Each is passed
// through CompleteExchanges, and those whose exchange in flight that
// removed are also returned as they were, with InFlight set.
func Windows(t testing.TB) []Window {
	t.Helper()
	seen := map[string]bool{}
	var out []Window
	add := func(name string, win []chatring.Message, inFlight bool) {
		key := fmt.Sprint(inFlight, brief(win))
		others := 0
		for _, m := range win {
			if m.Role != chatring.System {
				others++
			}
		}
		if others == 0 || seen[key] {
			return
		}
		seen[key] = true
		out = append(out, Window{Name: name, Messages: win, InFlight: inFlight})
	}
	ctx := t.Context()
	for _, backend := range chatring.Backends() {
		for _, prompt := range []string{"", Prompt} {
			for _, turns := range []int{3, 4, 20} {
				for _, clearAt := range []int{0, 4, 8} {
					h, err := chatring.New(chatring.Config{Backend: backend, MaxTurns: turns, MaxTokens: 1 << 20})
					if err != nil {
						t.Fatal(err)
					}
					if prompt != "" {
						if err := h.SetSystemPrompt(prompt); err != nil {
							t.Fatal(err)
						}
					}
					total := 0
					for i, m := range Conversation() {
						if i+1 == clearAt {
							if err := h.Clear(ctx); err != nil {
								t.Fatal(err)
							}
						}
						stored, err := h.Append(ctx, m)
						if err != nil {
							t.Fatalf("Append(%d): %v", i+1, err)
						}
						total += stored.Tokens
						for budget := 1; budget <= total+len(prompt); budget++ {
							win, err := h.Window(ctx, budget)
							if err != nil {
								continue // the prompt alone is over the budget
							}
							name := fmt.Sprintf("%s/prompt=%v/turns=%d/clear=%d/after=%d/budget=%d",
								backend, prompt != "", turns, clearAt, i+1, budget)
							complete := chatring.CompleteExchanges(win)
							add(name, complete, false)
							if len(complete) < len(win) {
								add(name+"/in-flight", win, true)
							}
						}
					}
				}
			}
		}
	}
	return out
}

func brief(msgs []chatring.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "%d:%s;", m.Seq, m.Role)
	}
	return b.String()
}

// AppendToolTurn appends a model's reply converted by an adapter to h,
// fails t unless it was stored with want's content and tool calls, then
// appends a result for each call, in reverse order (results may come in
// any order), with content "result of <ID>".
func AppendToolTurn(t testing.TB, h *chatring.History, reply, want chatring.Message) {
	t.Helper()
	ctx := t.Context()
	stored, err := h.Append(ctx, reply)
	if err != nil {
		t.Fatalf("Append(reply): %v", err)
	}
	if stored.Content != want.Content || !slices.Equal(stored.ToolCalls, want.ToolCalls) {
		t.Fatalf("stored reply: content %q, tool calls %+v; want %q, %+v",
			stored.Content, stored.ToolCalls, want.Content, want.ToolCalls)
	}
	for _, c := range slices.Backward(stored.ToolCalls) {
		if _, err := h.Append(ctx, chatring.Message{Role: chatring.Tool, ToolCallID: c.ID, Content: "result of " + c.ID}); err != nil {
			t.Fatal(err)
		}
	}
}

// Checked reports whether the request built from w, whose body a checker
// of the provider's rules answered with err, passed and should be compared
// with the window. A window in flight must fail the check (the test fails
// if it passed: the checker would be vacuous); any other must pass (the
// test fails with the body if not).
func Checked(t testing.TB, w Window, body []byte, err error) bool {
	t.Helper()
	switch {
	case w.InFlight && err == nil:
		t.Errorf("%s: a request with an exchange in flight passed the check", w.Name)
	case !w.InFlight && err != nil:
		t.Errorf("%s: %v\nbody: %s", w.Name, err, body)
	}
	return !w.InFlight && err == nil
}

// Asked returns a History of backend holding one user message, the
// question that TestFromCompletion-like tests send first.
func Asked(t testing.TB, backend, question string) *chatring.History {
	t.Helper()
	h, err := chatring.New(chatring.Config{Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Append(t.Context(), chatring.Message{Role: chatring.User, Content: question}); err != nil {
		t.Fatal(err)
	}
	return h
}

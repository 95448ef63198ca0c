package chatring_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/storetest"
	"github.com/google/go-cmp/cmp"
)

// Builders of the messages of tool exchanges. Every call is to function
// "f" with arguments "{}", so with the words tokenizer a call costs 3
// tokens (ID, name, arguments) and a result 1 token (its ToolCallID) on
// top of its content's words.
func user(content string) chatring.Message {
	return chatring.Message{Role: chatring.User, Content: content}
}

func reply(content string) chatring.Message {
	return chatring.Message{Role: chatring.Assistant, Content: content}
}

func calls(content string, ids ...string) chatring.Message {
	m := chatring.Message{Role: chatring.Assistant, Content: content}
	for _, id := range ids {
		m.ToolCalls = append(m.ToolCalls, chatring.ToolCall{ID: id, Name: "f", Arguments: "{}"})
	}
	return m
}

func result(id, content string) chatring.Message {
	return chatring.Message{Role: chatring.Tool, Content: content, ToolCallID: id}
}

// withCalls returns an assistant message with content and the tool calls
// given as (id, name, arguments) triples; a last odd argument
// "tool_call_id=X" sets ToolCallID to X.
func withCalls(content string, fields ...string) chatring.Message {
	m := chatring.Message{Role: chatring.Assistant, Content: content}
	if len(fields)%3 == 1 {
		m.ToolCallID = strings.TrimPrefix(fields[len(fields)-1], "tool_call_id=")
		fields = fields[:len(fields)-1]
	}
	for i := 0; i+2 < len(fields); i += 3 {
		m.ToolCalls = append(m.ToolCalls, chatring.ToolCall{ID: fields[i], Name: fields[i+1], Arguments: fields[i+2]})
	}
	return m
}

// manyCalls returns an assistant message with n tool calls.
func manyCalls(n int) chatring.Message {
	m := chatring.Message{Role: chatring.Assistant}
	for i := range n {
		m.ToolCalls = append(m.ToolCalls, chatring.ToolCall{ID: fmt.Sprint("c", i), Name: "f", Arguments: "{}"})
	}
	return m
}

// approxTokens is the Tokens Append must compute for m with the default
// tokenizer: one count per non-empty string among the content and the
// tool fields.
func approxTokens(m chatring.Message) int {
	strs := []string{m.Content, m.ToolCallID}
	for _, c := range m.ToolCalls {
		strs = append(strs, c.ID, c.Name, c.Arguments)
	}
	n := 0
	for _, s := range strs {
		if s != "" {
			n += chatring.ApproxTokenizer{}.Count(s)
		}
	}
	return n
}

// briefTools renders messages as "seq:role:content" lines, with an
// assistant's call IDs after "->" and a tool message's call ID in
// parentheses.
func briefTools(msgs []chatring.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		s := fmt.Sprintf("%d:%s", m.Seq, m.Role)
		if m.ToolCallID != "" {
			s += "(" + m.ToolCallID + ")"
		}
		s += ":" + m.Content
		if len(m.ToolCalls) > 0 {
			ids := make([]string, len(m.ToolCalls))
			for j, c := range m.ToolCalls {
				ids[j] = c.ID
			}
			s += "->" + strings.Join(ids, ",")
		}
		out[i] = s
	}
	return out
}

// TestWindowToolExchanges cuts windows through tool exchanges with budgets,
// eviction and Clear, and checks them against hand-computed results, with
// and without CompleteExchanges, on every backend.
func TestWindowToolExchanges(t *testing.T) {
	const clear = "clear" // a step that calls Clear
	weather := []chatring.Message{
		user("weather in Paris?"),             // seq 1, 3 tokens
		calls("", "c1"),                       // seq 2, 3 tokens
		result("c1", "21C"),                   // seq 3, 2 tokens
		reply("it is 21C"),                    // seq 4, 3 tokens
		user("and Rome?"),                     // seq 5, 2 tokens
		calls("checking both", "c2", "c3"),    // seq 6, 8 tokens
		result("c3", "25C"),                   // seq 7, 2 tokens
		result("c2", "22C"),                   // seq 8, 2 tokens
		reply("Rome 25C, Paris 22C"),          // seq 9, 4 tokens
		user("thanks"),                        // seq 10, 1 token
		calls("let me note that", "c4", "c5"), // seq 11, 10 tokens
		result("c4", "noted"),                 // seq 12, 2 tokens
	}
	all := []string{"1:user:weather in Paris?", "2:assistant:->c1", "3:tool(c1):21C", "4:assistant:it is 21C",
		"5:user:and Rome?", "6:assistant:checking both->c2,c3", "7:tool(c3):25C", "8:tool(c2):22C",
		"9:assistant:Rome 25C, Paris 22C", "10:user:thanks", "11:assistant:let me note that->c4,c5", "12:tool(c4):noted"}
	tests := []struct {
		name     string
		maxTurns int // 0: 10
		prompt   string
		steps    []any // chatring.Message or clear
		budget   int
		want     []string
		complete []string // CompleteExchanges(want); nil: want
	}{
		{name: "everything, newest exchange in flight", steps: steps(weather), budget: 100,
			want: all, complete: all[:10]},
		{name: "budget inside the exchange in flight", steps: steps(weather), budget: 13,
			want:     []string{"10:user:thanks", "11:assistant:let me note that->c4,c5", "12:tool(c4):noted"},
			complete: []string{"10:user:thanks"}},
		{name: "budget cuts off the call of the exchange in flight", steps: steps(weather), budget: 12,
			want: []string{}},
		{name: "budget cuts between a call and its results", steps: steps(weather[:10]), budget: 9,
			want: []string{"10:user:thanks"}},
		{name: "budget keeps a whole parallel exchange", steps: steps(weather[:10]), budget: 19,
			want: []string{"5:user:and Rome?", "6:assistant:checking both->c2,c3", "7:tool(c3):25C",
				"8:tool(c2):22C", "9:assistant:Rome 25C, Paris 22C", "10:user:thanks"}},
		{name: "one result missing, then the user writes", budget: 100,
			steps: steps([]chatring.Message{user("q1"), calls("", "a", "b"), result("a", "1"), user("q2")}),
			want:  []string{"1:user:q1", "4:user:q2"}},
		{name: "result after the user wrote", budget: 100,
			steps: steps([]chatring.Message{user("q1"), calls("", "a"), user("q2"), result("a", "1")}),
			want:  []string{"1:user:q1", "3:user:q2"}},
		{name: "left-out exchange costs no budget", budget: 2,
			steps: steps([]chatring.Message{user("q1"), calls("", "a", "b"), result("a", "1"), user("q2")}),
			want:  []string{"1:user:q1", "4:user:q2"}},
		{name: "second result for one call", budget: 100,
			steps: steps([]chatring.Message{user("q"), calls("", "a"), result("a", "1"), result("a", "2"), reply("r")}),
			want:  []string{"1:user:q", "2:assistant:->a", "3:tool(a):1", "5:assistant:r"}},
		{name: "result for a call of another message", budget: 100,
			steps: steps([]chatring.Message{user("q"), calls("", "a"), result("a", "1"), calls("", "b"),
				result("a", "1"), result("b", "2")}),
			want: []string{"1:user:q", "2:assistant:->a", "3:tool(a):1", "4:assistant:->b", "6:tool(b):2"}},
		{name: "older exchange never answered", budget: 100,
			steps: steps([]chatring.Message{user("q"), calls("", "a"), calls("", "b"), result("b", "2")}),
			want:  []string{"1:user:q", "3:assistant:->b", "4:tool(b):2"}},
		{name: "exchange in flight without results yet", budget: 100,
			steps: steps([]chatring.Message{user("q"), calls("hm", "a")}),
			want:  []string{"1:user:q", "2:assistant:hm->a"}, complete: []string{"1:user:q"}},
		{name: "exchange in flight with a stray result", budget: 100,
			steps: steps([]chatring.Message{user("q"), calls("", "a", "b"), result("z", "0"), result("b", "2")}),
			want:  []string{"1:user:q", "2:assistant:->a,b", "4:tool(b):2"}, complete: []string{"1:user:q"}},
		{name: "eviction cuts a call off its results", maxTurns: 2, budget: 100,
			steps: steps(weather[4:10]),
			want:  []string{"6:user:thanks"}},
		{name: "eviction leaves a whole exchange", maxTurns: 2, budget: 100,
			steps: steps([]chatring.Message{user("q"), user("go"), calls("", "a"), result("a", "1"), reply("r")}),
			want:  []string{"2:user:go", "3:assistant:->a", "4:tool(a):1", "5:assistant:r"}},
		{name: "clear cuts a call off its result", budget: 100,
			steps: []any{user("q"), calls("", "a"), clear, result("a", "1"), reply("r"), user("next")},
			want:  []string{"5:user:next"}},
		{name: "clear before an exchange in flight", budget: 100,
			steps: []any{user("q"), reply("r"), clear, user("q2"), calls("", "a", "b"), result("b", "2")},
			want:  []string{"3:user:q2", "4:assistant:->a,b", "5:tool(b):2"}, complete: []string{"3:user:q2"}},
		{name: "pinned prompt with an exchange in flight", prompt: "be brief", budget: 100,
			steps:    steps([]chatring.Message{user("q"), calls("", "a", "b"), result("a", "1")}),
			want:     []string{"0:system:be brief", "1:user:q", "2:assistant:->a,b", "3:tool(a):1"},
			complete: []string{"0:system:be brief", "1:user:q"}},
		{name: "pinned prompt, budget inside an exchange", prompt: "be brief", budget: 8,
			steps: steps(weather[:4]),
			want:  []string{"0:system:be brief"}},
		{name: "agent that calls a tool first", budget: 100,
			steps: steps([]chatring.Message{calls("", "a"), result("a", "1"), reply("done")}),
			want:  []string{"1:assistant:->a", "2:tool(a):1", "3:assistant:done"}},
		{name: "agent's first exchange in flight", budget: 100,
			steps: steps([]chatring.Message{calls("", "a", "b"), result("a", "1")}),
			want:  []string{"1:assistant:->a,b", "2:tool(a):1"}, complete: []string{}},
		{name: "lone result", budget: 100,
			steps: steps([]chatring.Message{result("a", "1"), user("q")}),
			want:  []string{"2:user:q"}},
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: tt.maxTurns, MaxTokens: 1000},
					chatring.WithTokenizer(words))
				if tt.prompt != "" {
					if err := h.SetSystemPrompt(tt.prompt); err != nil {
						t.Fatal(err)
					}
				}
				for _, s := range tt.steps {
					if s == clear {
						if err := h.Clear(t.Context()); err != nil {
							t.Fatal(err)
						}
						continue
					}
					if _, err := h.Append(t.Context(), s.(chatring.Message)); err != nil {
						t.Fatalf("Append(%v): %v", briefTools([]chatring.Message{s.(chatring.Message)}), err)
					}
				}
				got, err := h.Window(t.Context(), tt.budget)
				if err != nil {
					t.Fatalf("Window(%d): %v", tt.budget, err)
				}
				if diff := cmp.Diff(tt.want, briefTools(got)); diff != "" {
					t.Errorf("Window(%d) (-want +got):\n%s", tt.budget, diff)
				}
				// CutWindow, for stores outside the package, cuts the same.
				msgs, err := h.Messages(t.Context(), nil)
				if err != nil {
					t.Fatal(err)
				}
				var prompt *chatring.Message
				if p, ok := h.SystemPrompt(); ok {
					prompt = &p
				}
				cut, err := chatring.CutWindow(msgs, prompt, tt.budget)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(briefTools(got), briefTools(cut)); diff != "" {
					t.Errorf("CutWindow differs from Window (-Window +CutWindow):\n%s", diff)
				}
				complete := tt.complete
				if complete == nil {
					complete = tt.want
				}
				if diff := cmp.Diff(complete, briefTools(chatring.CompleteExchanges(got))); diff != "" {
					t.Errorf("CompleteExchanges(Window(%d)) (-want +got):\n%s", tt.budget, diff)
				}
				rest := got
				if tt.prompt != "" {
					rest = got[1:]
				}
				if err := storetest.CheckExchanges(rest, true); err != nil {
					t.Errorf("Window: %v", err)
				}
				if err := storetest.CheckExchanges(chatring.CompleteExchanges(rest), false); err != nil {
					t.Errorf("CompleteExchanges: %v", err)
				}
			})
		}
	})
}

// steps converts messages to the steps of TestWindowToolExchanges.
func steps(msgs []chatring.Message) []any {
	out := make([]any, len(msgs))
	for i, m := range msgs {
		out[i] = m
	}
	return out
}

// TestToolFieldsJSON checks the JSON keys of the tool fields (those of
// the chat completion API) and that a message without tool fields has
// neither key.
func TestToolFieldsJSON(t *testing.T) {
	msgs := []chatring.Message{
		withCalls("", "call_1", "get_weather", `{"city":"Paris"}`),
		result("call_1", "21C"),
		user("hi"),
	}
	var got []map[string]any
	data, err := json.Marshal(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	wantCalls := []any{map[string]any{"id": "call_1", "name": "get_weather", "arguments": `{"city":"Paris"}`}}
	if diff := cmp.Diff(wantCalls, got[0]["tool_calls"]); diff != "" {
		t.Errorf("tool_calls (-want +got):\n%s", diff)
	}
	if got[1]["tool_call_id"] != "call_1" {
		t.Errorf("tool_call_id = %v, want call_1", got[1]["tool_call_id"])
	}
	for i, m := range got {
		_, calls := m["tool_calls"]
		_, id := m["tool_call_id"]
		if calls != (i == 0) || id != (i == 1) {
			t.Errorf("message %d has keys %v", i, m)
		}
	}
	var back []chatring.Message
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(msgs, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

// TestToolFieldsCounted checks that the tool fields count in Tokens, in
// Stats.AppendedBytes and in Stats.WindowBytes.
func TestToolFieldsCounted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		h := newHistory(t, chatring.Config{Backend: backend}, chatring.WithTokenizer(words))
		call := withCalls("let me look", "call_1", "get_weather", `{"city": "Paris"}`) // 3 + 1 + 1 + 2 tokens
		got, err := h.Append(t.Context(), call)
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.Append(t.Context(), result("call_1", "21 C")) // 2 + 1 tokens
		if err != nil {
			t.Fatal(err)
		}
		if got.Tokens != 7 || res.Tokens != 3 {
			t.Errorf("Tokens = %d and %d, want 7 and 3", got.Tokens, res.Tokens)
		}
		const bytes = len("let me look") + len("call_1") + len("get_weather") + len(`{"city": "Paris"}`) +
			len("21 C") + len("call_1")
		s := h.Stats()
		if s.AppendedBytes != uint64(bytes) || s.WindowBytes != int64(bytes) || s.AppendedTokens != 10 || s.WindowTokens != 10 {
			t.Errorf("Stats bytes %d/%d tokens %d/%d, want %d bytes and 10 tokens",
				s.AppendedBytes, s.WindowBytes, s.AppendedTokens, s.WindowTokens, bytes)
		}
	})
}

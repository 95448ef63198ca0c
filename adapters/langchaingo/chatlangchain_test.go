package chatlangchain_test

import (
	"errors"
	"testing"

	"github.com/chatring/chatring"
	chatlangchain "github.com/chatring/chatring/adapters/langchaingo"
	"github.com/chatring/chatring/internal/chattest"
	"github.com/google/go-cmp/cmp"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"
	"github.com/tmc/langchaingo/memory"
)

// forEachStore runs f with a fresh MemoryStore of each backend.
func forEachStore(t *testing.T, f func(t *testing.T, s chatring.Store)) {
	for _, b := range chatring.Backends() {
		t.Run("backend="+b, func(t *testing.T) {
			s, err := chatring.NewMemoryStore(chatring.Config{Backend: b, MaxTurns: 10})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close(t.Context()) })
			f(t, s)
		})
	}
}

// TestConversationBuffer runs langchaingo's conversation buffer memory on
// a History: what it saves lands in the Store, what it loads comes from
// it, and conversations stay apart.
func TestConversationBuffer(t *testing.T) {
	forEachStore(t, func(t *testing.T, s chatring.Store) {
		ctx := t.Context()
		mem := memory.NewConversationBuffer(memory.WithChatHistory(chatlangchain.NewHistory(s, "conv-1")),
			memory.WithReturnMessages(true))
		other := memory.NewConversationBuffer(memory.WithChatHistory(chatlangchain.NewHistory(s, "conv-2")))
		if err := mem.SaveContext(ctx, map[string]any{"input": "Hi, I'm Ada."}, map[string]any{"output": "Hello Ada!"}); err != nil {
			t.Fatal(err)
		}
		if err := other.SaveContext(ctx, map[string]any{"input": "Other"}, map[string]any{"output": "Yes?"}); err != nil {
			t.Fatal(err)
		}
		stored, err := s.Messages(ctx, "conv-1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != 2 || stored[0].Role != chatring.User || stored[0].Content != "Hi, I'm Ada." ||
			stored[1].Role != chatring.Assistant || stored[1].Content != "Hello Ada!" {
			t.Fatalf("Store holds %+v", stored)
		}
		vars, err := mem.LoadMemoryVariables(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []llms.ChatMessage{llms.HumanChatMessage{Content: "Hi, I'm Ada."}, llms.AIChatMessage{Content: "Hello Ada!"}}
		if diff := cmp.Diff(want, vars["history"]); diff != "" {
			t.Errorf("loaded history (-want +got):\n%s", diff)
		}
		if err := mem.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Messages(ctx, "conv-1", nil); len(got) != 0 {
			t.Errorf("after Clear the Store holds %d messages", len(got))
		}
		if got, _ := s.Messages(ctx, "conv-2", nil); len(got) != 2 {
			t.Errorf("Clear of conv-1 left conv-2 with %d messages, want 2", len(got))
		}
	})
}

// TestHistory exercises every method of the ChatMessageHistory interface,
// with tool calls, the pinned prompt, an exchange in flight, rejections
// and SetMessages.
func TestHistory(t *testing.T) {
	call := llms.ToolCall{ID: "call_1", Type: "function", FunctionCall: &llms.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}}
	forEachStore(t, func(t *testing.T, s chatring.Store) {
		ctx := t.Context()
		h := chatlangchain.NewHistory(s, "c")
		if err := s.SetSystemPrompt(ctx, "c", "Be brief."); err != nil {
			t.Fatal(err)
		}
		added := []llms.ChatMessage{
			llms.HumanChatMessage{Content: "Weather in Paris?"},
			llms.AIChatMessage{ToolCalls: []llms.ToolCall{call}},
			llms.ToolChatMessage{ID: "call_1", Content: "21C"},
			llms.AIChatMessage{Content: "21C in Paris."},
			llms.SystemChatMessage{Content: "Answer in French from now on."},
			llms.GenericChatMessage{Role: "user", Name: "ada", Content: "Merci"},
		}
		if err := h.AddUserMessage(ctx, "first"); err != nil {
			t.Fatal(err)
		}
		if err := h.AddAIMessage(ctx, "second"); err != nil {
			t.Fatal(err)
		}
		for _, m := range added {
			if err := h.AddMessage(ctx, m); err != nil {
				t.Fatalf("AddMessage(%#v): %v", m, err)
			}
		}
		want := append([]llms.ChatMessage{llms.SystemChatMessage{Content: "Be brief."},
			llms.HumanChatMessage{Content: "first"}, llms.AIChatMessage{Content: "second"}}, added...)
		got, err := h.Messages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Messages (-want +got):\n%s", diff)
		}

		// A call whose result is not in yet is left out of Messages.
		if err := h.AddMessage(ctx, llms.AIChatMessage{ToolCalls: []llms.ToolCall{call}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := h.Messages(ctx); len(got) != len(want) {
			t.Errorf("Messages with an exchange in flight has %d messages, want %d", len(got), len(want))
		}

		// Rejections change nothing.
		before, _ := s.Messages(ctx, "c", nil)
		for _, bad := range []struct {
			m   llms.ChatMessage
			err error
		}{
			{llms.HumanChatMessage{Content: ""}, chatring.ErrEmptyContent},
			{llms.ToolChatMessage{Content: "no ID"}, chatring.ErrInvalidToolCall},
			{llms.AIChatMessage{ToolCalls: []llms.ToolCall{{ID: "x", FunctionCall: &llms.FunctionCall{Name: "f", Arguments: "not json"}}}}, chatring.ErrInvalidContent},
			{llms.AIChatMessage{Content: "x", FunctionCall: &llms.FunctionCall{Name: "f", Arguments: "{}"}}, chatlangchain.ErrUnsupported},
			{llms.FunctionChatMessage{Name: "f", Content: "1"}, chatlangchain.ErrUnsupported},
			{llms.GenericChatMessage{Role: "narrator", Content: "x"}, chatlangchain.ErrUnsupported},
		} {
			if err := h.AddMessage(ctx, bad.m); !errors.Is(err, bad.err) {
				t.Errorf("AddMessage(%#v) = %v, want %v", bad.m, err, bad.err)
			}
		}
		if err := h.SetMessages(ctx, []llms.ChatMessage{llms.HumanChatMessage{Content: "ok"}, llms.FunctionChatMessage{Name: "f"}}); !errors.Is(err, chatlangchain.ErrUnsupported) {
			t.Errorf("SetMessages with an unsupported message = %v, want ErrUnsupported", err)
		}
		if after, _ := s.Messages(ctx, "c", nil); !cmp.Equal(before, after) {
			t.Errorf("rejected calls changed the conversation:\n%s", cmp.Diff(before, after))
		}

		// SetMessages replaces the window; the pinned prompt stays.
		set := []llms.ChatMessage{llms.HumanChatMessage{Content: "again"}, llms.AIChatMessage{Content: "from the top"}}
		if err := h.SetMessages(ctx, set); err != nil {
			t.Fatal(err)
		}
		got, _ = h.Messages(ctx)
		if diff := cmp.Diff(append([]llms.ChatMessage{llms.SystemChatMessage{Content: "Be brief."}}, set...), got); diff != "" {
			t.Errorf("Messages after SetMessages (-want +got):\n%s", diff)
		}
	})
}

// TestMaxTokens checks that Messages honours the History's budget and the
// window rules.
func TestMaxTokens(t *testing.T) {
	forEachStore(t, func(t *testing.T, s chatring.Store) {
		ctx := t.Context()
		for _, m := range []string{"one two three", "four five six", "seven"} {
			if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: m}); err != nil {
				t.Fatal(err)
			}
		}
		want, err := s.Window(ctx, "c", 3)
		if err != nil {
			t.Fatal(err)
		}
		got, err := chatlangchain.NewHistory(s, "c", chatlangchain.WithMaxTokens(3)).Messages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) == 3 {
			t.Errorf("Messages with budget 3: %d messages, Window(3) has %d (of 3)", len(got), len(want))
		}
	})
}

// newLLM returns a langchaingo OpenAI model talking to a loopback server
// that answers every request with the message reply.
func newLLM(t *testing.T, reply string) (*chattest.Server, *openai.LLM) {
	api := chattest.NewServer(t, "/chat/completions", func(int) string {
		return `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o",` +
			`"choices":[{"index":0,"finish_reason":"stop","message":` + reply + `}]}`
	})
	llm, err := openai.New(openai.WithBaseURL(api.URL), openai.WithToken("test"), openai.WithModel("gpt-4o"))
	if err != nil {
		t.Fatal(err)
	}
	return api, llm
}

// TestRequestsFromWindows converts every window of chattest.Windows with
// MessageContent, has langchaingo's OpenAI model send it to a loopback
// server, and checks the body there against the chat completion API's
// rules and against the window; windows still holding an exchange in
// flight must fail the check.
func TestRequestsFromWindows(t *testing.T) {
	api, llm := newLLM(t, `{"role":"assistant","content":"ok"}`)
	windows := chattest.Windows(t)
	for _, w := range windows {
		if _, err := llm.GenerateContent(t.Context(), chatlangchain.MessageContent(w.Messages)); err != nil {
			t.Fatalf("%s: %v", w.Name, err)
		}
		got, err := chattest.CheckChatCompletion(api.Last())
		if !chattest.Checked(t, w, api.Last(), err) {
			continue
		}
		want := make([]chatring.Message, len(w.Messages))
		for i, m := range w.Messages {
			// langchaingo sends no names.
			want[i] = chatring.Message{Role: m.Role, Content: m.Content, ToolCalls: m.ToolCalls, ToolCallID: m.ToolCallID}
		}
		if diff := cmp.Diff(want, chattest.FromWire(got)); diff != "" {
			t.Errorf("%s: request differs from the window (-window +request):\n%s", w.Name, diff)
		}
	}
}

// TestFromContentChoice appends langchaingo's decoding of a reply with
// parallel tool calls, answers them and sends the next request.
func TestFromContentChoice(t *testing.T) {
	api, llm := newLLM(t, `{"role":"assistant","content":null,"tool_calls":[`+
		`{"id":"call_a1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},`+
		`{"id":"call_a2","type":"function","function":{"name":"get_time","arguments":"{}"}}]}`)
	for _, backend := range chatring.Backends() {
		h := chattest.Asked(t, backend, "Weather and time in Oslo?")
		ctx := t.Context()
		win, _ := h.Window(ctx, 0)
		resp, err := llm.GenerateContent(ctx, chatlangchain.MessageContent(win))
		if err != nil {
			t.Fatal(err)
		}
		m, err := chatlangchain.FromContentChoice(resp.Choices[0])
		if err != nil {
			t.Fatal(err)
		}
		chattest.AppendToolTurn(t, h, m, chatring.Message{ToolCalls: []chatring.ToolCall{
			{ID: "call_a1", Name: "get_weather", Arguments: `{"city":"Oslo"}`},
			{ID: "call_a2", Name: "get_time", Arguments: `{}`}}})
		win, _ = h.Window(ctx, 0)
		if _, err := llm.GenerateContent(ctx, chatlangchain.MessageContent(chatring.CompleteExchanges(win))); err != nil {
			t.Fatal(err)
		}
		if _, err := chattest.CheckChatCompletion(api.Last()); err != nil {
			t.Fatalf("%v\nbody: %s", err, api.Last())
		}
	}
}

package chatopenai_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/chatring/chatring"
	chatopenai "github.com/chatring/chatring/adapters/openai"
	"github.com/chatring/chatring/internal/chattest"
	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// newAPI starts a loopback chat completion endpoint that answers every
// request with the message reply, and returns it with a client of it.
func newAPI(t *testing.T, reply string) (*chattest.Server, openai.Client) {
	api := chattest.NewServer(t, "/chat/completions", func(int) string { return completion(reply) })
	return api, openai.NewClient(option.WithBaseURL(api.URL), option.WithAPIKey("test"), option.WithMaxRetries(0))
}

// completion returns a chat completion response whose message is msg.
func completion(msg string) string {
	return `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-test",` +
		`"choices":[{"index":0,"finish_reason":"stop","logprobs":null,"message":` + msg + `}]}`
}

const toolCallReply = `{"role":"assistant","content":null,"refusal":null,"tool_calls":[` +
	`{"id":"call_a1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},` +
	`{"id":"call_a2","type":"function","function":{"name":"get_time","arguments":"{}"}}]}`

// sent is what of a message reaches the API.
func sent(win []chatring.Message) []chatring.Message {
	out := make([]chatring.Message, len(win))
	for i, m := range win {
		out[i] = chatring.Message{Role: m.Role, Content: m.Content, Name: m.Name, ToolCalls: m.ToolCalls, ToolCallID: m.ToolCallID}
	}
	return out
}

// TestRequestsFromWindows builds a request with the SDK from every window
// of chattest.Windows, sends it to a loopback server, and checks there
// that the body follows the API's rules and carries the window unchanged;
// and that the same check refuses the windows still holding an exchange
// in flight, so that it is not vacuous.
func TestRequestsFromWindows(t *testing.T) {
	api, client := newAPI(t, `{"role":"assistant","content":"ok"}`)
	windows := chattest.Windows(t)
	for _, w := range windows {
		_, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
			Model: openai.ChatModelGPT5_5, Messages: chatopenai.Messages(w.Messages),
		})
		if err != nil {
			t.Fatalf("%s: %v", w.Name, err)
		}
		got, err := chattest.CheckChatCompletion(api.Last())
		if !chattest.Checked(t, w, api.Last(), err) {
			continue
		}
		if diff := cmp.Diff(sent(w.Messages), chattest.FromWire(got)); diff != "" {
			t.Errorf("%s: request differs from the window (-window +request):\n%s", w.Name, diff)
		}
	}
	t.Logf("%d windows sent", len(windows))
}

// TestFromCompletion appends the SDK's decoding of a reply with parallel
// tool calls, then the results, and sends the next request.
func TestFromCompletion(t *testing.T) {
	api, client := newAPI(t, toolCallReply)
	for _, backend := range chatring.Backends() {
		h := chattest.Asked(t, backend, "Weather and time in Oslo?")
		ctx := t.Context()
		win, _ := h.Window(ctx, 0)
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: openai.ChatModelGPT5_5, Messages: chatopenai.Messages(win),
		})
		if err != nil {
			t.Fatal(err)
		}
		m, err := chatopenai.FromCompletion(resp.Choices[0].Message)
		if err != nil {
			t.Fatal(err)
		}
		chattest.AppendToolTurn(t, h, m, chatring.Message{ToolCalls: []chatring.ToolCall{
			{ID: "call_a1", Name: "get_weather", Arguments: `{"city":"Oslo"}`},
			{ID: "call_a2", Name: "get_time", Arguments: `{}`}}})
		win, _ = h.Window(ctx, 0)
		if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: openai.ChatModelGPT5_5, Messages: chatopenai.Messages(chatring.CompleteExchanges(win)),
		}); err != nil {
			t.Fatal(err)
		}
		got, err := chattest.CheckChatCompletion(api.Last())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"user", "assistant", "tool", "tool"}, roles(got)); diff != "" {
			t.Errorf("second request roles (-want +got):\n%s", diff)
		}
	}
}

func roles(msgs []chattest.WireMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Role
	}
	return out
}

func TestFromCompletionCases(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want chatring.Message
		err  error
	}{
		{"text", `{"role":"assistant","content":"Hello."}`,
			chatring.Message{Role: chatring.Assistant, Content: "Hello."}, nil},
		{"refusal", `{"role":"assistant","content":null,"refusal":"I can't help with that."}`,
			chatring.Message{Role: chatring.Assistant, Content: "I can't help with that."}, nil},
		{"blank content with a call", `{"role":"assistant","content":"\n","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}`,
			chatring.Message{Role: chatring.Assistant, ToolCalls: []chatring.ToolCall{{ID: "c", Name: "f", Arguments: "{}"}}}, nil},
		{"custom tool call", `{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"custom","custom":{"name":"sql","input":"SELECT 1"}}]}`,
			chatring.Message{}, chatopenai.ErrUnsupported},
	}
	for _, tt := range tests {
		var msg openai.ChatCompletionMessage
		if err := json.Unmarshal([]byte(tt.msg), &msg); err != nil {
			t.Fatal(err)
		}
		got, err := chatopenai.FromCompletion(msg)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

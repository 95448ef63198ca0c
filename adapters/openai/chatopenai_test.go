package chatopenai_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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

// wireMessage is a message of a request body as the API reads it.
type wireMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	Name       string          `json:"name"`
	ToolCallID string          `json:"tool_call_id"`
	ToolCalls  []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

var functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// checkRequest checks a request body against the structural rules of the
// chat completion API's messages: known roles; non-empty string content
// on system, user and tool messages and on an assistant message without
// tool calls; function tool calls with an ID, a valid function name and
// JSON arguments; every assistant message with tool calls followed by one
// tool message per call and nothing else in between; every tool message
// answering a call of that preceding assistant message.
func checkRequest(body []byte) ([]wireMessage, error) {
	var req struct {
		Model    string        `json:"model"`
		Messages []wireMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	if req.Model == "" || len(req.Messages) == 0 {
		return nil, fmt.Errorf("model %q, %d messages: both are required", req.Model, len(req.Messages))
	}
	var open map[string]bool // unanswered calls of the preceding assistant message
	for i, m := range req.Messages {
		var text *string
		if len(m.Content) > 0 && string(m.Content) != "null" {
			if err := json.Unmarshal(m.Content, &text); err != nil {
				return nil, fmt.Errorf("messages[%d].content is not a string: %s", i, m.Content)
			}
		}
		if m.Role != "tool" && len(open) > 0 {
			return nil, fmt.Errorf("messages[%d] (%s) comes before the results of calls %v", i, m.Role, open)
		}
		switch m.Role {
		case "system", "user":
			if text == nil || *text == "" {
				return nil, fmt.Errorf("messages[%d] (%s) has no content", i, m.Role)
			}
		case "assistant":
			if len(m.ToolCalls) == 0 && (text == nil || *text == "") {
				return nil, fmt.Errorf("messages[%d] (assistant) has neither content nor tool calls", i)
			}
			open = map[string]bool{}
			for j, c := range m.ToolCalls {
				var args map[string]any
				switch {
				case c.Type != "function" || c.ID == "" || open[c.ID]:
					return nil, fmt.Errorf("messages[%d].tool_calls[%d]: type %q, id %q (missing or repeated)", i, j, c.Type, c.ID)
				case !functionName.MatchString(c.Function.Name):
					return nil, fmt.Errorf("messages[%d].tool_calls[%d]: function name %q", i, j, c.Function.Name)
				case json.Unmarshal([]byte(c.Function.Arguments), &args) != nil:
					return nil, fmt.Errorf("messages[%d].tool_calls[%d]: arguments are not a JSON object", i, j)
				}
				open[c.ID] = true
			}
		case "tool":
			if text == nil || *text == "" {
				return nil, fmt.Errorf("messages[%d] (tool) has no content", i)
			}
			if !open[m.ToolCallID] {
				return nil, fmt.Errorf("messages[%d] (tool) answers %q, not an unanswered call of the preceding assistant message", i, m.ToolCallID)
			}
			delete(open, m.ToolCallID)
		default:
			return nil, fmt.Errorf("messages[%d] has role %q", i, m.Role)
		}
	}
	if len(open) > 0 {
		return nil, fmt.Errorf("calls %v have no result", open)
	}
	return req.Messages, nil
}

// fromWire converts the request's messages back to chatring messages, to
// compare with the window they were built from.
func fromWire(msgs []wireMessage) []chatring.Message {
	out := make([]chatring.Message, len(msgs))
	for i, w := range msgs {
		m := chatring.Message{Role: chatring.Role(w.Role), Name: w.Name, ToolCallID: w.ToolCallID}
		json.Unmarshal(w.Content, &m.Content)
		for _, c := range w.ToolCalls {
			m.ToolCalls = append(m.ToolCalls, chatring.ToolCall{ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments})
		}
		out[i] = m
	}
	return out
}

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
			Model: openai.ChatModelGPT4o, Messages: chatopenai.Messages(w.Messages),
		})
		if err != nil {
			t.Fatalf("%s: %v", w.Name, err)
		}
		got, err := checkRequest(api.Last())
		if w.InFlight {
			if err == nil {
				t.Errorf("%s: a request with an exchange in flight passed the check", w.Name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v\nbody: %s", w.Name, err, api.Last())
			continue
		}
		if diff := cmp.Diff(sent(w.Messages), fromWire(got)); diff != "" {
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
		h, err := chatring.New(chatring.Config{Backend: backend})
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		if _, err := h.Append(ctx, chatring.Message{Role: chatring.User, Content: "Weather and time in Oslo?"}); err != nil {
			t.Fatal(err)
		}
		win, _ := h.Window(ctx, 0)
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: openai.ChatModelGPT4o, Messages: chatopenai.Messages(win),
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
			Model: openai.ChatModelGPT4o, Messages: chatopenai.Messages(chatring.CompleteExchanges(win)),
		}); err != nil {
			t.Fatal(err)
		}
		got, err := checkRequest(api.Last())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"user", "assistant", "tool", "tool"}, roles(got)); diff != "" {
			t.Errorf("second request roles (-want +got):\n%s", diff)
		}
	}
}

func roles(msgs []wireMessage) []string {
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

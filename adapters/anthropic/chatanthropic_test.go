package chatanthropic_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/chatring/chatring"
	chatanthropic "github.com/chatring/chatring/adapters/anthropic"
	"github.com/chatring/chatring/internal/chattest"
	"github.com/google/go-cmp/cmp"
)

// newAPI starts a loopback Messages endpoint that answers the n-th
// request with the content blocks replies[n] (the last one repeats), and
// returns it with a client of it.
func newAPI(t *testing.T, replies ...string) (*chattest.Server, anthropic.Client) {
	api := chattest.NewServer(t, "/v1/messages", func(n int) string { return message(replies[min(n, len(replies)-1)]) })
	return api, anthropic.NewClient(option.WithBaseURL(api.URL), option.WithAPIKey("test"), option.WithMaxRetries(0))
}

// message returns a Messages API response with the given content blocks.
func message(content string) string {
	return `{"id":"msg_1","type":"message","role":"assistant","model":"claude-test","content":` + content +
		`,"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`
}

// block is a content block of a request as the API reads it.
type block struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   []block         `json:"content"`
}

type request struct {
	Model     string  `json:"model"`
	MaxTokens int     `json:"max_tokens"`
	System    []block `json:"system"`
	Messages  []struct {
		Role    string  `json:"role"`
		Content []block `json:"content"`
	} `json:"messages"`
}

var (
	toolUseID = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	toolName  = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
)

// checkRequest checks a request body against the structural rules of
// the Messages API: a model and max_tokens; system, if present, text
// blocks with text; at least one message; roles user and assistant only,
// alternating, the first user; no empty content and no empty or blank
// text blocks; tool_use blocks only in assistant turns, with a valid ID,
// name and an object input; every assistant turn with tool_use blocks
// followed by a user turn that opens with one tool_result block per call
// and no other; tool_result blocks only there, each answering a call of
// the turn just before.
func checkRequest(body []byte) (request, error) {
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		return req, err
	}
	if req.Model == "" || req.MaxTokens <= 0 || len(req.Messages) == 0 {
		return req, fmt.Errorf("model %q, max_tokens %d, %d messages", req.Model, req.MaxTokens, len(req.Messages))
	}
	for i, b := range req.System {
		if b.Type != "text" || b.Text == nil || strings.TrimSpace(*b.Text) == "" {
			return req, fmt.Errorf("system[%d] is not a text block with text", i)
		}
	}
	var calls map[string]bool // tool_use IDs of the previous assistant turn
	for i, turn := range req.Messages {
		want := []string{"user", "assistant"}[i%2]
		if turn.Role != want {
			return req, fmt.Errorf("messages[%d] has role %q, want %q (alternating, user first)", i, turn.Role, want)
		}
		if len(turn.Content) == 0 {
			return req, fmt.Errorf("messages[%d] has no content", i)
		}
		results := len(calls) > 0 // this user turn must open with the results
		for j, b := range turn.Content {
			at := fmt.Sprintf("messages[%d].content[%d]", i, j)
			if results && b.Type != "tool_result" && len(calls) > 0 {
				return req, fmt.Errorf("%s is a %s block before the results of %v", at, b.Type, calls)
			}
			switch b.Type {
			case "text":
				if b.Text == nil || strings.TrimSpace(*b.Text) == "" {
					return req, fmt.Errorf("%s is an empty text block", at)
				}
			case "tool_use":
				var input map[string]any
				switch {
				case turn.Role != "assistant":
					return req, fmt.Errorf("%s: tool_use in a %s turn", at, turn.Role)
				case !toolUseID.MatchString(b.ID) || !toolName.MatchString(b.Name):
					return req, fmt.Errorf("%s: tool_use id %q, name %q", at, b.ID, b.Name)
				case json.Unmarshal(b.Input, &input) != nil || input == nil:
					return req, fmt.Errorf("%s: tool_use input is not an object", at)
				}
			case "tool_result":
				if turn.Role != "user" || !calls[b.ToolUseID] {
					return req, fmt.Errorf("%s answers %q, not an unanswered tool_use of the turn before", at, b.ToolUseID)
				}
				delete(calls, b.ToolUseID)
				if len(b.Content) == 0 || b.Content[0].Text == nil || *b.Content[0].Text == "" {
					return req, fmt.Errorf("%s has no content", at)
				}
			default:
				return req, fmt.Errorf("%s has type %q", at, b.Type)
			}
		}
		if len(calls) > 0 {
			return req, fmt.Errorf("messages[%d]: tool_use %v of the turn before have no tool_result", i, calls)
		}
		calls = map[string]bool{}
		for _, b := range turn.Content {
			if b.Type == "tool_use" {
				if calls[b.ID] {
					return req, fmt.Errorf("messages[%d]: tool_use id %q twice", i, b.ID)
				}
				calls[b.ID] = true
			}
		}
	}
	if len(calls) > 0 {
		return req, fmt.Errorf("the last turn's tool_use %v have no tool_result", calls)
	}
	return req, nil
}

// flat lists the blocks a window should become, one string per block with
// its turn role, in order, and the system texts; assistant and tool
// messages before the first user message are left out.
func flat(win []chatring.Message) (system, blocks []string) {
	user := false
	for _, m := range win {
		user = user || m.Role == chatring.User
		if !user && m.Role != chatring.System {
			continue
		}
		switch m.Role {
		case chatring.System:
			system = append(system, m.Content)
		case chatring.User:
			blocks = append(blocks, "user text "+m.Content)
		case chatring.Tool:
			blocks = append(blocks, "user tool_result "+m.ToolCallID+" "+m.Content)
		case chatring.Assistant:
			if m.Content != "" {
				blocks = append(blocks, "assistant text "+m.Content)
			}
			for _, c := range m.ToolCalls {
				var args bytes.Buffer
				json.Compact(&args, []byte(c.Arguments))
				blocks = append(blocks, "assistant tool_use "+c.ID+" "+c.Name+" "+args.String())
			}
		}
	}
	return system, blocks
}

// flatRequest lists the blocks of a request like flat.
func flatRequest(req request) (system, blocks []string) {
	for _, b := range req.System {
		system = append(system, *b.Text)
	}
	for _, turn := range req.Messages {
		for _, b := range turn.Content {
			switch b.Type {
			case "text":
				blocks = append(blocks, turn.Role+" text "+*b.Text)
			case "tool_use":
				blocks = append(blocks, turn.Role+" tool_use "+b.ID+" "+b.Name+" "+string(b.Input))
			case "tool_result":
				blocks = append(blocks, turn.Role+" tool_result "+b.ToolUseID+" "+*b.Content[0].Text)
			}
		}
	}
	return system, blocks
}

// TestRequestsFromWindows builds a request with the SDK from every window
// of chattest.Windows, sends it to a loopback server, and checks there
// that the body follows the API's rules and carries the window's content
// in order; and that the same check refuses the windows still holding an
// exchange in flight, so that it is not vacuous.
func TestRequestsFromWindows(t *testing.T) {
	api, client := newAPI(t, `[{"type":"text","text":"ok"}]`)
	windows := chattest.Windows(t)
	merged := 0
	sentCount := 0
	for _, w := range windows {
		system, msgs := chatanthropic.Messages(w.Messages)
		if !slices.ContainsFunc(w.Messages, func(m chatring.Message) bool { return m.Role == chatring.User }) {
			// Nothing from the user: no request to make (the API wants a
			// user turn first), and Messages makes none.
			if len(msgs) != 0 {
				t.Errorf("%s: a window without user messages gave %d turns", w.Name, len(msgs))
			}
			continue
		}
		sentCount++
		_, err := client.Messages.New(t.Context(), anthropic.MessageNewParams{
			Model: anthropic.ModelClaudeSonnet5_5, MaxTokens: 1024, System: system, Messages: msgs,
		})
		if err != nil {
			t.Fatalf("%s: %v", w.Name, err)
		}
		req, err := checkRequest(api.Last())
		if !chattest.Checked(t, w, api.Last(), err) {
			continue
		}
		wantSys, want := flat(w.Messages)
		gotSys, got := flatRequest(req)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: request blocks differ from the window (-window +request):\n%s", w.Name, diff)
		}
		if diff := cmp.Diff(wantSys, gotSys); diff != "" {
			t.Errorf("%s: system differs from the window's system messages (-window +request):\n%s", w.Name, diff)
		}
		if len(req.Messages) < len(w.Messages)-len(wantSys) {
			merged++
		}
	}
	if merged == 0 {
		t.Error("no window needed merging: the windows do not test it")
	}
	t.Logf("%d windows sent, %d with turns merged", sentCount, merged)
}

// TestFromMessage appends the SDK's decoding of a reply with text and
// parallel tool_use blocks, then the results, and sends the next request.
func TestFromMessage(t *testing.T) {
	for _, backend := range chatring.Backends() {
		api, client := newAPI(t, `[{"type":"text","text":"Checking."},`+
			`{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Oslo"}},`+
			`{"type":"tool_use","id":"toolu_02","name":"get_time","input":{}}]`,
			`[{"type":"text","text":"Snowing, 10:00."}]`)
		h, err := chatring.New(chatring.Config{Backend: backend})
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		if err := h.SetSystemPrompt("Be brief."); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Append(ctx, chatring.Message{Role: chatring.User, Content: "Weather and time in Oslo?"}); err != nil {
			t.Fatal(err)
		}
		send := func() *anthropic.Message {
			t.Helper()
			win, _ := h.Window(ctx, 0)
			system, msgs := chatanthropic.Messages(chatring.CompleteExchanges(win))
			resp, err := client.Messages.New(ctx, anthropic.MessageNewParams{
				Model: anthropic.ModelClaudeSonnet5_5, MaxTokens: 1024, System: system, Messages: msgs,
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := checkRequest(api.Last()); err != nil {
				t.Fatalf("%v\nbody: %s", err, api.Last())
			}
			return resp
		}
		m, err := chatanthropic.FromMessage(send())
		if err != nil {
			t.Fatal(err)
		}
		chattest.AppendToolTurn(t, h, m, chatring.Message{Content: "Checking.", ToolCalls: []chatring.ToolCall{
			{ID: "toolu_01", Name: "get_weather", Arguments: `{"city":"Oslo"}`},
			{ID: "toolu_02", Name: "get_time", Arguments: `{}`}}})
		m, err = chatanthropic.FromMessage(send())
		if err != nil || m.Content != "Snowing, 10:00." {
			t.Fatalf("second reply %+v, %v", m, err)
		}
		var req request
		json.Unmarshal(api.Last(), &req)
		if len(req.System) != 1 || *req.System[0].Text != "Be brief." || len(req.Messages) != 3 {
			t.Errorf("second request: system %v, %d turns; want the prompt and user, assistant, user", req.System, len(req.Messages))
		}
	}
}

func TestFromMessageCases(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want chatring.Message
		err  error
	}{
		{"text blocks concatenated", `[{"type":"text","text":"Hello, "},{"type":"text","text":"world."}]`,
			chatring.Message{Role: chatring.Assistant, Content: "Hello, world."}, nil},
		{"thinking left out, blank text with a call", `[{"type":"thinking","thinking":"hm","signature":"s"},` +
			`{"type":"text","text":"\n"},{"type":"tool_use","id":"t1","name":"f","input":{"a":[1,2]}}]`,
			chatring.Message{Role: chatring.Assistant, ToolCalls: []chatring.ToolCall{{ID: "t1", Name: "f", Arguments: `{"a":[1,2]}`}}}, nil},
		{"server tool use", `[{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"x"}}]`,
			chatring.Message{}, chatanthropic.ErrUnsupported},
	}
	for _, tt := range tests {
		var msg anthropic.Message
		if err := json.Unmarshal([]byte(message(tt.msg)), &msg); err != nil {
			t.Fatal(err)
		}
		got, err := chatanthropic.FromMessage(&msg)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

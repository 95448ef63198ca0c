package chattest

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/chatring/chatring"
)

// WireMessage is a message of a chat completion request body as the API
// reads it.
type WireMessage struct {
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

// CheckChatCompletion checks a chat completion request body against the
// structural rules of the API's messages: known roles; non-empty string content
// on system, user and tool messages and on an assistant message without
// tool calls; function tool calls with an ID, a valid function name and
// JSON arguments; every assistant message with tool calls followed by one
// tool message per call and nothing else in between; every tool message
// answering a call of that preceding assistant message.
func CheckChatCompletion(body []byte) ([]WireMessage, error) {
	var req struct {
		Model    string        `json:"model"`
		Messages []WireMessage `json:"messages"`
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

// FromWire converts the request's messages back to chatring messages, to
// compare with the window they were built from.
func FromWire(msgs []WireMessage) []chatring.Message {
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

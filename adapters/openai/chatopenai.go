// Package chatopenai converts between chatring messages and the chat
// completion types of the OpenAI Go SDK, github.com/openai/openai-go/v3:
// a window becomes the Messages of a ChatCompletionNewParams, and the
// model's reply becomes the Message to Append, tool calls included.
//
// It is a module of its own so that the chatring module never depends on
// the SDK. The package is named chatopenai, not openai, so that it can be
// imported next to the SDK's package without renaming either.
//
// A request is built from a window of complete tool exchanges:
//
//	win, err := h.Window(ctx, budget)
//	...
//	params := openai.ChatCompletionNewParams{
//		Model:    openai.ChatModelGPT5_5,
//		Messages: chatopenai.Messages(chatring.CompleteExchanges(win)),
//	}
//
// Window never splits a tool exchange; CompleteExchanges also leaves out
// the one still in flight, whose missing results the API would refuse.
package chatopenai

import (
	"errors"
	"fmt"
	"strings"

	"github.com/chatring/chatring"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"
)

// ErrUnsupported reports a reply that a chatring.Message cannot hold: a
// call of a custom (free-text) tool, whose input is not JSON arguments.
var ErrUnsupported = errors.New("chatopenai: unsupported reply")

// Messages converts a window, in order, to chat completion message
// params: one param per message, each with the role of the same name.
// System messages (the pinned prompt and any in the window) become system
// messages; Name is sent for system, user and assistant messages; an
// assistant message's ToolCalls become function tool calls, and its
// content is left out when empty; a tool message becomes a tool message
// with its ToolCallID.
//
// The messages must be valid (as every message read from a History or a
// Store is); Messages panics on a role that is not one of the four.
func Messages(win []chatring.Message) []openai.ChatCompletionMessageParamUnion {
	out := make([]openai.ChatCompletionMessageParamUnion, len(win))
	for i := range win {
		out[i] = Message(win[i])
	}
	return out
}

// Message converts one message; see Messages.
func Message(m chatring.Message) openai.ChatCompletionMessageParamUnion {
	name := param.Opt[string]{}
	if m.Name != "" {
		name = openai.String(m.Name)
	}
	switch m.Role {
	case chatring.System:
		p := openai.ChatCompletionSystemMessageParam{Name: name}
		p.Content.OfString = openai.String(m.Content)
		return openai.ChatCompletionMessageParamUnion{OfSystem: &p}
	case chatring.User:
		p := openai.ChatCompletionUserMessageParam{Name: name}
		p.Content.OfString = openai.String(m.Content)
		return openai.ChatCompletionMessageParamUnion{OfUser: &p}
	case chatring.Assistant:
		p := openai.ChatCompletionAssistantMessageParam{Name: name}
		if m.Content != "" {
			p.Content.OfString = openai.String(m.Content)
		}
		for _, c := range m.ToolCalls {
			p.ToolCalls = append(p.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
				OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
					ID: c.ID,
					Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{
						Name: c.Name, Arguments: c.Arguments,
					},
				},
			})
		}
		return openai.ChatCompletionMessageParamUnion{OfAssistant: &p}
	case chatring.Tool:
		return openai.ToolMessage(m.Content, m.ToolCallID)
	}
	panic(fmt.Sprintf("chatopenai: message with invalid role (%d bytes)", len(m.Role)))
}

// FromCompletion returns the Message to Append for the assistant message
// of a chat completion choice (completion.Choices[i].Message): role
// Assistant, the content (or, when the model refused, the refusal), and
// each function tool call with its ID, name and arguments. Content that is
// only white space becomes empty when there are tool calls, as Append
// requires. A custom tool call returns an error wrapping ErrUnsupported.
//
// Append validates the result like any message: arguments that are not a
// JSON object (the API does not promise valid JSON) are rejected there
// with a ValidationError naming the call.
func FromCompletion(msg openai.ChatCompletionMessage) (chatring.Message, error) {
	m := chatring.Message{Role: chatring.Assistant, Content: msg.Content}
	if m.Content == "" {
		m.Content = msg.Refusal
	}
	for i, c := range msg.ToolCalls {
		if c.Type != "function" {
			return chatring.Message{}, fmt.Errorf("%w: tool_calls[%d] has type %q", ErrUnsupported, i, c.Type)
		}
		m.ToolCalls = append(m.ToolCalls, chatring.ToolCall{
			ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments,
		})
	}
	if len(m.ToolCalls) > 0 && strings.TrimSpace(m.Content) == "" {
		m.Content = ""
	}
	return m, nil
}

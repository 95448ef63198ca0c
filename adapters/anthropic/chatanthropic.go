// Package chatanthropic converts between chatring messages and the
// Messages API types of the Anthropic Go SDK,
// github.com/anthropics/anthropic-sdk-go/v2: a window becomes the System
// and Messages of a MessageNewParams, and the model's reply becomes the
// Message to Append, tool calls included.
//
// It is a module of its own so that the chatring module never depends on
// the SDK. The package is named chatanthropic, not anthropic, so that it
// can be imported next to the SDK's package without renaming either.
//
//	win, err := h.Window(ctx, budget)
//	...
//	system, messages := chatanthropic.Messages(chatring.CompleteExchanges(win))
//	msg, err := client.Messages.New(ctx, anthropic.MessageNewParams{
//		Model: anthropic.ModelClaudeSonnet5_5, MaxTokens: 1024,
//		System: system, Messages: messages,
//	})
//	...
//	reply, err := chatanthropic.FromMessage(msg)
//	h.Append(ctx, reply)
//
// The Messages API differs from chat completions in three ways that
// Messages takes care of: the system prompt is a separate parameter, not
// a message; a tool call is a tool_use block of an assistant message and
// its result a tool_result block of the next user message; and the
// conversation is a list of alternating user and assistant turns, so
// consecutive messages that map to one role are merged into one turn.
package chatanthropic

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/chatring/chatring"
)

// ErrUnsupported reports a reply that a chatring.Message cannot hold: a
// content block other than text, tool_use and thinking (server tool use
// and its results, for example).
var ErrUnsupported = errors.New("chatanthropic: unsupported reply")

// Messages converts a window to the System and Messages parameters of a
// request:
//
//   - System messages (the pinned prompt and any appended to the window)
//     become the text blocks of system, in window order: the API has no
//     system role in messages, so a system message appended mid-way moves
//     to the top;
//   - User messages become text blocks of user turns, Tool messages
//     tool_result blocks (tool_use_id = ToolCallID, the content as text)
//     of user turns, and Assistant messages a text block (unless the
//     content is empty) followed by one tool_use block per call (the
//     arguments as the input object) of assistant turns;
//   - consecutive messages of one turn role are merged into one turn,
//     blocks in order. In a window from Window, a call's results follow it
//     directly, so they open the next user turn, as the API requires;
//   - the first turn must be the user's (the API refuses an assistant turn
//     first, at least on some platforms), so Assistant and Tool messages
//     before the first User message are left out. Window never starts
//     with such messages unless they are the conversation's first (an
//     assistant greeting) or a system message in the window led them,
//     which moves to System here. Whole exchanges go: a call's results
//     come before any User message.
//
// Message.Name has no place in the API and is not sent. The messages must
// be valid (as every message read from a History or a Store is); Messages
// panics on a role that is not one of the four.
func Messages(win []chatring.Message) ([]anthropic.TextBlockParam, []anthropic.MessageParam) {
	var system []anthropic.TextBlockParam
	var turns []anthropic.MessageParam
	// add appends blocks to the last turn when it has the role, else to a
	// new turn.
	add := func(user bool, blocks ...anthropic.ContentBlockParamUnion) {
		if n := len(turns); n > 0 {
			if last := turns[n-1]; user && last.OfUser != nil {
				last.OfUser.Content = append(last.OfUser.Content, blocks...)
				return
			} else if !user && last.OfAssistant != nil {
				last.OfAssistant.Content = append(last.OfAssistant.Content, blocks...)
				return
			}
		}
		if user {
			turns = append(turns, anthropic.NewUserMessage(blocks...))
		} else {
			turns = append(turns, anthropic.NewAssistantMessage(blocks...))
		}
	}
	started := false // a User message was converted
	for _, m := range win {
		if !started && (m.Role == chatring.Assistant || m.Role == chatring.Tool) {
			continue
		}
		switch m.Role {
		case chatring.System:
			system = append(system, anthropic.TextBlockParam{Text: m.Content})
		case chatring.User:
			started = true
			add(true, anthropic.NewTextBlock(m.Content))
		case chatring.Tool:
			add(true, anthropic.ContentBlockParamUnion{OfToolResult: &anthropic.ToolResultBlockParam{
				ToolUseID: m.ToolCallID,
				Content:   []anthropic.ToolResultBlockParamContentUnion{{OfText: &anthropic.TextBlockParam{Text: m.Content}}},
			}})
		case chatring.Assistant:
			blocks := make([]anthropic.ContentBlockParamUnion, 0, 1+len(m.ToolCalls))
			if m.Content != "" {
				blocks = append(blocks, anthropic.NewTextBlock(m.Content))
			}
			for _, c := range m.ToolCalls {
				blocks = append(blocks, anthropic.NewToolUseBlock(c.ID, json.RawMessage(c.Arguments), c.Name))
			}
			add(false, blocks...)
		default:
			panic(fmt.Sprintf("chatanthropic: message with invalid role (%d bytes)", len(m.Role)))
		}
	}
	return system, turns
}

// FromMessage returns the Message to Append for a reply of the Messages
// API: role Assistant, the text blocks concatenated as the content, and
// each tool_use block as a tool call (its ID, name and input as the
// arguments). Content that is only white space becomes empty when there
// are tool calls, as Append requires.
//
// Thinking blocks are not kept: chatring has no field for them. The API
// requires the thinking blocks of the last assistant turn to be sent back
// while tool results are being returned with extended thinking on, so do
// not use this with extended thinking and tools together. Any other block
// type returns an error wrapping ErrUnsupported.
func FromMessage(msg *anthropic.Message) (chatring.Message, error) {
	m := chatring.Message{Role: chatring.Assistant}
	var text strings.Builder
	for i, b := range msg.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			m.ToolCalls = append(m.ToolCalls, chatring.ToolCall{ID: b.ID, Name: b.Name, Arguments: string(b.Input)})
		case "thinking", "redacted_thinking":
		default:
			return chatring.Message{}, fmt.Errorf("%w: content[%d] is a %q block", ErrUnsupported, i, b.Type)
		}
	}
	m.Content = text.String()
	if len(m.ToolCalls) > 0 && strings.TrimSpace(m.Content) == "" {
		m.Content = ""
	}
	return m, nil
}

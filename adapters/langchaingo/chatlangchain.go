// Package chatlangchain runs langchaingo (github.com/tmc/langchaingo) on
// chatring: [History] is a langchaingo schema.ChatMessageHistory kept in a
// chatring Store under one conversation ID, so that langchaingo's memory
// types (memory.NewConversationBuffer and the others that take
// memory.WithChatHistory) keep their messages in any Store; and
// [MessageContent] and [FromContentChoice] convert windows to the
// llms.MessageContent of llms.Model.GenerateContent and its reply back to
// the Message to Append, tool calls included.
//
// It is a module of its own so that the chatring module never depends on
// langchaingo. The package is named chatlangchain so that it does not
// clash with langchaingo's packages (llms, memory, schema) or with the
// module's directory name, which is not a valid identifier.
package chatlangchain

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/chatring/chatring"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/schema"
)

// ErrUnsupported reports a langchaingo message that a chatring.Message
// cannot hold: a legacy function call or function message (no call ID),
// a generic message whose role is not system, user or assistant, or a
// message type chatring does not know.
var ErrUnsupported = errors.New("chatlangchain: unsupported message")

// History is a schema.ChatMessageHistory that keeps its messages in a
// chatring Store, as conversation conv. It holds no state of its own, so
// any number of Histories, in any number of processes, may share a
// conversation, and it is safe for concurrent use as far as the Store is
// (every chatring Store is).
type History struct {
	store     chatring.Store
	conv      string
	maxTokens int
}

var _ schema.ChatMessageHistory = (*History)(nil)

// Option configures a History.
type Option func(*History)

// WithMaxTokens sets the token budget of the window that Messages returns
// (default 0: the Store's Config.MaxTokens).
func WithMaxTokens(n int) Option {
	return func(h *History) { h.maxTokens = n }
}

// NewHistory returns the History of conversation conv in store.
func NewHistory(store chatring.Store, conv string, opts ...Option) *History {
	h := &History{store: store, conv: conv}
	for _, o := range opts {
		o(h)
	}
	return h
}

// AddMessage converts message with FromChatMessage and appends it. Errors
// are the Store's (validation errors are permanent) or ErrUnsupported.
func (h *History) AddMessage(ctx context.Context, message llms.ChatMessage) error {
	m, err := FromChatMessage(message)
	if err != nil {
		return err
	}
	_, err = h.store.Append(ctx, h.conv, m)
	return err
}

// AddUserMessage appends a User message.
func (h *History) AddUserMessage(ctx context.Context, message string) error {
	_, err := h.store.Append(ctx, h.conv, chatring.Message{Role: chatring.User, Content: message})
	return err
}

// AddAIMessage appends an Assistant message.
func (h *History) AddAIMessage(ctx context.Context, message string) error {
	_, err := h.store.Append(ctx, h.conv, chatring.Message{Role: chatring.Assistant, Content: message})
	return err
}

// Clear clears the conversation (Store.Clear: its pinned system prompt,
// if any, stays, and sequence numbers continue).
func (h *History) Clear(ctx context.Context) error {
	return h.store.Clear(ctx, h.conv)
}

// Messages returns the conversation's window as langchaingo chat
// messages: Store.Window with the History's token budget, whole tool
// exchanges only (chatring.CompleteExchanges), the pinned system prompt
// first if one is set, each converted with ChatMessage. It is what a
// langchaingo memory puts into the next prompt, so it holds what the
// budget allows, not the whole conversation.
func (h *History) Messages(ctx context.Context) ([]llms.ChatMessage, error) {
	win, err := h.store.Window(ctx, h.conv, h.maxTokens)
	if err != nil {
		return nil, err
	}
	win = chatring.CompleteExchanges(win)
	out := make([]llms.ChatMessage, len(win))
	for i, m := range win {
		out[i] = ChatMessage(m)
	}
	return out, nil
}

// SetMessages replaces the conversation's messages: it converts all of
// messages first (failing with nothing changed if one cannot be), then
// Clears the conversation and appends them in order. It is not atomic: a
// reader may see the conversation empty or partly written, an Append by
// another writer may land among them, and an error after the Clear leaves
// the messages appended so far. A SystemChatMessage becomes a System
// message in the window, not the pinned prompt.
func (h *History) SetMessages(ctx context.Context, messages []llms.ChatMessage) error {
	msgs := make([]chatring.Message, len(messages))
	for i, lm := range messages {
		m, err := FromChatMessage(lm)
		if err != nil {
			return fmt.Errorf("messages[%d]: %w", i, err)
		}
		msgs[i] = m
	}
	if err := h.store.Clear(ctx, h.conv); err != nil {
		return err
	}
	for _, m := range msgs {
		if _, err := h.store.Append(ctx, h.conv, m); err != nil {
			return err
		}
	}
	return nil
}

// ChatMessage converts m to a langchaingo chat message: System to
// SystemChatMessage, User to HumanChatMessage (GenericChatMessage with
// role "user" when m has a Name), Assistant to AIChatMessage with its tool
// calls, Tool to ToolChatMessage. It panics on an invalid role.
func ChatMessage(m chatring.Message) llms.ChatMessage {
	switch m.Role {
	case chatring.System:
		return llms.SystemChatMessage{Content: m.Content}
	case chatring.User:
		if m.Name != "" {
			return llms.GenericChatMessage{Role: string(chatring.User), Name: m.Name, Content: m.Content}
		}
		return llms.HumanChatMessage{Content: m.Content}
	case chatring.Assistant:
		return llms.AIChatMessage{Content: m.Content, ToolCalls: toolCalls(m.ToolCalls)}
	case chatring.Tool:
		return llms.ToolChatMessage{ID: m.ToolCallID, Content: m.Content}
	}
	panic(fmt.Sprintf("chatlangchain: message with invalid role (%d bytes)", len(m.Role)))
}

func toolCalls(calls []chatring.ToolCall) []llms.ToolCall {
	if len(calls) == 0 {
		return nil
	}
	out := make([]llms.ToolCall, len(calls))
	for i, c := range calls {
		out[i] = llms.ToolCall{ID: c.ID, Type: "function", FunctionCall: &llms.FunctionCall{Name: c.Name, Arguments: c.Arguments}}
	}
	return out
}

func fromToolCalls(calls []llms.ToolCall) ([]chatring.ToolCall, error) {
	var out []chatring.ToolCall
	for i, c := range calls {
		if c.FunctionCall == nil {
			return nil, fmt.Errorf("%w: tool call %d has no function call", ErrUnsupported, i)
		}
		out = append(out, chatring.ToolCall{ID: c.ID, Name: c.FunctionCall.Name, Arguments: c.FunctionCall.Arguments})
	}
	return out, nil
}

// FromChatMessage converts a langchaingo chat message to the Message to
// Append: human to User, ai to Assistant (with an AIChatMessage's tool
// calls; white-space content becomes empty when there are calls), system
// to System, tool to Tool (a ToolChatMessage's ID as ToolCallID), and a
// generic message with role "system", "user" or "assistant" to that role
// with its Name. Anything else returns an error wrapping ErrUnsupported.
func FromChatMessage(msg llms.ChatMessage) (chatring.Message, error) {
	m := chatring.Message{Content: msg.GetContent()}
	switch v := msg.(type) {
	case llms.HumanChatMessage, *llms.HumanChatMessage:
		m.Role = chatring.User
	case llms.SystemChatMessage, *llms.SystemChatMessage:
		m.Role = chatring.System
	case llms.AIChatMessage:
		return fromAI(v)
	case *llms.AIChatMessage:
		return fromAI(*v)
	case llms.ToolChatMessage:
		m.Role, m.ToolCallID = chatring.Tool, v.ID
	case *llms.ToolChatMessage:
		m.Role, m.ToolCallID = chatring.Tool, v.ID
	case llms.GenericChatMessage:
		return fromGeneric(v)
	case *llms.GenericChatMessage:
		return fromGeneric(*v)
	default:
		return chatring.Message{}, fmt.Errorf("%w: %q message (%T)", ErrUnsupported, msg.GetType(), msg)
	}
	return m, nil
}

func fromAI(v llms.AIChatMessage) (chatring.Message, error) {
	if v.FunctionCall != nil {
		return chatring.Message{}, fmt.Errorf("%w: legacy function call", ErrUnsupported)
	}
	calls, err := fromToolCalls(v.ToolCalls)
	if err != nil {
		return chatring.Message{}, err
	}
	m := chatring.Message{Role: chatring.Assistant, Content: v.Content, ToolCalls: calls}
	if len(calls) > 0 && strings.TrimSpace(m.Content) == "" {
		m.Content = ""
	}
	return m, nil
}

func fromGeneric(v llms.GenericChatMessage) (chatring.Message, error) {
	switch r := chatring.Role(v.Role); r {
	case chatring.System, chatring.User, chatring.Assistant:
		return chatring.Message{Role: r, Content: v.Content, Name: v.Name}, nil
	}
	return chatring.Message{}, fmt.Errorf("%w: generic message with a %d-byte role", ErrUnsupported, len(v.Role))
}

// MessageContent converts a window to the messages of
// llms.Model.GenerateContent: one llms.MessageContent per message, with
// the role of the same name; content as a TextContent part (none for an
// assistant message that only calls tools), an assistant's tool calls as
// ToolCall parts, and a tool message as a single ToolCallResponse part
// (with the name of the function it answers when the call is in win). Pass
// it a window of complete exchanges (chatring.CompleteExchanges). It
// panics on an invalid role.
func MessageContent(win []chatring.Message) []llms.MessageContent {
	names := map[string]string{} // call ID -> function name
	out := make([]llms.MessageContent, len(win))
	for i, m := range win {
		var mc llms.MessageContent
		switch m.Role {
		case chatring.System:
			mc.Role = llms.ChatMessageTypeSystem
		case chatring.User:
			mc.Role = llms.ChatMessageTypeHuman
		case chatring.Assistant:
			mc.Role = llms.ChatMessageTypeAI
		case chatring.Tool:
			mc.Role = llms.ChatMessageTypeTool
			mc.Parts = []llms.ContentPart{llms.ToolCallResponse{
				ToolCallID: m.ToolCallID, Name: names[m.ToolCallID], Content: m.Content,
			}}
			out[i] = mc
			continue
		default:
			panic(fmt.Sprintf("chatlangchain: message with invalid role (%d bytes)", len(m.Role)))
		}
		if m.Content != "" {
			mc.Parts = append(mc.Parts, llms.TextContent{Text: m.Content})
		}
		for _, c := range toolCalls(m.ToolCalls) {
			names[c.ID] = c.FunctionCall.Name
			mc.Parts = append(mc.Parts, c)
		}
		out[i] = mc
	}
	return out
}

// FromContentChoice returns the Message to Append for a choice of a
// GenerateContent response: role Assistant, its content and its tool calls
// (white-space content becomes empty when there are calls). A legacy
// function call without a tool call, or a tool call without a function,
// returns an error wrapping ErrUnsupported.
func FromContentChoice(c *llms.ContentChoice) (chatring.Message, error) {
	if c.FuncCall != nil && len(c.ToolCalls) == 0 {
		return chatring.Message{}, fmt.Errorf("%w: legacy function call", ErrUnsupported)
	}
	return fromAI(llms.AIChatMessage{Content: c.Content, ToolCalls: c.ToolCalls})
}

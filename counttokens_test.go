package chatring_test

import (
	"context"
	"testing"

	"github.com/chatring/chatring"
)

// TestCountTokensIsAppends: CountTokens gives what History.Append stores
// in Message.Tokens, with the default tokenizer (nil) and another one.
func TestCountTokensIsAppends(t *testing.T) {
	byteCount := chatring.TokenizerFunc(func(s string) int { return len(s) })
	call := chatring.ToolCall{ID: "call_1", Name: "lookup", Arguments: `{"q": "weather in Paris"}`}
	msgs := []chatring.Message{
		{Role: chatring.User, Content: "What is the weather?"},
		{Role: chatring.Assistant, Content: "Let me look.", ToolCalls: []chatring.ToolCall{call}},
		{Role: chatring.Tool, ToolCallID: call.ID, Content: "Sunny."},
		{Role: chatring.Assistant, ToolCalls: []chatring.ToolCall{call, {ID: "call_2", Name: "x", Arguments: "{}"}}},
	}
	for _, tc := range []struct {
		name string
		tok  chatring.Tokenizer // for CountTokens
		opts []chatring.Option  // for the History
	}{
		{"default", nil, nil},
		{"bytes", byteCount, []chatring.Option{chatring.WithTokenizer(byteCount)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := chatring.New(chatring.Config{MaxTurns: 4}, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				got, err := h.Append(context.Background(), m)
				if err != nil {
					t.Fatal(err)
				}
				if want := chatring.CountTokens(tc.tok, m); got.Tokens != want {
					t.Errorf("%s message: Append stored %d tokens, CountTokens says %d", m.Role, got.Tokens, want)
				}
			}
		})
	}
	if n := chatring.CountTokens(byteCount, msgs[1]); n != len("Let me look.")+len(call.ID)+len(call.Name)+len(call.Arguments) {
		t.Errorf("CountTokens with a byte tokenizer = %d, want the content's and each tool field's bytes", n)
	}
}

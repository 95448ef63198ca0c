package redisstore_test

import (
	"testing"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
)

// TestToolExchangeRoundTrips: an assistant message that calls two tools
// and the tools' results, appended through Store.Append (validation
// included), come back from Messages and Window with their ToolCalls and
// ToolCallIDs as sent. storetest's Window test compares Window with
// Messages, so a store that lost tool calls in both would pass it; this
// compares with what was sent.
func TestToolExchangeRoundTrips(t *testing.T) {
	client, _ := singleNode(t)
	s := newStore(t, client, chatring.Config{})
	ctx := t.Context()
	const conv = "tools"
	sent := []chatring.Message{
		{Role: chatring.User, Content: "weather in Paris and Rome?"},
		{Role: chatring.Assistant, ID: "turn-2", ToolCalls: []chatring.ToolCall{
			{ID: "call_a", Name: "get_weather", Arguments: `{"city":"Paris"}`},
			{ID: "call_b", Name: "get_weather", Arguments: `{"city": "Rome", "units": "°C \"metric\""}`},
		}},
		{Role: chatring.Tool, Content: "sunny, 21", ToolCallID: "call_a", Name: "get_weather"},
		{Role: chatring.Tool, Content: "rain, 14", ToolCallID: "call_b", Name: "get_weather"},
		{Role: chatring.Assistant, Content: "Paris is sunny, Rome rainy."},
	}
	var acked []chatring.Message
	for _, m := range sent {
		got, err := s.Append(ctx, conv, m)
		if err != nil {
			t.Fatalf("Append(%s): %v", m.Role, err)
		}
		acked = append(acked, got)
	}
	// Append again with the same ID: the stored message, tool calls and all.
	again, err := s.Append(ctx, conv, sent[1])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(acked[1], again); diff != "" {
		t.Errorf("Append with a stored ID returned another message (-first +again):\n%s", diff)
	}
	for i, m := range acked {
		want := sent[i]
		want.Seq, want.Time, want.Tokens = m.Seq, m.Time, m.Tokens
		if diff := cmp.Diff(want, m); diff != "" {
			t.Errorf("Append #%d returned (-sent +returned):\n%s", i+1, diff)
		}
	}
	if diff := cmp.Diff(acked, messagesOf(t, s, conv)); diff != "" {
		t.Errorf("Messages (-acked +read):\n%s", diff)
	}
	win, err := s.Window(ctx, conv, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(acked, win); diff != "" {
		t.Errorf("Window keeps the complete exchange (-acked +window):\n%s", diff)
	}
}

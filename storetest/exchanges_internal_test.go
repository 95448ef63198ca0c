package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/chatring/chatring"
	"pgregory.net/rapid"
)

// TestCheckExchangesFails proves that CheckExchanges catches each broken
// rule, and passes what it must.
func TestCheckExchangesFails(t *testing.T) {
	user := func(c string) chatring.Message { return chatring.Message{Role: chatring.User, Content: c} }
	reply := func(c string) chatring.Message { return chatring.Message{Role: chatring.Assistant, Content: c} }
	result := func(id string) chatring.Message {
		return chatring.Message{Role: chatring.Tool, Content: "r", ToolCallID: id}
	}
	calls := func(ids ...string) chatring.Message {
		m := chatring.Message{Role: chatring.Assistant}
		for _, id := range ids {
			m.ToolCalls = append(m.ToolCalls, chatring.ToolCall{ID: id, Name: "f", Arguments: "{}"})
		}
		return m
	}
	seq := func(first uint64, msgs ...chatring.Message) []chatring.Message {
		for i := range msgs {
			msgs[i].Seq = first + uint64(i)
		}
		return msgs
	}
	tests := []struct {
		name     string
		win      []chatring.Message
		inFlight bool
		ok       bool
	}{
		{"complete", seq(1, user("q"), calls("a", "b"), result("b"), result("a"), reply("r")), false, true},
		{"empty", nil, false, true},
		{"opens with a reply", seq(2, reply("r")), true, false},
		{"opens with a result", seq(1, result("a")), true, false},
		{"opens with a call at Seq 1", seq(1, calls("a"), result("a")), false, true},
		{"Seq decreases", append(seq(5, user("q")), seq(4, user("p"))...), true, false},
		{"result after a user message", seq(1, user("q"), calls("a"), user("p"), result("a")), true, false},
		{"unknown call", seq(1, user("q"), calls("a"), result("z")), true, false},
		{"answered twice", seq(1, user("q"), calls("a"), result("a"), result("a")), true, false},
		{"missing result", seq(1, user("q"), calls("a", "b"), result("a"), reply("r")), true, false},
		{"in flight allowed", seq(1, user("q"), calls("a", "b"), result("a")), true, true},
		{"in flight refused", seq(1, user("q"), calls("a", "b"), result("a")), false, false},
		{"older exchange in flight", seq(1, user("q"), calls("a"), calls("b"), result("b")), true, false},
	}
	for _, tt := range tests {
		if err := CheckExchanges(tt.win, tt.inFlight); (err == nil) != tt.ok {
			t.Errorf("%s: CheckExchanges = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

// FuzzWindow is the WindowRandom case driven by the fuzzer, on a
// MemoryStore of each backend.
func FuzzWindow(f *testing.F) {
	stores := map[string]chatring.Store{}
	for _, b := range chatring.Backends() {
		for turns := 1; turns <= 5; turns++ {
			s, err := chatring.NewMemoryStore(chatring.Config{Backend: b, MaxTurns: turns, MaxTokens: 8 * turns})
			if err != nil {
				f.Fatal(err)
			}
			f.Cleanup(func() { s.Close(context.Background()) })
			stores[fmt.Sprint(b, turns)] = s
		}
	}
	runs := 0
	f.Fuzz(rapid.MakeFuzz(func(t *rapid.T) {
		b := rapid.SampledFrom(chatring.Backends()).Draw(t, "backend")
		turns := rapid.IntRange(1, 5).Draw(t, "MaxTurns")
		runs++
		windowProperty(t, stores[fmt.Sprint(b, turns)], fmt.Sprint("fuzz-", runs), 8*turns)
	}))
}

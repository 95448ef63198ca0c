package chatring_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
)

// words counts one token per white-space separated word, so that the
// budgets in these tests are easy to read.
var words = chatring.TokenizerFunc(func(s string) int { return len(strings.Fields(s)) })

type turn struct {
	role    chatring.Role
	content string
}

func TestWindow(t *testing.T) {
	const prompt = "be brief" // 2 tokens
	conversation := []turn{
		{chatring.User, "q1 q1"},         // seq 1, 2 tokens
		{chatring.Assistant, "a1 a1 a1"}, // seq 2, 3 tokens
		{chatring.User, "q2 q2"},         // seq 3, 2 tokens
		{chatring.Assistant, "a2 a2 a2"}, // seq 4, 3 tokens
	}
	tests := []struct {
		name     string
		maxTurns int // 0: 10
		prompt   string
		turns    []turn
		clearAt  int // Clear before appending turns[clearAt-1]; 0: never
		budget   int
		want     []string
	}{
		{name: "budget 0 means MaxTokens", prompt: prompt, turns: conversation, budget: 0,
			want: []string{"0:system:be brief", "1:user:q1 q1", "2:assistant:a1 a1 a1", "3:user:q2 q2", "4:assistant:a2 a2 a2"}},
		{name: "exact fit", prompt: prompt, turns: conversation, budget: 12,
			want: []string{"0:system:be brief", "1:user:q1 q1", "2:assistant:a1 a1 a1", "3:user:q2 q2", "4:assistant:a2 a2 a2"}},
		{name: "one token short drops the oldest", prompt: prompt, turns: conversation, budget: 11,
			want: []string{"0:system:be brief", "3:user:q2 q2", "4:assistant:a2 a2 a2"}},
		{name: "cut before a user message", prompt: prompt, turns: conversation, budget: 7,
			want: []string{"0:system:be brief", "3:user:q2 q2", "4:assistant:a2 a2 a2"}},
		{name: "orphaned reply dropped", prompt: prompt, turns: conversation, budget: 6,
			want: []string{"0:system:be brief"}},
		{name: "room for the prompt only", prompt: prompt, turns: conversation, budget: 2,
			want: []string{"0:system:be brief"}},
		{name: "no prompt", turns: conversation, budget: 5,
			want: []string{"3:user:q2 q2", "4:assistant:a2 a2 a2"}},
		{name: "no prompt, nothing fits", turns: conversation, budget: 1,
			want: []string{}},
		{name: "empty history", prompt: prompt, budget: 2,
			want: []string{"0:system:be brief"}},
		{name: "reply whose question was evicted", maxTurns: 1, prompt: prompt, budget: 100,
			turns: []turn{{chatring.User, "q1"}, {chatring.Assistant, "a1"}, {chatring.Assistant, "a1 more"}},
			want:  []string{"0:system:be brief"}},
		{name: "eviction leaves a user message first", maxTurns: 1, budget: 100,
			turns: []turn{{chatring.User, "q1"}, {chatring.Assistant, "a1"}, {chatring.User, "q2"}},
			want:  []string{"3:user:q2"}},
		{name: "assistant greeting with seq 1 kept", budget: 100,
			turns: []turn{{chatring.Assistant, "hello"}, {chatring.User, "hi"}},
			want:  []string{"1:assistant:hello", "2:user:hi"}},
		{name: "reply whose question was cleared", budget: 100, clearAt: 2,
			turns: []turn{{chatring.User, "q1"}, {chatring.Assistant, "a1"}, {chatring.User, "q2"}},
			want:  []string{"3:user:q2"}},
		{name: "system message in the window may lead", budget: 3,
			turns: []turn{{chatring.User, "q1"}, {chatring.System, "use French"}, {chatring.Assistant, "oui"}},
			want:  []string{"2:system:use French", "3:assistant:oui"}},
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: tt.maxTurns, MaxTokens: 100},
					chatring.WithTokenizer(words))
				if tt.prompt != "" {
					if err := h.SetSystemPrompt(tt.prompt); err != nil {
						t.Fatal(err)
					}
				}
				for i, m := range tt.turns {
					if i+1 == tt.clearAt {
						if err := h.Clear(t.Context()); err != nil {
							t.Fatal(err)
						}
					}
					mustAppend(t, h, m.role, m.content)
				}
				got, err := h.Window(t.Context(), tt.budget)
				if err != nil {
					t.Fatalf("Window(%d): %v", tt.budget, err)
				}
				if diff := cmp.Diff(tt.want, brief(got)); diff != "" {
					t.Errorf("Window(%d) (-want +got):\n%s", tt.budget, diff)
				}
			})
		}
	})
}

func TestWindowBudgetErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		h := newHistory(t, chatring.Config{Backend: backend}, chatring.WithTokenizer(words))
		mustAppend(t, h, chatring.User, "hello")
		if _, err := h.Window(t.Context(), -1); !errors.Is(err, chatring.ErrBudgetTooSmall) {
			t.Errorf("Window(-1) error = %v, want ErrBudgetTooSmall", err)
		}
		if err := h.SetSystemPrompt("one two three"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Window(t.Context(), 2); !errors.Is(err, chatring.ErrBudgetTooSmall) {
			t.Errorf("Window(2) with a 3-token prompt: error = %v, want ErrBudgetTooSmall", err)
		}
		if got, err := h.Window(t.Context(), 3); err != nil || len(got) != 1 {
			t.Errorf("Window(3) with a 3-token prompt = %v, %v; want the prompt alone", brief(got), err)
		}
		// Removing the prompt makes any budget enough again.
		if err := h.SetSystemPrompt(""); err != nil {
			t.Fatal(err)
		}
		if _, ok := h.SystemPrompt(); ok {
			t.Error("SystemPrompt() still set after SetSystemPrompt(\"\")")
		}
		if got, err := h.Window(t.Context(), 1); err != nil || len(got) != 1 || got[0].Role != chatring.User {
			t.Errorf("Window(1) without prompt = %v, %v; want the user message", brief(got), err)
		}
	})
}

func TestClearKeepsPromptAndSequence(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: 2})
		if err := h.SetSystemPrompt("pinned"); err != nil {
			t.Fatal(err)
		}
		for range 3 { // 6 messages in a window of 4: 2 evicted
			mustAppend(t, h, chatring.User, "q")
			mustAppend(t, h, chatring.Assistant, "a")
		}
		for range 2 { // a second Clear with nothing new is a no-op
			if err := h.Clear(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if msgs, _ := h.Messages(t.Context(), nil); len(msgs) != 0 {
			t.Errorf("Messages after Clear = %v, want none", brief(msgs))
		}
		mustAppend(t, h, chatring.User, "again")
		got, err := h.Window(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"0:system:pinned", "7:user:again"}, brief(got)); diff != "" {
			t.Errorf("Window after Clear (-want +got):\n%s", diff)
		}
		// Push the cleared messages out of the ring: they must count once.
		for range 4 {
			mustAppend(t, h, chatring.User, "more")
		}
		s := h.Stats()
		// Seq 1-2 evicted before the Clear, 3-6 cleared, 7 evicted after.
		if s.Evicted != 3 || s.Cleared != 4 || s.WindowMessages != 4 || s.LastSeq != 11 {
			t.Errorf("Stats: evicted %d cleared %d window %d last %d; want 3 4 4 11",
				s.Evicted, s.Cleared, s.WindowMessages, s.LastSeq)
		}
	})
}

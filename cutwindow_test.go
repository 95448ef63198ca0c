package chatring_test

import (
	"errors"
	"testing"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
)

// TestCutWindowIsWindow checks CutWindow against History.Window on the
// same window and prompt, at every budget (tool exchanges cut, complete
// and in flight), and its errors.
func TestCutWindowIsWindow(t *testing.T) {
	h := newHistory(t, chatring.Config{MaxTurns: 3, MaxTokens: 1000}, chatring.WithTokenizer(words))
	if err := h.SetSystemPrompt("be short please"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []chatring.Message{
		user("one two"), reply("three"), user("four five six"),
		calls("seven", "c1"), result("c1", "eight nine"), user("ten"),
		reply("eleven twelve"), calls("", "c2", "c3"), result("c3", "thirteen"),
	} {
		if _, err := h.Append(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	win, _ := h.Messages(t.Context(), nil)
	prompt, _ := h.SystemPrompt()
	for budget := 1; budget <= 30; budget++ {
		want, werr := h.Window(t.Context(), budget)
		got, gerr := chatring.CutWindow(win, &prompt, budget)
		if !errors.Is(gerr, chatring.ErrBudgetTooSmall) && werr != nil || (werr == nil) != (gerr == nil) {
			t.Fatalf("budget %d: CutWindow error %v, Window error %v", budget, gerr, werr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("budget %d: CutWindow (-Window +CutWindow):\n%s", budget, diff)
		}
	}
	for _, budget := range []int{0, -1} {
		if _, err := chatring.CutWindow(win, nil, budget); !errors.Is(err, chatring.ErrBudgetTooSmall) {
			t.Errorf("CutWindow(budget %d) error %v, want ErrBudgetTooSmall", budget, err)
		}
	}
	// CutWindow returns a new slice: changing it leaves the input alone.
	got, _ := chatring.CutWindow(win, nil, 1000)
	got[len(got)-1].Content = "changed"
	if win[len(win)-1].Content == "changed" {
		t.Error("CutWindow's result shares the input's array")
	}
}

package chatring_test

import (
	"fmt"
	"testing"

	"github.com/chatring/chatring"
	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// forEachBackend runs f as a subtest per backend name.
func forEachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	t.Helper()
	for _, b := range chatring.Backends() {
		t.Run("backend="+b, func(t *testing.T) { f(t, b) })
	}
}

// newHistory returns a History for cfg or fails the test.
func newHistory(t testing.TB, cfg chatring.Config, opts ...chatring.Option) *chatring.History {
	t.Helper()
	h, err := chatring.New(cfg, opts...)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return h
}

// mustAppend appends a message or fails the test.
func mustAppend(t testing.TB, h *chatring.History, role chatring.Role, content string) chatring.Message {
	t.Helper()
	m, err := h.Append(t.Context(), chatring.Message{Role: role, Content: content})
	if err != nil {
		t.Fatalf("Append(%s, %q): %v", role, content, err)
	}
	return m
}

// brief renders messages as "seq:role:content" lines for readable diffs.
func brief(msgs []chatring.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = fmt.Sprintf("%d:%s:%s", m.Seq, m.Role, m.Content)
	}
	return out
}

package chatring_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chatring/chatring"
)

// TestParseConfigErrorsAreValidationErrors: every way ParseConfig rejects a
// file, broken JSON included, is a *ValidationError wrapping
// ErrInvalidConfig, whose Field names the offending key when there is one
// ("" when the problem is not one key's: not an object, broken syntax,
// data after the object).
func TestParseConfigErrorsAreValidationErrors(t *testing.T) {
	for _, c := range []struct {
		json, field, reason string
	}{
		{``, "", "JSON object"},
		{`[1, 2]`, "", "JSON object"},
		{`"mutex"`, "", "JSON object"},
		{`{"enable_logging": true}`, "enable_logging", "unknown field"},
		{`{"max_turns": 10, "thread_safe": true}`, "thread_safe", "unknown field"},
		{`{"max_turns": "ten"}`, "max_turns", "string"},
		{`{"max_turns": 1.5}`, "max_turns", "number 1.5"},
		{`{"max_turns": {"n": 1}}`, "max_turns", "object"},
		{`{"backend": 5}`, "backend", "number"},
		{`{"idle_ttl": 5}`, "idle_ttl", "number"},
		{`{"max_turns": 10} {}`, "", "after the JSON object"},
		{`{"max_turns": 10} x`, "", "after the JSON object"},
		{`{"max_turns": 10,}`, "", "invalid character"},
		{`{"max_turns": 10`, "", "unexpected end"},
		{`{"max_turns": 0}`, "max_turns", "explicit 0"},
		{`{"max_turns": 10, "max_turns": 20}`, "max_turns", "duplicate key"},
	} {
		t.Run(c.json, func(t *testing.T) {
			_, err := chatring.ParseConfig([]byte(c.json))
			if !errors.Is(err, chatring.ErrInvalidConfig) {
				t.Fatalf("ParseConfig = %v, want ErrInvalidConfig", err)
			}
			ve, ok := errors.AsType[*chatring.ValidationError](err)
			if !ok {
				t.Fatalf("ParseConfig = %v (%T), want a *ValidationError", err, err)
			}
			if ve.Field != c.field || !strings.Contains(ve.Reason, c.reason) {
				t.Errorf("Field %q, Reason %q; want Field %q and a reason mentioning %q", ve.Field, ve.Reason, c.field, c.reason)
			}
			if strings.Contains(err.Error(), ": :") {
				t.Errorf("Error() = %q has an empty field", err.Error())
			}
		})
	}
}

// TestClosedIsAValidationError: a write after Close is refused with
// ErrClosed as a *ValidationError, like every other rejection, with no
// Field (it is not about a field) and a reason naming the operation.
func TestClosedIsAValidationError(t *testing.T) {
	ctx := context.Background()
	h, err := chatring.New(chatring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	s, err := chatring.NewMemoryStore(chatring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	msg := chatring.Message{Role: chatring.User, Content: "hi"}
	for _, c := range []struct {
		op  string
		err error
	}{
		{"append", func() error { _, err := h.Append(ctx, msg); return err }()},
		{"set system prompt", h.SetSystemPrompt("be brief")},
		{"clear", h.Clear(ctx)},
		{"append", func() error { _, err := s.Append(ctx, "c1", msg); return err }()},
		{"clear", s.Clear(ctx, "c1")},
	} {
		if !errors.Is(c.err, chatring.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", c.op, c.err)
			continue
		}
		ve, ok := errors.AsType[*chatring.ValidationError](c.err)
		if !ok {
			t.Errorf("%s after Close: %v (%T), want a *ValidationError", c.op, c.err, c.err)
			continue
		}
		if ve.Field != "" || !strings.Contains(ve.Reason, c.op) || strings.Contains(c.err.Error(), ": :") {
			t.Errorf("%s after Close: Field %q, Reason %q, Error() %q", c.op, ve.Field, ve.Reason, c.err.Error())
		}
	}
}

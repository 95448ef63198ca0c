package chatring_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/chatring/chatring"
)

func TestConfigWithDefaults(t *testing.T) {
	got := chatring.Config{MaxTurns: 3}.WithDefaults()
	want := chatring.Config{Backend: chatring.DefaultBackend, MaxTurns: 3, MaxTokens: chatring.DefaultMaxTokens,
		MaxMessageBytes: chatring.DefaultMaxMessageBytes, IdleTTL: chatring.DefaultIdleTTL,
		MaxConversations: chatring.DefaultMaxConversations}
	if got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
}

// TestValidateSystemPrompt checks that ValidateSystemPrompt rejects what
// History.SetSystemPrompt rejects, with the same error.
func TestValidateSystemPrompt(t *testing.T) {
	cfg := chatring.Config{MaxMessageBytes: 10}
	h, err := chatring.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "ok", strings.Repeat("p", 11), " \n", "a\x00", "\xff"} {
		got, want := chatring.ValidateSystemPrompt(p, cfg), h.SetSystemPrompt(p)
		var ve *chatring.ValidationError
		if (got == nil) != (want == nil) || got != nil && (got.Error() != want.Error() || !errors.As(got, &ve) || ve.Field != "system_prompt") {
			t.Errorf("ValidateSystemPrompt(%q) = %v, SetSystemPrompt returned %v", p, got, want)
		}
	}
}

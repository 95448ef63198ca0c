package chatring_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
)

func TestAppendWithIDIsIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: 2})
		ctx := t.Context()
		first, err := h.Append(ctx, chatring.Message{Role: chatring.User, Content: "hello", ID: "m-1"})
		if err != nil {
			t.Fatal(err)
		}
		mustAppend(t, h, chatring.Assistant, "hi")
		// A retry, even with other content, returns the stored message.
		again, err := h.Append(ctx, chatring.Message{Role: chatring.User, Content: "hello, edited", ID: "m-1"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("retried Append returned another message (-first +retry):\n%s", diff)
		}
		msgs, _ := h.Messages(ctx, nil)
		if diff := cmp.Diff([]string{"1:user:hello", "2:assistant:hi"}, brief(msgs)); diff != "" {
			t.Errorf("window after a retry (-want +got):\n%s", diff)
		}
		if s := h.Stats(); s.Appended != 2 || s.Deduplicated != 1 {
			t.Errorf("Stats: appended %d deduplicated %d, want 2 and 1", s.Appended, s.Deduplicated)
		}
		// Once the message has left the window, its ID no longer matches.
		mustAppend(t, h, chatring.User, "3")
		mustAppend(t, h, chatring.Assistant, "4")
		mustAppend(t, h, chatring.User, "5")
		m, err := h.Append(ctx, chatring.Message{Role: chatring.User, Content: "hello", ID: "m-1"})
		if err != nil || m.Seq != 6 {
			t.Errorf("Append of an evicted ID = seq %d, %v; want a new message, seq 6", m.Seq, err)
		}
		// Nor after Clear.
		if err := h.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		m, err = h.Append(ctx, chatring.Message{Role: chatring.User, Content: "hello", ID: "m-1"})
		if err != nil || m.Seq != 7 {
			t.Errorf("Append of a cleared ID = seq %d, %v; want a new message, seq 7", m.Seq, err)
		}
	})
}

func TestConcurrentAppendsWithOneIDStoreOnce(t *testing.T) {
	const goroutines, ids = 8, 50
	forEachBackend(t, func(t *testing.T, backend string) {
		h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: 100})
		got := make([][]chatring.Message, goroutines)
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := range ids {
					id := "id-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
					m, err := h.Append(t.Context(), chatring.Message{Role: chatring.User, Content: id, ID: id})
					if err != nil {
						t.Errorf("Append: %v", err)
						return
					}
					got[g] = append(got[g], m)
				}
			})
		}
		wg.Wait()
		for g := 1; g < goroutines; g++ {
			if diff := cmp.Diff(got[0], got[g]); diff != "" {
				t.Fatalf("goroutines 0 and %d got different messages for the same IDs (-0 +%d):\n%s", g, g, diff)
			}
		}
		msgs, _ := h.Messages(t.Context(), nil)
		if len(msgs) != ids {
			t.Errorf("window holds %d messages, want %d (one per ID)", len(msgs), ids)
		}
		if s := h.Stats(); s.Appended != ids || s.Deduplicated != (goroutines-1)*ids {
			t.Errorf("Stats: appended %d deduplicated %d, want %d and %d", s.Appended, s.Deduplicated, ids, (goroutines-1)*ids)
		}
	})
}

func TestAppendRejectsBadID(t *testing.T) {
	tests := []struct{ name, id string }{
		{"too long", strings.Repeat("a", chatring.MaxIDBytes+1)},
		{"newline", "a\nb"},
		{"tab", "a\tb"},
		{"DEL", "a\x7f"},
		{"non-ASCII", "é"},
		{"invalid UTF-8", "\xff"},
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		h := newHistory(t, chatring.Config{Backend: backend})
		for _, tt := range tests {
			_, err := h.Append(t.Context(), chatring.Message{Role: chatring.User, Content: "x", ID: tt.id})
			var ve *chatring.ValidationError
			if !errors.Is(err, chatring.ErrInvalidContent) || !errors.As(err, &ve) || ve.Field != "id" {
				t.Errorf("%s: Append = %v, want ErrInvalidContent for field id", tt.name, err)
			}
			if strings.Contains(err.Error(), tt.id) && tt.id != "" {
				t.Errorf("%s: the error quotes the ID: %v", tt.name, err)
			}
		}
		if s := h.Stats(); s.Appended != 0 || s.Rejected != uint64(len(tests)) {
			t.Errorf("Stats: appended %d rejected %d, want 0 and %d", s.Appended, s.Rejected, len(tests))
		}
		// The longest and the widest valid IDs are accepted.
		for _, id := range []string{strings.Repeat("z", chatring.MaxIDBytes), " !~{}:*"} {
			if _, err := h.Append(t.Context(), chatring.Message{Role: chatring.User, Content: "x", ID: id}); err != nil {
				t.Errorf("Append with ID %q: %v", id, err)
			}
		}
	})
}

// TestConcurrentAppendsWithAndWithoutID mixes Appends that carry an ID
// (the same IDs in every goroutine) with Appends that carry none: every
// ID is stored once, every Append without an ID is stored, and the
// window holds exactly those messages with contiguous Seq values.
func TestConcurrentAppendsWithAndWithoutID(t *testing.T) {
	const goroutines, rounds = 6, 40
	forEachBackend(t, func(t *testing.T, backend string) {
		// Room for every message: rounds IDs plus goroutines×rounds others.
		h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: (rounds + goroutines*rounds) / 2})
		byID := make([][]chatring.Message, goroutines)
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := range rounds {
					id := fmt.Sprint("id-", i)
					m, err := h.Append(t.Context(), chatring.Message{Role: chatring.User, Content: id, ID: id})
					if err != nil {
						t.Error(err)
						return
					}
					byID[g] = append(byID[g], m)
					if _, err := h.Append(t.Context(), chatring.Message{Role: chatring.Assistant, Content: fmt.Sprintf("g%d-%d", g, i)}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		for g := 1; g < goroutines; g++ {
			if diff := cmp.Diff(byID[0], byID[g]); diff != "" {
				t.Fatalf("goroutines 0 and %d got different messages for the same IDs (-0 +%d):\n%s", g, g, diff)
			}
		}
		msgs, _ := h.Messages(t.Context(), nil)
		if len(msgs) != rounds+goroutines*rounds {
			t.Fatalf("window holds %d messages, want %d IDs and %d without", len(msgs), rounds, goroutines*rounds)
		}
		seen := map[string]bool{}
		for i, m := range msgs {
			if m.Seq != uint64(i+1) {
				t.Fatalf("window[%d].Seq = %d, want %d", i, m.Seq, i+1)
			}
			if seen[m.Content] {
				t.Errorf("%q stored twice", m.Content)
			}
			seen[m.Content] = true
		}
	})
}

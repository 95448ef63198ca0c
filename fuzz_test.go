package chatring_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
)

const fuzzMaxBytes = 32

// forbidden reports whether r is a control character Append must reject
// in content (all of C0 but tab, newline and carriage return; DEL; C1),
// written out by code point rather than with package unicode.
func forbidden(r rune, allowSpace bool) bool {
	if allowSpace && (r == '\t' || r == '\n' || r == '\r') {
		return false
	}
	return r < 0x20 || (r >= 0x7f && r <= 0x9f)
}

func hasForbidden(s string, allowSpace bool) bool {
	for _, r := range s {
		if forbidden(r, allowSpace) {
			return true
		}
	}
	return false
}

// FuzzAppend checks validation against its specification: accepted
// messages have a valid role, non-blank valid UTF-8 content within the size
// limit and without forbidden control characters, and a valid name, and
// are stored exactly; rejected ones fail with one of the sentinels and
// change nothing but the rejection counters.
func FuzzAppend(f *testing.F) {
	// More seeds live in testdata/fuzz/FuzzAppend.
	f.Add("user", "hello", "")
	f.Add("assistant", "a\tb\r\nc", "")
	f.Add("tool", "{}", "calc")
	f.Add("admin", "hi", "")
	f.Add("user", "", "")
	f.Add("user", "\xff", "")
	f.Add("user", "\u0085", "")
	f.Add("user", strings.Repeat("é", fuzzMaxBytes/2+1), "")
	backends := chatring.Backends()
	f.Fuzz(func(t *testing.T, role, content, name string) {
		backend := backends[len(content)%len(backends)]
		h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: 1, MaxMessageBytes: fuzzMaxBytes})
		mustAppend(t, h, chatring.User, "before")
		before := readState(t, h)

		m := chatring.Message{Role: chatring.Role(role), Content: content, Name: name}
		got, err := h.Append(t.Context(), m)
		after := readState(t, h)

		if err == nil {
			switch {
			case !m.Role.Valid():
				t.Fatalf("accepted role %q", role)
			case len(content) > fuzzMaxBytes:
				t.Fatalf("accepted %d bytes of content, limit %d", len(content), fuzzMaxBytes)
			case !utf8.ValidString(content) || hasForbidden(content, true):
				t.Fatalf("accepted content %q", content)
			case strings.TrimSpace(content) == "":
				t.Fatalf("accepted blank content %q", content)
			case len(name) > chatring.MaxNameBytes || !utf8.ValidString(name) || hasForbidden(name, false):
				t.Fatalf("accepted name %q", name)
			}
			if got.Seq != 2 || got.Content != content || got.Name != name || got.Role != m.Role {
				t.Fatalf("Append returned %+v for %+v", got, m)
			}
			if n := len(after.Messages); n != 2 || after.Messages[n-1] != got {
				t.Fatalf("window after Append = %v", brief(after.Messages))
			}
			return
		}

		var sentinels int
		for _, s := range []error{chatring.ErrInvalidRole, chatring.ErrEmptyContent,
			chatring.ErrMessageTooLarge, chatring.ErrInvalidContent} {
			if errors.Is(err, s) {
				sentinels++
			}
		}
		if sentinels != 1 {
			t.Fatalf("error %v matches %d sentinels, want exactly one", err, sentinels)
		}
		valid := m.Role.Valid() && len(content) <= fuzzMaxBytes && utf8.ValidString(content) &&
			!hasForbidden(content, true) && strings.TrimSpace(content) != "" &&
			len(name) <= chatring.MaxNameBytes && utf8.ValidString(name) && !hasForbidden(name, false)
		if valid {
			t.Fatalf("rejected a valid message %+v: %v", m, err)
		}
		if diff := cmp.Diff(before, after, ignoreVolatile); diff != "" {
			t.Fatalf("rejected message changed the history (-before +after):\n%s", diff)
		}
		if after.Stats.Rejected != 1 {
			t.Fatalf("Rejected = %d, want 1", after.Stats.Rejected)
		}
	})
}

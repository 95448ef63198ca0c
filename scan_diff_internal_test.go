package chatring

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// refCheckChars is checkChars written the plain way, one decoded rune at
// a time with package unicode, as the validation before the fused pass
// (issue 13) specified it: the model the fast paths must agree with.
func refCheckChars(field string, s string, allowSpace bool) error {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return &ValidationError{Field: field, Err: ErrInvalidContent,
				Reason: fmt.Sprintf("invalid UTF-8 at byte %d", i)}
		}
		if unicode.IsControl(r) && !(allowSpace && (r == '\t' || r == '\n' || r == '\r')) {
			return controlError(field, r, i)
		}
		i += n
	}
	return nil
}

// refValidateText is validateText before the fused pass: the size, then
// refCheckChars, then strings.TrimSpace for blank content.
func refValidateText(field string, s string, maxBytes int) error {
	if len(s) > maxBytes {
		return &ValidationError{Field: field, Err: ErrMessageTooLarge,
			Reason: fmt.Sprintf("%d bytes, limit %d", len(s), maxBytes)}
	}
	if err := refCheckChars(field, s, true); err != nil {
		return err
	}
	if strings.TrimSpace(s) == "" {
		return &ValidationError{Field: field, Err: ErrEmptyContent,
			Reason: fmt.Sprintf("%d bytes of white space or nothing", len(s))}
	}
	return nil
}

// refValidateMessage is validateMessage before issue 13: every check
// called on every message, empty fields included.
func refValidateMessage(m *Message, maxBytes int) error {
	if !m.Role.Valid() {
		return &ValidationError{Field: "role", Err: ErrInvalidRole,
			Reason: fmt.Sprintf("%d-byte role is not system, user, assistant or tool", len(m.Role))}
	}
	if m.Content != "" || m.Role != Assistant || len(m.ToolCalls) == 0 {
		if err := refValidateText("content", m.Content, maxBytes); err != nil {
			return err
		}
	}
	if err := validateName(m.Name); err != nil {
		return err
	}
	if err := validateID(m.ID); err != nil {
		return err
	}
	return validateToolFields(m, maxBytes)
}

// refTokens is countTokens before issue 13 with referenceCount for
// ApproxTokenizer: every non-empty field counted on its own.
func refTokens(m *Message) int {
	count := func(s string) int {
		if s == "" {
			return 0
		}
		return referenceCount(s)
	}
	n := count(m.Content) + count(m.ToolCallID)
	for _, c := range m.ToolCalls {
		n += count(c.ID) + count(c.Name) + count(c.Arguments)
	}
	return n
}

// checkAgainstRef fails t unless validateCounted, with and without the
// fused count, rejects m exactly as refValidateMessage does (same error
// text) and, when it accepts m, the tokens History stores are refTokens.
func checkAgainstRef(t *testing.T, m Message, maxBytes int) {
	t.Helper()
	want := refValidateMessage(&m, maxBytes)
	for _, approx := range []bool{true, false} {
		content, err := validateCounted(&m, maxBytes, approx)
		if (err == nil) != (want == nil) || err != nil && err.Error() != want.Error() {
			t.Fatalf("validateCounted(%#v, %d, approx=%v) = %v, the validation before issue 13 says %v",
				m, maxBytes, approx, err, want)
		}
		if err != nil {
			continue
		}
		if !approx && content != -1 {
			t.Fatalf("validateCounted(%#v, approx=false) counted %d, want -1", m, content)
		}
		if got, want := countTokens(ApproxTokenizer{}, &m, content), refTokens(&m); got != want {
			t.Fatalf("tokens of %#v = %d (approx=%v), reference says %d", m, got, approx, want)
		}
	}
}

// adversarial are pieces of content around which the fast paths of
// approxScan and checkChars change: bytes at and above 0x80, invalid and
// truncated UTF-8, overlong forms, UTF-8-encoded surrogates, U+FFFD as a
// character, the controls (C0, DEL, C1), Unicode white space, format
// characters, and runs of CJK, kana, Hangul, CJK Extension B and emoji.
var adversarial = []string{
	"", " ", "  ", "\t", "\n", "\r", "\r\n", "\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\x7f", "~", "@", "[", "`", "{",
	"\x80", "\xbf", "\xc0", "\xc1", "\xc0\x80", "\xc1\xbf", "\xc2", "\xc2\x80", "\xc2\x9f", "\xc2\xa0", "\xc3\xa9", "\xdf\xbf",
	"\xe0", "\xe0\x80", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xe0\xa0\x80", "\xe4\xb7\xbf", "\xe4\xb8\x80", "\xe4\xb8", "\xe9\xbf\xbf",
	"\xe9\xbf", "\xe9\xc0\x80", "\xea\x80\x80", "\xed\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xed\xa0\x80\xed\xb0\x80",
	"\xee\x80\x80", "\xef\xbb\xbf", "\xef\xbf\xbd", "\xef\xbf\xbe", "\xef\xbf\xbf", "\xf0\x80\x80\x80", "\xf0\x9f\x99\x82",
	"\xf0\x9f\x99", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfe", "\xff",
	"\u0085", "\u00a0", "\u1680", "\u2000", "\u200b", "\u200c", "\u200d", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000",
	"\ufeff", "\u00ad", "\u0301", "e\u0301", "\u3001", "\u3002", "\uff01", "\uff21", "\uff41", "\uff10", "\uffe5",
	"你", "你好世界", "你好，世界！", "か", "カタカナ", "한국어", "\U00020000", "\U0002a6d6\U00020000", "你\U00020000好",
	"한你か\U00020001カ", "\U0001F468\u200d\U0001F469\u200d\U0001F467", "\U0001F44B\U0001F3FD", "\U0001F1EB\U0001F1F7",
	"a", "ab", "abcdefg", "abcdefgh", "abcdefghi", "a b", "a  b", "a b c d e f g h", "a.b", "a, b", "x1", "123", "1 2",
	"word word", "Word-word", "l'été", "straße", "Ελληνικά", "русский", "עברית", "العربية", "\u0660\u0661",
}

// TestScanMatchesReferenceAtBoundaries puts every adversarial piece at
// every offset from 0 to 17 in ASCII letters (so that it straddles the
// word-at-a-time loops' 8-byte boundaries), before letters, a space and a
// word, or nothing, and checks the fused pass against the validation and
// the count before issue 13, with the size limit at and just under the
// content's length.
func TestScanMatchesReferenceAtBoundaries(t *testing.T) {
	fills := []string{"abcdefghijklmnopq", "  \t              ", "ab cd ef gh ij kl", "你好你好你好"}
	suffixes := []string{"", " word", "abcdefghij klm", "\x80", "你"}
	for _, fill := range fills {
		for _, piece := range adversarial {
			for off := 0; off <= 17 && off <= len(fill); off++ {
				for _, suffix := range suffixes {
					s := fill[:off] + piece + suffix
					checkAgainstRef(t, Message{Role: User, Content: s}, len(s))
					if len(s) > 0 {
						checkAgainstRef(t, Message{Role: User, Content: s}, len(s)-1)
					}
				}
			}
		}
	}
}

// TestScanMatchesReferenceOnPieces checks every concatenation of two
// adversarial pieces, and of three from every sixth piece.
func TestScanMatchesReferenceOnPieces(t *testing.T) {
	var some []string
	for i := 0; i < len(adversarial); i += 6 {
		some = append(some, adversarial[i])
	}
	for _, a := range adversarial {
		for _, b := range adversarial {
			checkAgainstRef(t, Message{Role: User, Content: a + b}, 1<<20)
		}
	}
	for _, a := range some {
		for _, b := range some {
			for _, c := range some {
				checkAgainstRef(t, Message{Role: Assistant, Content: a + b + c}, 1<<20)
			}
		}
	}
}

// TestValidateSkipsNothing checks that validateCounted, which skips the
// name, ID and tool checks on messages without those fields, still
// rejects what they reject: a tool message without ToolCallID, a
// ToolCallID or tool calls on the wrong role, an empty tool call, and bad
// names and IDs, with the same errors as the validation before issue 13.
func TestValidateSkipsNothing(t *testing.T) {
	cases := []struct {
		name string
		m    Message
		is   error
	}{
		{"tool without tool_call_id", Message{Role: Tool, Content: "21C"}, ErrInvalidToolCall},
		{"user with tool_call_id", Message{Role: User, Content: "hi", ToolCallID: "call_1"}, ErrInvalidToolCall},
		{"user with tool calls", Message{Role: User, Content: "hi", ToolCalls: []ToolCall{{ID: "a", Name: "f", Arguments: "{}"}}}, ErrInvalidToolCall},
		{"assistant with an empty tool call", Message{Role: Assistant, ToolCalls: []ToolCall{{}}}, ErrInvalidToolCall},
		{"assistant with an empty tool call and content", Message{Role: Assistant, Content: "x", ToolCalls: []ToolCall{{}}}, ErrInvalidToolCall},
		{"assistant with an empty, non-nil ToolCalls", Message{Role: Assistant, ToolCalls: []ToolCall{}}, ErrEmptyContent},
		{"tool call without arguments", Message{Role: Assistant, ToolCalls: []ToolCall{{ID: "a", Name: "f"}}}, ErrInvalidContent},
		{"name with a newline", Message{Role: User, Content: "hi", Name: "a\nb"}, ErrInvalidContent},
		{"name with invalid UTF-8", Message{Role: User, Content: "hi", Name: "\xff"}, ErrInvalidContent},
		{"name too long", Message{Role: User, Content: "hi", Name: strings.Repeat("n", MaxNameBytes+1)}, ErrMessageTooLarge},
		{"ID with a tab", Message{Role: User, Content: "hi", ID: "a\tb"}, ErrInvalidContent},
		{"ID with a non-ASCII byte", Message{Role: User, Content: "hi", ID: "é"}, ErrInvalidContent},
		{"ID too long", Message{Role: User, Content: "hi", ID: strings.Repeat("i", MaxIDBytes+1)}, ErrInvalidContent},
		{"tool fields over the size", Message{Role: Tool, Content: "0123456789", ToolCallID: "call_123456789"}, ErrMessageTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := refValidateMessage(&c.m, 16)
			if want == nil {
				t.Fatalf("the reference accepts %+v; the case is wrong", c.m)
			}
			if !errors.Is(want, c.is) {
				t.Fatalf("the reference rejects %+v with %v, want %v; the case is wrong", c.m, want, c.is)
			}
			checkAgainstRef(t, c.m, 16)
		})
	}
}

// FuzzValidateCounted checks validateCounted, with and without the fused
// count, against the validation and the token count before issue 13 on
// messages with any fields.
func FuzzValidateCounted(f *testing.F) {
	f.Add("user", "hello, world", "", "", "", uint8(0), "", "", "", uint16(64))
	f.Add("tool", "21C", "", "", "", uint8(0), "", "", "", uint16(64))
	f.Add("assistant", "", "bot", "id-1", "", uint8(1), "call_1", "f", `{"a":1}`, uint16(64))
	f.Add("assistant", "", "", "", "", uint8(1), "", "", "", uint16(64))
	f.Add("user", "abcdefgh\xe4\xb8\x80ijkl", "", "", "", uint8(0), "", "", "", uint16(16))
	f.Add("user", "你好\xed\xa0\x80", "", "", "", uint8(0), "", "", "", uint16(1000))
	f.Fuzz(func(t *testing.T, role, content, name, id, toolCallID string, calls uint8,
		callID, callName, args string, maxBytes uint16) {
		m := Message{Role: Role(role), Content: content, Name: name, ID: id, ToolCallID: toolCallID}
		for i := range int(calls % 3) {
			m.ToolCalls = append(m.ToolCalls, ToolCall{ID: callID + strings.Repeat("x", i), Name: callName, Arguments: args})
		}
		checkAgainstRef(t, m, int(maxBytes))
	})
}

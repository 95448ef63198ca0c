package chatring_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
		if m.Role == chatring.Tool {
			m.ToolCallID = "call_1" // required; FuzzToolCalls fuzzes it
		}
		got, err := h.Append(t.Context(), m)
		after := readState(t, h)

		if err == nil {
			switch {
			case !m.Role.Valid():
				t.Fatalf("accepted role %q", role)
			case len(content)+len(m.ToolCallID) > fuzzMaxBytes:
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
			// Append counts the content in the pass that validates it;
			// the count must be ApproxTokenizer.Count's.
			if want := approxTokens(m); got.Tokens != want {
				t.Fatalf("Append counted %d tokens for %+v, ApproxTokenizer says %d", got.Tokens, m, want)
			}
			if n := len(after.Messages); n != 2 || !cmp.Equal(after.Messages[n-1], got) {
				t.Fatalf("window after Append = %v", brief(after.Messages))
			}
			return
		}

		checkOneSentinel(t, err)
		valid := m.Role.Valid() && len(content)+len(m.ToolCallID) <= fuzzMaxBytes && utf8.ValidString(content) &&
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

// checkOneSentinel fails t unless err matches exactly one of the sentinel
// errors of validation.
func checkOneSentinel(t *testing.T, err error) {
	t.Helper()
	n := 0
	for _, s := range []error{chatring.ErrInvalidRole, chatring.ErrEmptyContent, chatring.ErrMessageTooLarge,
		chatring.ErrInvalidContent, chatring.ErrInvalidToolCall} {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %v matches %d sentinels, want exactly one", err, n)
	}
}

const fuzzToolMaxBytes = 64

// toolToken reports whether s is a valid tool call ID or function name of
// at most maxBytes: printable ASCII without spaces.
func toolToken(s string, maxBytes int) bool {
	if s == "" || len(s) > maxBytes {
		return false
	}
	for _, r := range []byte(s) {
		if r < '!' || r > '~' {
			return false
		}
	}
	return true
}

// jsonObject reports whether s decodes as one JSON object.
func jsonObject(s string) bool {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return false
	}
	_, ok := v.(map[string]any)
	return ok
}

// FuzzToolCalls checks the validation of tool fields against its
// specification, written independently of the implementation: a message
// with n%3 tool calls (from the two given) and a ToolCallID is accepted
// exactly when the roles allow its tool fields, IDs and names are printable
// ASCII without spaces within their limits, call IDs are distinct,
// arguments are a JSON object of valid, control-free text, content is
// valid (or empty on an assistant message with calls), and everything
// fits in MaxMessageBytes. A rejection matches one sentinel, names a field
// of the message, and changes nothing.
func FuzzToolCalls(f *testing.F) {
	f.Add("assistant", "", "", uint8(1), "call_1", "get_weather", `{"city":"Paris"}`, "call_2", "f", "{}")
	f.Add("assistant", "both", "", uint8(2), "a", "f", "{}", "b", "g", ` {"x": [1, 2]} `)
	f.Add("assistant", "", "", uint8(2), "a", "f", "{}", "a", "g", "{}")
	f.Add("tool", "21C", "call_1", uint8(0), "", "", "", "", "", "")
	f.Add("tool", "21C", "", uint8(0), "", "", "", "", "", "")
	f.Add("user", "hi", "call_1", uint8(0), "", "", "", "", "", "")
	f.Add("user", "hi", "", uint8(1), "a", "f", "{}", "", "", "")
	f.Add("assistant", "", "", uint8(1), "a b", "f", "{}", "", "", "")
	f.Add("assistant", "", "", uint8(1), "a", "f", "[]", "", "", "")
	f.Add("assistant", "", "", uint8(1), "a", "f", "{\"\x85\":1}", "", "", "")
	f.Add("assistant", "", "", uint8(1), "a", "f", "{\"a\":\"\xff\"}", "", "", "")
	f.Add("assistant", " ", "", uint8(1), "a", "f", "{}", "", "", "")
	f.Add("assistant", strings.Repeat("x", fuzzToolMaxBytes-5), "", uint8(1), "a", "f", "{}", "", "", "")
	backends := chatring.Backends()
	f.Fuzz(func(t *testing.T, role, content, callID string, n uint8, id1, name1, args1, id2, name2, args2 string) {
		backend := backends[int(n/3)%len(backends)]
		h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: 1, MaxMessageBytes: fuzzToolMaxBytes})
		mustAppend(t, h, chatring.User, "before")
		before := readState(t, h)

		m := chatring.Message{Role: chatring.Role(role), Content: content, ToolCallID: callID}
		all := []chatring.ToolCall{{ID: id1, Name: name1, Arguments: args1}, {ID: id2, Name: name2, Arguments: args2}}
		m.ToolCalls = all[:n%3]
		got, err := h.Append(t.Context(), m)
		after := readState(t, h)

		size := len(content) + len(callID)
		callsOK := len(m.ToolCalls) == 0 || m.Role == chatring.Assistant
		for i, c := range m.ToolCalls {
			size += len(c.ID) + len(c.Name) + len(c.Arguments)
			callsOK = callsOK && toolToken(c.ID, chatring.MaxToolCallIDBytes) &&
				toolToken(c.Name, chatring.MaxToolNameBytes) &&
				utf8.ValidString(c.Arguments) && !hasForbidden(c.Arguments, true) && jsonObject(c.Arguments) &&
				(i == 0 || c.ID != m.ToolCalls[0].ID)
		}
		contentOK := content == "" && m.Role == chatring.Assistant && len(m.ToolCalls) > 0 ||
			utf8.ValidString(content) && !hasForbidden(content, true) && strings.TrimSpace(content) != ""
		callIDOK := (m.Role == chatring.Tool) == (callID != "") &&
			(callID == "" || toolToken(callID, chatring.MaxToolCallIDBytes))
		valid := m.Role.Valid() && contentOK && callIDOK && callsOK && size <= fuzzToolMaxBytes

		if err == nil {
			if !valid {
				t.Fatalf("accepted an invalid message %+v", m)
			}
			want := m
			want.Seq, want.Time, want.Tokens = 2, got.Time, approxTokens(m)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("Append returned (-want +got):\n%s", diff)
			}
			if n := len(after.Messages); n != 2 || !cmp.Equal(after.Messages[n-1], got) {
				t.Fatalf("window after Append = %v", briefTools(after.Messages))
			}
			return
		}
		checkOneSentinel(t, err)
		if valid {
			t.Fatalf("rejected a valid message %+v: %v", m, err)
		}
		ve, ok := errors.AsType[*chatring.ValidationError](err)
		if !ok {
			t.Fatalf("error %v is not a *ValidationError", err)
		}
		fields := []string{"role", "content", "tool_call_id", "tool_calls"}
		for i := range m.ToolCalls {
			for _, f := range []string{"id", "name", "arguments"} {
				fields = append(fields, fmt.Sprintf("tool_calls[%d].%s", i, f))
			}
		}
		if !slices.Contains(fields, ve.Field) {
			t.Fatalf("ValidationError.Field = %q, want one of %q", ve.Field, fields)
		}
		if diff := cmp.Diff(before, after, ignoreVolatile); diff != "" {
			t.Fatalf("rejected message changed the history (-before +after):\n%s", diff)
		}
		if after.Stats.Rejected != 1 {
			t.Fatalf("Rejected = %d, want 1", after.Stats.Rejected)
		}
	})
}

package chatring

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Role says who wrote a message. Its JSON form is the lower-case name used
// by chat completion APIs ("system", "user", "assistant", "tool"). The set
// is closed: Append rejects any other value with ErrInvalidRole.
type Role string

// The roles a message may have.
const (
	// System is an instruction to the model. The pinned system prompt (see
	// History.SetSystemPrompt) has this role; Append also accepts System
	// messages, which live in the window and are evicted like any other.
	System Role = "system"
	// User is a message from the person in the conversation.
	User Role = "user"
	// Assistant is a reply from the model.
	Assistant Role = "assistant"
	// Tool is the result of a tool (function) call the model asked for.
	Tool Role = "tool"
)

// roles lists the valid roles in the order of roleIndex.
var roles = [...]Role{System, User, Assistant, Tool}

// roleIndex returns r's index in roles, or -1 when r is not a valid role.
func roleIndex(r Role) int {
	switch r {
	case System:
		return 0
	case User:
		return 1
	case Assistant:
		return 2
	case Tool:
		return 3
	}
	return -1
}

// Valid reports whether r is one of System, User, Assistant or Tool.
func (r Role) Valid() bool { return roleIndex(r) >= 0 }

// String returns the role's name.
func (r Role) String() string { return string(r) }

// MaxNameBytes is the longest Message.Name that Append accepts, in bytes.
const MaxNameBytes = 256

// MaxIDBytes is the longest Message.ID that Append accepts, in bytes.
const MaxIDBytes = 128

// Message is one message of a conversation.
//
// A caller fills in Role, Content and optionally Name and ID; Append
// validates them and fills in Seq, Time and Tokens, ignoring whatever the
// caller put there. Messages read back from a History are copies: changing
// them does not change the History.
type Message struct {
	// Role says who wrote the message.
	Role Role `json:"role"`
	// Content is the text: valid UTF-8, not empty or only white space, no
	// control characters but tab, newline and carriage return, at most
	// Config.MaxMessageBytes bytes.
	Content string `json:"content"`
	// Name optionally names the author (a participant or a tool): valid
	// UTF-8 without control characters, at most MaxNameBytes bytes.
	Name string `json:"name,omitempty"`
	// ID is an optional idempotency key: at most MaxIDBytes bytes of
	// printable ASCII (0x20 to 0x7e). When a message with the same ID is
	// in the window, Append stores nothing and returns that message, so a
	// caller that does not know whether an Append went through (a timeout,
	// a lost reply) can send it again with the same ID without storing it
	// twice. A random 128-bit value in hex or a UUID makes a good ID; an ID
	// stops deduplicating once its message has left the window (evicted,
	// cleared or deleted).
	ID string `json:"id,omitempty"`
	// Seq is the message's sequence number in its History: 1 for the
	// first message appended, then 2, 3, ... in the order the messages
	// entered the history, with no gaps. The pinned system prompt has Seq 0.
	Seq uint64 `json:"seq"`
	// Time is when Append accepted the message (wall clock from the
	// History's clock, time.Now unless WithClock; no monotonic reading).
	// Under concurrent appends two messages may enter the
	// history in the opposite order of their Times, by the few
	// microseconds between taking the time and storing the message: order
	// messages by Seq, never by Time.
	Time time.Time `json:"time"`
	// Tokens is the number of tokens in Content, counted once by Append
	// with the History's Tokenizer and cached here. Window budgets are sums
	// of Tokens.
	Tokens int `json:"tokens"`
}

// validateText checks s as the content of a message (field "content") or a
// system prompt. It never quotes s in the error.
func validateText(field string, s string, maxBytes int) error {
	if len(s) > maxBytes {
		return &ValidationError{Field: field, Err: ErrMessageTooLarge,
			Reason: fmt.Sprintf("%d bytes, limit %d", len(s), maxBytes)}
	}
	if err := checkChars(field, s, true); err != nil {
		return err
	}
	if strings.TrimSpace(s) == "" {
		return &ValidationError{Field: field, Err: ErrEmptyContent,
			Reason: fmt.Sprintf("%d bytes of white space or nothing", len(s))}
	}
	return nil
}

// validateName checks a message's Name: optional, no control characters at
// all.
func validateName(s string) error {
	if len(s) > MaxNameBytes {
		return &ValidationError{Field: "name", Err: ErrMessageTooLarge,
			Reason: fmt.Sprintf("%d bytes, limit %d", len(s), MaxNameBytes)}
	}
	return checkChars("name", s, false)
}

// checkChars reports the first byte of s that is not valid UTF-8 or is a
// control character (tab, newline and carriage return are allowed when
// allowSpace is set). Control characters are unicode.IsControl: C0, DEL and
// C1.
func checkChars(field string, s string, allowSpace bool) error {
	for i := 0; i < len(s); {
		// Eight bytes at a time while they are all printable ASCII
		// (0x20 to 0x7e), the common case; any other byte, including an
		// allowed tab or newline, goes through the loop below.
		for i+8 <= len(s) && printableASCII8(s[i:i+8]) {
			i += 8
		}
		if i == len(s) {
			break
		}
		if b := s[i]; b < utf8.RuneSelf { // ASCII: no decoding needed
			if b < 0x20 && !(allowSpace && (b == '\t' || b == '\n' || b == '\r')) || b == 0x7f {
				return controlError(field, rune(b), i)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return &ValidationError{Field: field, Err: ErrInvalidContent,
				Reason: fmt.Sprintf("invalid UTF-8 at byte %d", i)}
		}
		if unicode.IsControl(r) { // C1 controls, U+0080 to U+009F
			return controlError(field, r, i)
		}
		i += n
	}
	return nil
}

// printableASCII8 reports whether the 8 bytes of s are all in 0x20..0x7e,
// testing them as one word (the "haszero"/"hasless" bit tricks of Sean
// Anderson's Bit Twiddling Hacks): no high bit set, no byte that adding one
// carries into the high bit (0x7f), no byte that subtracting 0x20 borrows
// from (below 0x20).
func printableASCII8(s string) bool {
	_ = s[7]
	w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return w&highs == 0 && (w+ones)&highs == 0 && (w-0x20*ones)&^w&highs == 0
}

func controlError(field string, r rune, at int) error {
	return &ValidationError{Field: field, Err: ErrInvalidContent,
		Reason: fmt.Sprintf("control character %U at byte %d", r, at)}
}

// validateMessage checks m's caller-supplied fields.
func validateMessage(m *Message, maxBytes int) error {
	if !m.Role.Valid() {
		return &ValidationError{Field: "role", Err: ErrInvalidRole,
			Reason: fmt.Sprintf("%d-byte role is not system, user, assistant or tool", len(m.Role))}
	}
	if err := validateText("content", m.Content, maxBytes); err != nil {
		return err
	}
	if err := validateName(m.Name); err != nil {
		return err
	}
	return validateID(m.ID)
}

// validateID checks a message's idempotency key: optional, at most
// MaxIDBytes bytes of printable ASCII.
func validateID(id string) error {
	if len(id) > MaxIDBytes {
		return &ValidationError{Field: "id", Err: ErrInvalidContent,
			Reason: fmt.Sprintf("%d bytes, limit %d", len(id), MaxIDBytes)}
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; b < 0x20 || b > 0x7e {
			return &ValidationError{Field: "id", Err: ErrInvalidContent,
				Reason: fmt.Sprintf("byte %#02x at %d is not printable ASCII", b, i)}
		}
	}
	return nil
}

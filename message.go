package chatring

import (
	"encoding/json"
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
// A caller fills in Role, Content and optionally Name, ID, ToolCalls (on
// an assistant message that calls tools) and ToolCallID (on a tool
// message, which answers one call); Append validates them and fills in
// Seq, Time and Tokens, ignoring whatever the caller put there. Messages
// read back from a History are copies: changing them does not change the
// History.
type Message struct {
	// Role says who wrote the message.
	Role Role `json:"role"`
	// Content is the text: valid UTF-8, not empty or only white space, no
	// control characters but tab, newline and carriage return, at most
	// Config.MaxMessageBytes bytes together with the tool fields below.
	// An assistant message with ToolCalls may have empty Content (but not
	// white space only).
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
	// Tokens is the number of tokens in Content and in the tool fields
	// (each ToolCall's ID, Name and Arguments, and ToolCallID), counted
	// once by Append with the History's Tokenizer, one Count per non-empty
	// string, and cached here. Window budgets are sums of Tokens.
	Tokens int `json:"tokens"`
	// ToolCalls are the tool (function) calls an Assistant message asks
	// for; no other role may have them. At most MaxToolCalls, with
	// distinct IDs. Each call's result is a Tool message whose ToolCallID
	// is the call's ID, appended right after this message (results of one
	// message's calls may come in any order, but nothing else may come
	// between them: see History.Window).
	//
	// Append copies ToolCalls before it validates them (one allocation
	// for a message that has calls, none for one without), so the caller
	// may change or reuse its slice as soon as Append returns: the stored
	// message keeps the calls that were validated. The copy is the
	// message's for good; every message that Append, Messages and Window
	// return shares it (reads do not copy, so that reading a window
	// allocates nothing). Treat the ToolCalls of a returned message as
	// read-only: modifying its elements changes what every other reader
	// of that message sees, and is a data race with them. To change the
	// calls, copy them first (Message.Clone). The stored copy's capacity is
	// its length, so appending to it always allocates a new array.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID is, on a Tool message, the ID of the call it answers:
	// required on Tool messages and not allowed on any other. Printable
	// ASCII without spaces, at most MaxToolCallIDBytes.
	ToolCallID string `json:"tool_call_id,omitempty"`
}

// ToolCall is one tool (function) call requested by an assistant message.
// Its JSON form is flat ({"id", "name", "arguments"}), unlike the chat
// completion API's nested {"id", "type", "function": {...}}; the adapter
// modules convert.
type ToolCall struct {
	// ID identifies the call; the Tool message that answers it has it as
	// ToolCallID. Printable ASCII without spaces (0x21 to 0x7e), 1 to
	// MaxToolCallIDBytes bytes, distinct among the calls of one message.
	// Provider APIs are stricter (Anthropic accepts only [A-Za-z0-9_-]);
	// chatring stores what the provider gave.
	ID string `json:"id"`
	// Name is the function called: printable ASCII without spaces, 1 to
	// MaxToolNameBytes bytes.
	Name string `json:"name"`
	// Arguments is the call's arguments as the text of a JSON object
	// (function arguments are named; both OpenAI and Anthropic send an
	// object), stored byte for byte as given: valid UTF-8 and JSON, no
	// control characters but tab, newline and carriage return.
	Arguments string `json:"arguments"`
}

// Clone returns a copy of m that shares no memory with it: its ToolCalls
// are copied, as Append copies them, into a slice whose capacity is its
// length. A nil ToolCalls stays nil and an empty one stays empty (of
// capacity 0), without allocating. A Store that keeps a message after
// its Append returns keeps a clone, so that the caller may reuse its
// slice.
func (m *Message) Clone() Message {
	c := *m
	ownToolCalls(&c)
	return c
}

// ownToolCalls replaces m.ToolCalls with a copy of exactly their length
// and capacity, so that *m shares no memory with the caller's slice (see
// Message.ToolCalls). ToolCall holds only strings, which are immutable,
// so copying the values copies everything. A nil slice stays nil and an
// empty one becomes noToolCalls, without allocating.
func ownToolCalls(m *Message) {
	if len(m.ToolCalls) == 0 {
		if m.ToolCalls != nil {
			m.ToolCalls = noToolCalls
		}
		return
	}
	m.ToolCalls = append(make([]ToolCall, 0, len(m.ToolCalls)), m.ToolCalls...)
}

// noToolCalls is the empty, non-nil ToolCalls that ownToolCalls stores
// for an empty slice: it keeps the caller's empty slice distinct from nil
// without keeping its array reachable. Its capacity is 0, so nothing can
// be appended into it.
var noToolCalls = []ToolCall{}

// Limits on tool fields. Their bytes also count towards
// Config.MaxMessageBytes (see Message.Content).
const (
	// MaxToolCalls is the most tool calls one message may carry.
	MaxToolCalls = 128
	// MaxToolCallIDBytes is the longest ToolCall.ID and
	// Message.ToolCallID, in bytes.
	MaxToolCallIDBytes = 128
	// MaxToolNameBytes is the longest ToolCall.Name, in bytes. OpenAI
	// and Anthropic both limit function names to 64 characters.
	MaxToolNameBytes = 128
)

// Size returns the bytes of m's content, name and tool fields (tool call
// IDs, names and arguments, ToolCallID): what Stats.AppendedBytes counts
// for each message appended. Other stores use it to count the same way.
func (m *Message) Size() int { return m.size() }

// size returns the bytes of m's strings that Stats counts: content, name
// and tool fields.
func (m *Message) size() int {
	n := len(m.Content) + len(m.Name) + len(m.ToolCallID)
	for i := range m.ToolCalls {
		c := &m.ToolCalls[i]
		n += len(c.ID) + len(c.Name) + len(c.Arguments)
	}
	return n
}

// CountTokens returns m's tokens as Append counts them into
// Message.Tokens: tok's Count of Content and of each tool field (each
// ToolCall's ID, Name and Arguments, and ToolCallID), one Count per
// non-empty string, a negative Count taken as 0. A nil tok is
// ApproxTokenizer, the default. Stores that keep messages outside a
// History (redisstore, resilient's outbox) count with it, so that a
// window's budget means the same in every Store.
func CountTokens(tok Tokenizer, m Message) int {
	if tok == nil {
		tok = ApproxTokenizer{}
	}
	return countTokens(tok, &m, -1)
}

// countTokens returns the tokens of m's content and tool fields, one
// tok.Count per non-empty string, each clamped at 0; content >= 0 is the
// content's count, already taken (see validateCounted), and is used
// instead of counting the content again.
func countTokens(tok Tokenizer, m *Message, content int) int {
	count := func(s string) int {
		if s == "" {
			return 0
		}
		return max(tok.Count(s), 0)
	}
	if content < 0 {
		content = count(m.Content)
	}
	n := content + count(m.ToolCallID)
	for i := range m.ToolCalls {
		c := &m.ToolCalls[i]
		n += count(c.ID) + count(c.Name) + count(c.Arguments)
	}
	return n
}

// validateText checks s as the content of a message (field "content") or a
// system prompt. It never quotes s in the error.
func validateText(field string, s string, maxBytes int) error {
	_, err := scanText(field, s, maxBytes, false)
	return err
}

// scanText is validateText; with approx set it also counts the tokens of
// s as ApproxTokenizer does, in the same pass over s (approxScan), and
// returns the count, else -1.
func scanText(field string, s string, maxBytes int, approx bool) (tokens int, err error) {
	if len(s) > maxBytes {
		return -1, &ValidationError{Field: field, Err: ErrMessageTooLarge,
			Reason: fmt.Sprintf("%d bytes, limit %d", len(s), maxBytes)}
	}
	blank := false
	tokens = -1
	if approx {
		var bad int
		if tokens, blank, bad = approxScan(s, true); bad >= 0 {
			// The error path: checkChars finds the same byte (fuzzed by
			// FuzzScanText) and builds the same error as without approx.
			return -1, checkChars(field, s, true)
		}
	} else {
		if err := checkChars(field, s, true); err != nil {
			return -1, err
		}
		blank = strings.TrimSpace(s) == ""
	}
	if blank {
		return -1, &ValidationError{Field: field, Err: ErrEmptyContent,
			Reason: fmt.Sprintf("%d bytes of white space or nothing", len(s))}
	}
	return tokens, nil
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
		for i+8 <= len(s) && printableASCII8(word8(s[i:])) {
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

// printableASCII8 reports whether the 8 bytes of w (word8) are all in
// 0x20..0x7e, testing them as one word (the "haszero"/"hasless" bit tricks
// of Sean Anderson's Bit Twiddling Hacks): no high bit set, no byte that
// adding one carries into the high bit (0x7f), no byte that subtracting
// 0x20 borrows from (below 0x20).
func printableASCII8(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return w&highs == 0 && (w+ones)&highs == 0 && (w-0x20*ones)&^w&highs == 0
}

func controlError(field string, r rune, at int) error {
	return &ValidationError{Field: field, Err: ErrInvalidContent,
		Reason: fmt.Sprintf("control character %U at byte %d", r, at)}
}

// validateMessage checks m's caller-supplied fields.
func validateMessage(m *Message, maxBytes int) error {
	_, err := validateCounted(m, maxBytes, false)
	return err
}

// validateCounted is validateMessage; with approx set it also returns the
// ApproxTokenizer count of m.Content, taken in the same pass as its
// checks, else -1 (see countTokens).
func validateCounted(m *Message, maxBytes int, approx bool) (content int, err error) {
	if !m.Role.Valid() {
		return -1, &ValidationError{Field: "role", Err: ErrInvalidRole,
			Reason: fmt.Sprintf("%d-byte role is not system, user, assistant or tool", len(m.Role))}
	}
	content = -1
	// An assistant message that only calls tools has no text.
	if m.Content != "" || m.Role != Assistant || len(m.ToolCalls) == 0 {
		if content, err = scanText("content", m.Content, maxBytes, approx); err != nil {
			return -1, err
		}
	}
	// The checks below pass at once on empty fields; skipping their calls
	// matters on Append's path, where most messages have none.
	if m.Name != "" {
		if err := validateName(m.Name); err != nil {
			return -1, err
		}
	}
	if m.ID != "" {
		if err := validateID(m.ID); err != nil {
			return -1, err
		}
	}
	if m.Role == Tool || m.ToolCallID != "" || len(m.ToolCalls) > 0 {
		// Without tool fields there is nothing to check: a Tool message
		// must have ToolCallID, and the size is the content's, checked.
		if err := validateToolFields(m, maxBytes); err != nil {
			return -1, err
		}
	}
	return content, nil
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

// validateToolFields checks m's ToolCalls and ToolCallID: which roles may
// have them, their characters and sizes, and the size of the whole
// message (content plus tool fields) against maxBytes. It assumes the role
// is valid and the content already checked on its own.
func validateToolFields(m *Message, maxBytes int) error {
	switch {
	case m.Role == Tool && m.ToolCallID == "":
		return &ValidationError{Field: "tool_call_id", Err: ErrInvalidToolCall,
			Reason: "required on a tool message"}
	case m.Role != Tool && m.ToolCallID != "":
		return &ValidationError{Field: "tool_call_id", Err: ErrInvalidToolCall,
			Reason: "only a tool message answers a call, this is " + string(m.Role)}
	case m.Role != Assistant && len(m.ToolCalls) > 0:
		return &ValidationError{Field: "tool_calls", Err: ErrInvalidToolCall,
			Reason: "only an assistant message calls tools, this is " + string(m.Role)}
	case len(m.ToolCalls) > MaxToolCalls:
		return &ValidationError{Field: "tool_calls", Err: ErrMessageTooLarge,
			Reason: fmt.Sprintf("%d calls, limit %d", len(m.ToolCalls), MaxToolCalls)}
	}
	size := len(m.Content)
	// grow adds n bytes of the named field to size and fails once the
	// message is over maxBytes.
	grow := func(field func() string, n int) error {
		size += n
		if size > maxBytes {
			return &ValidationError{Field: field(), Err: ErrMessageTooLarge,
				Reason: fmt.Sprintf("content and tool fields reach %d bytes here, limit %d", size, maxBytes)}
		}
		return nil
	}
	if m.ToolCallID != "" {
		field := func() string { return "tool_call_id" }
		if err := validateToolToken(field, m.ToolCallID, MaxToolCallIDBytes); err != nil {
			return err
		}
		if err := grow(field, len(m.ToolCallID)); err != nil {
			return err
		}
	}
	for i := range m.ToolCalls {
		c := &m.ToolCalls[i]
		// Field names are built only on the error path.
		id := func() string { return fmt.Sprintf("tool_calls[%d].id", i) }
		name := func() string { return fmt.Sprintf("tool_calls[%d].name", i) }
		args := func() string { return fmt.Sprintf("tool_calls[%d].arguments", i) }
		if err := validateToolToken(id, c.ID, MaxToolCallIDBytes); err != nil {
			return err
		}
		for j := range i {
			if m.ToolCalls[j].ID == c.ID {
				return &ValidationError{Field: id(), Err: ErrInvalidToolCall,
					Reason: fmt.Sprintf("same ID as tool_calls[%d]", j)}
			}
		}
		if err := validateToolToken(name, c.Name, MaxToolNameBytes); err != nil {
			return err
		}
		if err := grow(id, len(c.ID)); err != nil {
			return err
		}
		if err := grow(name, len(c.Name)); err != nil {
			return err
		}
		if err := grow(args, len(c.Arguments)); err != nil {
			return err
		}
		if err := validateArguments(args, c.Arguments); err != nil {
			return err
		}
	}
	return nil
}

// validateToolToken checks a tool call ID or function name: 1 to maxBytes
// bytes of printable ASCII without spaces (0x21 to 0x7e).
func validateToolToken(field func() string, s string, maxBytes int) error {
	if s == "" {
		return &ValidationError{Field: field(), Err: ErrInvalidToolCall, Reason: "empty"}
	}
	if len(s) > maxBytes {
		return &ValidationError{Field: field(), Err: ErrMessageTooLarge,
			Reason: fmt.Sprintf("%d bytes, limit %d", len(s), maxBytes)}
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b >= 0x7f {
			return &ValidationError{Field: field(), Err: ErrInvalidContent,
				Reason: fmt.Sprintf("byte %#02x at %d is not printable ASCII without spaces", b, i)}
		}
	}
	return nil
}

// validateArguments checks a tool call's arguments: the characters allowed
// in content, forming one JSON object.
func validateArguments(field func() string, s string) error {
	if err := checkChars("", s, true); err != nil {
		ve := err.(*ValidationError)
		ve.Field = field()
		return ve
	}
	if !json.Valid([]byte(s)) {
		return &ValidationError{Field: field(), Err: ErrInvalidContent,
			Reason: fmt.Sprintf("%d bytes that are not valid JSON", len(s))}
	}
	if strings.TrimLeft(s, " \t\r\n")[0] != '{' {
		return &ValidationError{Field: field(), Err: ErrInvalidContent,
			Reason: "valid JSON but not an object"}
	}
	return nil
}

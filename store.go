package chatring

import (
	"context"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Store keeps many conversations, each identified by a string ID and each
// behaving as a History: a bounded window of messages with sequence
// numbers, a pinned system prompt, a token-budgeted Window, Clear and
// validation, all with the same rules and errors as History.
//
// Implementations: MemoryStore (this package: many Histories in one
// process), github.com/chatring/chatring/redisstore (one conversation
// shared by every replica of a service), and
// github.com/chatring/chatring/resilient (retries, a circuit breaker and
// degradation around another Store). Every implementation passes the
// conformance suite in package github.com/chatring/chatring/storetest.
//
// The contract, for every method and every implementation:
//
//   - Per conversation, the History contract: Seq 1, 2, 3, ... with no
//     gaps, windows contiguous in Seq, Window's rules, Clear's watermark,
//     the pinned prompt, the same validation and sentinel errors. Each
//     conversation is linearizable: every call takes effect at one instant
//     between its call and its return.
//   - Conversations are independent: nothing written to one is ever seen in
//     another. A conversation ID is any valid UTF-8 string of 1 to
//     MaxConversationBytes bytes without control characters (braces,
//     colons, '*', spaces and non-ASCII are ordinary characters); any other
//     ID is rejected with ErrInvalidConversation by every method.
//   - A conversation exists from its first write (Append or
//     SetSystemPrompt) until Delete, its idle TTL (Config.IdleTTL: neither
//     written nor read for that long) or, in a MemoryStore, eviction when
//     the store is full. An unknown conversation reads as empty.
//   - Nothing acknowledged is lost: a message whose Append returned a nil
//     error is in the window until newer messages, Clear, Delete, the idle
//     TTL or eviction of the whole conversation remove it.
//   - Errors say what to do: validation errors (ErrInvalidRole,
//     ErrEmptyContent, ErrMessageTooLarge, ErrInvalidContent,
//     ErrInvalidConversation, ErrBudgetTooSmall) are permanent, never
//     retry them; ErrUnavailable means the service behind the store cannot
//     serve the call now, and the same call may be retried (an Append with
//     the same Message.ID, so that it is stored once); ErrClosed comes
//     after Close. A canceled ctx returns ctx.Err().
//   - Append keeps nothing of the caller's: it copies m.ToolCalls (in a
//     store that keeps messages in memory) before validating them, so
//     that the caller may reuse its slice once Append returns. The
//     ToolCalls of the messages that Append, Messages and Window return
//     may be shared with the store and with other callers: treat them as
//     read-only (see Message.ToolCalls).
//
// All methods are safe for concurrent use.
type Store interface {
	// Append validates m and appends it to conversation conv, creating the
	// conversation on first use. If m.ID is set and a message with that ID
	// is in conv's window, nothing is stored and that message is returned
	// (same Seq) with a nil error; concurrent Appends with one ID store one
	// message and all return it. Once that message has left the window
	// (pushed out or cleared), a store may still recognise the ID for a
	// while and return m with the Seq it was stored at, storing nothing (the
	// Redis store does, so that a late retry is not stored twice), or store
	// m anew (History and MemoryStore do).
	Append(ctx context.Context, conv string, m Message) (Message, error)
	// Messages appends conv's window, oldest first, to dst (an unknown
	// conversation is an empty window, not an error).
	Messages(ctx context.Context, conv string, dst []Message) ([]Message, error)
	// Window is History.Window for conv.
	Window(ctx context.Context, conv string, maxTokens int) ([]Message, error)
	// SetSystemPrompt is History.SetSystemPrompt for conv, creating the
	// conversation if prompt is not empty.
	SetSystemPrompt(ctx context.Context, conv, prompt string) error
	// Clear is History.Clear for conv.
	Clear(ctx context.Context, conv string) error
	// Delete removes conv entirely; a later Append starts again at Seq 1.
	Delete(ctx context.Context, conv string) error
	// Close stops accepting writes (ErrClosed), waits for calls in flight
	// and flushes what it holds until ctx is done.
	Close(ctx context.Context) error
}

// MaxConversationBytes is the longest conversation ID a Store accepts, in
// bytes.
const MaxConversationBytes = 256

// ValidateConversation reports whether conv is a conversation ID every
// Store accepts: valid UTF-8, 1 to MaxConversationBytes bytes, no control
// characters. The error wraps ErrInvalidConversation and is a
// *ValidationError with Field "conversation"; it never quotes conv.
// Store implementations call it first in every method.
func ValidateConversation(conv string) error {
	if conv == "" {
		return &ValidationError{Field: "conversation", Err: ErrInvalidConversation, Reason: "empty"}
	}
	if len(conv) > MaxConversationBytes {
		return &ValidationError{Field: "conversation", Err: ErrInvalidConversation,
			Reason: fmt.Sprintf("%d bytes, limit %d", len(conv), MaxConversationBytes)}
	}
	for i, r := range conv {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(conv[i:]); n == 1 {
				return &ValidationError{Field: "conversation", Err: ErrInvalidConversation,
					Reason: fmt.Sprintf("invalid UTF-8 at byte %d", i)}
			}
		}
		if unicode.IsControl(r) {
			return &ValidationError{Field: "conversation", Err: ErrInvalidConversation,
				Reason: fmt.Sprintf("control character %U at byte %d", r, i)}
		}
	}
	return nil
}

// ValidateMessage checks m as Append would under cfg (role, content, name
// and ID; cfg's zero fields mean their defaults) and returns the same
// *ValidationError. Store implementations outside this package use it so
// that they reject exactly what History rejects.
func ValidateMessage(m Message, cfg Config) error {
	return validateMessage(&m, cfg.withDefaults().MaxMessageBytes)
}

// ValidateSystemPrompt checks prompt as SetSystemPrompt would under cfg
// (cfg's zero fields mean their defaults) and returns the same
// *ValidationError, with Field "system_prompt". The empty prompt, which
// removes the pinned prompt, is valid. Store implementations outside this
// package use it so that they reject exactly what History rejects.
func ValidateSystemPrompt(prompt string, cfg Config) error {
	if prompt == "" {
		return nil
	}
	return validateText("system_prompt", prompt, cfg.withDefaults().MaxMessageBytes)
}

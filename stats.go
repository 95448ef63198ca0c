package chatring

import (
	"context"
	"errors"
	"time"
)

// Rejection reasons, the keys of Stats.RejectedByReason and the "reason"
// attribute of rejection log records.
const (
	reasonInvalidRole = iota
	reasonEmptyContent
	reasonTooLarge
	reasonInvalidContent
	reasonInvalidToolCall
	reasonClosed
	reasonCanceled
	reasonInvalidConversation
	reasonOther
	numReasons
)

var reasonNames = [numReasons]string{
	reasonInvalidRole:         "invalid_role",
	reasonEmptyContent:        "empty_content",
	reasonTooLarge:            "message_too_large",
	reasonInvalidContent:      "invalid_content",
	reasonInvalidToolCall:     "invalid_tool_call",
	reasonClosed:              "closed",
	reasonCanceled:            "canceled",
	reasonInvalidConversation: "invalid_conversation",
	reasonOther:               "other",
}

// RejectionReason returns the reason under which History and MemoryStore
// count a rejected call that failed with err, the key of
// Stats.RejectedByReason: "invalid_role", "empty_content",
// "message_too_large", "invalid_content", "invalid_tool_call", "closed",
// "canceled", "invalid_conversation", or "other" for any other error.
// Other stores call it so that their rejections are counted under the
// same reasons.
func RejectionReason(err error) string { return reasonNames[reasonOf(err)] }

// reasonOf classifies a rejection error.
func reasonOf(err error) int {
	switch {
	case errors.Is(err, ErrInvalidRole):
		return reasonInvalidRole
	case errors.Is(err, ErrEmptyContent):
		return reasonEmptyContent
	case errors.Is(err, ErrMessageTooLarge):
		return reasonTooLarge
	case errors.Is(err, ErrInvalidContent):
		return reasonInvalidContent
	case errors.Is(err, ErrInvalidToolCall):
		return reasonInvalidToolCall
	case errors.Is(err, ErrClosed):
		return reasonClosed
	case errors.Is(err, ErrInvalidConversation):
		return reasonInvalidConversation
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return reasonCanceled
	}
	return reasonOther
}

// Stats is a snapshot of a History's metrics. It marshals to JSON with the
// snake_case keys shown.
//
// Exactness: when no call is in flight every field is exact, but for the
// split between Evicted and Cleared described at Cleared. Under
// concurrent calls each counter is exact at the instant it was read, but
// the counters are read one after another, so they may disagree with each
// other by the calls in flight (Appended may differ from LastSeq, or from
// the sum of ByRole as seen by a later read). The Window* fields, LastSeq,
// Evicted and Cleared describe the history at one instant, and always
// Evicted + Cleared + WindowMessages == LastSeq, with Evicted at most
// LastSeq - Capacity (0 while LastSeq <= Capacity).
//
// Monotonic: Appended, Evicted, Cleared and LastSeq never decrease from
// one Stats call to a later one (a call that starts after the other
// returned), so they can be exported as counters.
type Stats struct {
	// Backend is the ring's name: "mutex", "lockfree" or "sharded".
	Backend string `json:"backend"`
	// Capacity is the window size in messages, 2 × MaxTurns.
	Capacity int `json:"capacity"`
	// Appended counts messages accepted by Append since New.
	Appended uint64 `json:"appended"`
	// ByRole counts appended messages per role; it always has all four
	// roles as keys.
	ByRole map[Role]uint64 `json:"by_role"`
	// Deduplicated counts Appends that stored nothing because a message
	// with their Message.ID was in the window (not counted in Appended).
	Deduplicated uint64 `json:"deduplicated"`
	// Rejected counts failed Append and SetSystemPrompt calls: invalid
	// input, calls after Close and canceled contexts.
	Rejected uint64 `json:"rejected"`
	// RejectedByReason splits Rejected by reason: "invalid_role",
	// "empty_content", "message_too_large", "invalid_content",
	// "invalid_tool_call", "closed", "canceled" (and "other", for errors
	// from a future backend). Only reasons that occurred are present.
	RejectedByReason map[string]uint64 `json:"rejected_by_reason"`
	// Evicted counts messages pushed out of the window by newer ones.
	Evicted uint64 `json:"evicted"`
	// Cleared counts messages removed from the window by Clear. Each
	// message gone from the window is counted once, in Evicted or in
	// Cleared. The split is exact except for messages pushed out while a
	// Clear runs: a message that was in the window the Clear read and
	// was pushed out before the Clear took effect counts as cleared,
	// unless a Stats call made in between counted it as evicted.
	Cleared uint64 `json:"cleared"`
	// LastSeq is the Seq of the newest message appended (0 if none).
	LastSeq uint64 `json:"last_seq"`
	// AppendedBytes and AppendedTokens total the bytes (content, name
	// and tool fields) and the tokens of every message accepted since New.
	AppendedBytes  uint64 `json:"appended_bytes"`
	AppendedTokens uint64 `json:"appended_tokens"`
	// WindowMessages, WindowBytes and WindowTokens describe the current
	// window (without the system prompt): its length, its bytes (content,
	// name and tool fields) and its tokens. WindowBytes counts string bytes only, not the
	// fixed per-message overhead of about 100 bytes.
	WindowMessages int   `json:"window_messages"`
	WindowBytes    int64 `json:"window_bytes"`
	WindowTokens   int64 `json:"window_tokens"`
	// SystemPromptBytes and SystemPromptTokens describe the pinned system
	// prompt (0 when none is set).
	SystemPromptBytes  int `json:"system_prompt_bytes"`
	SystemPromptTokens int `json:"system_prompt_tokens"`
	// Uptime is the time since New by the History's clock (see
	// WithClock), in nanoseconds in JSON.
	Uptime time.Duration `json:"uptime_ns"`
	// Closed reports whether Close has been called.
	Closed bool `json:"closed"`
}

// Stats returns the current metrics. Counters are maintained with one
// atomic add each per call (O(1) per Append); the Window* fields are
// computed here from one snapshot of the ring, so Stats costs O(window).
// It allocates the window-sized slice it reads the ring into and the two
// maps it returns: 4 allocations (Go 1.26, testing.AllocsPerRun) when
// nothing changed since the last call, 1 more when it records new
// evictions in the History's clear state and 1 or 2 more when
// RejectedByReason is not empty. It takes its snapshot again when a Clear
// or another Stats changed the clear state meanwhile; it takes no lock
// with the lockfree backend.
func (h *History) Stats() Stats {
	msgs, last, cs := h.countedSnapshot(nil)
	s := Stats{
		Backend:        h.cfg.Backend,
		Capacity:       h.buf.Cap(),
		LastSeq:        last,
		Evicted:        cs.evicted,
		Cleared:        cs.cleared,
		AppendedBytes:  h.ctr.bytes.Load(),
		AppendedTokens: h.ctr.tokens.Load(),
		Deduplicated:   h.ctr.deduplicated.Load(),
		WindowMessages: len(msgs),
		Uptime:         h.now().Sub(h.start),
		Closed:         h.closed.Load(),
	}
	s.ByRole, s.Appended, s.RejectedByReason, s.Rejected = h.ctr.read()
	for i := range msgs {
		s.WindowBytes += int64(msgs[i].size())
		s.WindowTokens += int64(msgs[i].Tokens)
	}
	if p := h.system.Load(); p != nil {
		s.SystemPromptBytes = len(p.Content)
		s.SystemPromptTokens = p.Tokens
	}
	return s
}

// read returns the appended messages by role and in total, and the
// rejections by reason (only reasons that occurred) and in total.
func (c *counters) read() (byRole map[Role]uint64, appended uint64, byReason map[string]uint64, rejected uint64) {
	byRole = make(map[Role]uint64, len(roles))
	for i, r := range roles {
		n := c.byRole[i].Load()
		byRole[r] = n
		appended += n
	}
	byReason = make(map[string]uint64)
	for i := range c.rejected {
		if n := c.rejected[i].Load(); n > 0 {
			byReason[reasonNames[i]] = n
			rejected += n
		}
	}
	return byRole, appended, byReason, rejected
}

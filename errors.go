package chatring

import "errors"

// Sentinel errors. Every error a History or ParseConfig returns for bad
// input wraps exactly one of these, with detail, so callers branch with
// errors.Is; the detail is available through [ValidationError] and
// errors.As.
//
// All of them but ErrUnavailable are permanent: the same input fails the
// same way every time, so a caller must never retry them (and certainly
// never sleep between tries, as the Python tutorial this package replaces
// does with its exponential back-off on a ValueError). ErrClosed depends on
// state, and it does not go away either. ErrUnavailable, returned only by
// a Store backed by another service, is the one error worth retrying.
var (
	// ErrInvalidRole reports a message whose Role is not one of System,
	// User, Assistant or Tool.
	ErrInvalidRole = errors.New("chatring: invalid role")
	// ErrEmptyContent reports a message whose content is empty or only
	// white space.
	ErrEmptyContent = errors.New("chatring: empty content")
	// ErrMessageTooLarge reports content that, with the tool fields, is
	// longer than Config.MaxMessageBytes (or a Name longer than
	// MaxNameBytes, a tool call ID or name over its limit, more than
	// MaxToolCalls tool calls).
	ErrMessageTooLarge = errors.New("chatring: message too large")
	// ErrInvalidContent reports content that is not valid UTF-8 or holds a
	// control character other than tab, newline and carriage return (or a
	// Name that is not valid UTF-8 or holds any control character, a
	// Message.ID that is longer than MaxIDBytes or not printable ASCII, a
	// tool call ID or function name that is not printable ASCII without
	// spaces, tool call arguments that are not a JSON object).
	ErrInvalidContent = errors.New("chatring: invalid content")
	// ErrInvalidToolCall reports tool fields that break the structure of
	// a tool exchange: ToolCalls on a message that is not an assistant
	// message, a tool message without ToolCallID or another message with
	// one, a tool call with an empty ID or name, or two calls of one
	// message with the same ID. (Tool fields that are too long, or hold
	// bytes they may not, are ErrMessageTooLarge and ErrInvalidContent.)
	ErrInvalidToolCall = errors.New("chatring: invalid tool call")
	// ErrClosed reports a write to a History or a Store after its Close.
	ErrClosed = errors.New("chatring: history closed")
	// ErrInvalidConfig reports a Config or config file that cannot be used:
	// unknown fields or backends, zero or negative limits, limits above
	// their maximum, duplicate keys, broken JSON.
	ErrInvalidConfig = errors.New("chatring: invalid config")
	// ErrBudgetTooSmall reports a Window token budget that is negative or
	// too small for the pinned system prompt alone.
	ErrBudgetTooSmall = errors.New("chatring: token budget too small")
	// ErrInvalidConversation reports a conversation ID that a Store cannot
	// take: empty, longer than MaxConversationBytes, not valid UTF-8 or
	// holding a control character. It is permanent, like the errors above.
	ErrInvalidConversation = errors.New("chatring: invalid conversation id")
	// ErrUnavailable reports that the service behind a Store (a Redis
	// server, say) cannot be reached, is failing over or is too busy right
	// now. Unlike every other error here it is transient: the same call may
	// succeed later, and an Append retried with the same Message.ID is
	// stored at most once even when the failed attempt did reach the
	// service (see Store). The error wraps the cause.
	ErrUnavailable = errors.New("chatring: store unavailable")
)

// ValidationError describes why a message, a system prompt, a conversation
// ID, a Config or a write after Close was rejected. It unwraps to one of
// the sentinel errors above, so errors.Is(err, ErrInvalidContent) and
// errors.As(err, &ve) both work on the same error.
//
// Reason never quotes the rejected content: it gives sizes, byte offsets
// and rune values, so it is safe to log.
type ValidationError struct {
	// Field is the rejected field: "role", "content", "name", "id",
	// "tool_call_id", "tool_calls" or "tool_calls[i].id", ".name" or
	// ".arguments" (i counting from 0) for a message, "system_prompt" for
	// SetSystemPrompt, "max_tokens" for a Window budget, "conversation" for
	// a conversation ID, or a Config field's JSON name ("backend",
	// "max_turns", ...) for a Config, including an unknown key of a config
	// file. It is "" when the rejection is not about one field: a write
	// after Close (ErrClosed), or a config file that is not one valid JSON
	// object.
	Field string
	// Reason says what is wrong, e.g. "40000 bytes, limit 32768".
	Reason string
	// Err is the sentinel error this error wraps.
	Err error
}

// Error returns "<sentinel>: <field>: <reason>", or "<sentinel>: <reason>"
// when Field is "".
func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Err.Error() + ": " + e.Reason
	}
	return e.Err.Error() + ": " + e.Field + ": " + e.Reason
}

// closedError is the rejection of op, a write, after Close: ErrClosed as a
// *ValidationError with no Field.
func closedError(op string) error {
	return &ValidationError{Reason: op + " after Close", Err: ErrClosed}
}

// Unwrap returns the sentinel error.
func (e *ValidationError) Unwrap() error { return e.Err }

package resilient

import (
	"errors"
	"fmt"

	"github.com/chatring/chatring"
)

var (
	// ErrBuffered reports an Append that the outbox accepted but the
	// primary has not stored yet: a buffered acknowledgment, not a durable
	// one. The error also matches chatring.ErrUnavailable, so code that
	// only knows chatring.Store never takes it for a durable append. The
	// Message returned with it carries the ID the outbox replays it with.
	ErrBuffered = errors.New("resilient: buffered in the outbox, not yet stored by the primary")
	// ErrBreakerOpen reports an attempt that the circuit breaker refused
	// without calling the primary (open, or half-open with every probe
	// taken). The error also matches chatring.ErrUnavailable.
	ErrBreakerOpen = errors.New("resilient: circuit breaker open")
	// ErrOutboxFull reports an Append refused because the outbox holds its
	// bound. The error also matches chatring.ErrUnavailable.
	ErrOutboxFull = errors.New("resilient: outbox full")
)

// The errors returned as they are, built once so that failing fast
// allocates nothing.
var (
	errOpen     = fmt.Errorf("%w: %w", chatring.ErrUnavailable, ErrBreakerOpen)
	errBuffered = fmt.Errorf("%w: %w", chatring.ErrUnavailable, ErrBuffered)
	errFull     = fmt.Errorf("%w: %w", chatring.ErrUnavailable, ErrOutboxFull)
	// errSealed is an append's that failed after Close gave up flushing
	// the outbox (a write still in flight when Close's ctx ended).
	errSealed = fmt.Errorf("%w: resilient: closed: the outbox takes no more appends", chatring.ErrUnavailable)
	// errReplaying is a read's, when another goroutine is replaying the
	// conversation's buffered appends and the mirror lacks it, and a
	// write's that waited for such a replay as long as its budget allows.
	errReplaying = fmt.Errorf("%w: resilient: the conversation's buffered appends are being replayed", chatring.ErrUnavailable)
	// errSettleBudget is a call's that began replaying its conversation's
	// buffered appends and did not finish within its budget (MaxElapsed).
	errSettleBudget = fmt.Errorf("%w: resilient: the conversation's buffered appends were not replayed within MaxElapsed", chatring.ErrUnavailable)
)

// UnflushedError is Close's error when the outbox still held buffered
// appends when Close's ctx was done: they were not stored by the primary
// and are lost with the process. It unwraps to the ctx error (or whatever
// stopped the flush) and to chatring.ErrUnavailable.
type UnflushedError struct {
	// Messages and Conversations count the buffered appends not flushed
	// and the conversations they belong to.
	Messages, Conversations int
	// Err is why the flush stopped: ctx.Err(), the last error of the
	// primary, or both joined.
	Err error
}

// Error says how many buffered appends were not flushed, and why.
func (e *UnflushedError) Error() string {
	return fmt.Sprintf("resilient: close: %d buffered appends in %d conversations not flushed to the primary: %v",
		e.Messages, e.Conversations, e.Err)
}

// Unwrap returns Err and chatring.ErrUnavailable.
func (e *UnflushedError) Unwrap() []error { return []error{e.Err, chatring.ErrUnavailable} }

// isValidation reports whether err is a permanent rejection of the input
// (ErrClosed, also a *chatring.ValidationError, is not one).
func isValidation(err error) bool {
	var ve *chatring.ValidationError
	return errors.As(err, &ve) && !errors.Is(err, chatring.ErrClosed)
}

// isRejection reports whether err is a *chatring.ValidationError,
// ErrClosed included: an answer of the primary, late or not, that no
// retry changes.
func isRejection(err error) bool {
	var ve *chatring.ValidationError
	return errors.As(err, &ve)
}

// closedError is the rejection of op, a write, after Close: ErrClosed as a
// *chatring.ValidationError with no Field, as the core stores give it.
func closedError(op string) error {
	return &chatring.ValidationError{Reason: op + " after Close", Err: chatring.ErrClosed}
}

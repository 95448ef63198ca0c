package redisstore

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/chatring/chatring"
)

// Observer is told of every operation a Store sends to Redis, for
// metrics: package github.com/chatring/chatring/promexport/promredis has
// one that exports Prometheus histograms and counters.
//
// Observe is called once per operation that reached the Redis client,
// after it returned, on the caller's goroutine, so concurrently: it must
// be safe for concurrent use and quick. op is one of Ops(); d is the time
// the operation took, from before the client was called to after the
// reply was decoded (for Messages and Window, the decoding of the window
// is included; for the writes, the script's round trip only), so it
// includes waiting for a connection of the client's pool. kind is
// KindNone when the operation succeeded, else the kind of its error.
//
// AppendBatch is observed once per batch, as "append_batch". Calls that
// never reach Redis are not observed either: those rejected before
// (an invalid message or conversation ID, a write after Close, a ctx
// already done) are the caller's, not Redis's, and chatring's own
// statistics count them.
type Observer interface {
	Observe(op string, d time.Duration, kind ErrorKind)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(op string, d time.Duration, kind ErrorKind)

// Observe implements Observer by calling f.
func (f ObserverFunc) Observe(op string, d time.Duration, kind ErrorKind) { f(op, d, kind) }

// WithObserver sets the Observer told of every operation sent to Redis
// (default: none). Without one the store does not read the clock for it:
// an unobserved operation costs nothing more.
func WithObserver(o Observer) Option {
	return func(opts *options) { opts.obs = o }
}

// ops are the values of Observer's op, in the order Ops returns them.
var ops = []string{"append", "append_batch", "messages", "window", "set_system_prompt", "clear", "delete"}

// Ops returns the names of the operations an Observer is told of, one per
// Store method that calls Redis. The slice is a new copy on every call.
func Ops() []string { return slices.Clone(ops) }

// ErrorKind is the kind of an operation's error, as told to an Observer:
// a small fixed set, fit for a metric's label.
type ErrorKind uint8

// The kinds of errors. A new kind would be added only with a new sentinel
// error of the Store contract.
const (
	// KindNone: the operation succeeded.
	KindNone ErrorKind = iota
	// KindCanceled: the caller's ctx was canceled while the operation
	// ran: the caller gave up (a client that went away). Not Redis's
	// fault.
	KindCanceled
	// KindTimeout: the ctx's deadline passed while the operation ran:
	// Redis did not answer in the time the caller (or the resilient
	// wrapper's AttemptTimeout) gave it. Redis, the network or the
	// client's pool was slow for this caller. A Redis that refuses
	// connections can end here too: go-redis's own retries (MaxRetries,
	// DialerRetries) redial it until the deadline passes; with them off
	// (MaxRetries -1, DialerRetries 1, as examples/chatservice sets them
	// under the resilient wrapper) it is KindUnavailable at once.
	KindTimeout
	// KindUnavailable: the error wraps chatring.ErrUnavailable: Redis
	// could not be reached, timed out, was loading, read-only, failing
	// over or busy, or the client's pool had no free connection.
	KindUnavailable
	// KindFormat: the error wraps ErrFormat: stored data, or a reply, in
	// a format this package does not read.
	KindFormat
	// KindOther: any other error: a script error, a key of the wrong
	// type, OOM, NOAUTH, NOPERM, or a client closed before the store.
	KindOther
)

// ErrorKinds returns the kinds of a failed operation (all but KindNone),
// in a fixed order. The slice is a new copy on every call.
func ErrorKinds() []ErrorKind {
	return []ErrorKind{KindCanceled, KindTimeout, KindUnavailable, KindFormat, KindOther}
}

// String returns the kind's name: "none", "canceled", "timeout",
// "unavailable", "format" or "other".
func (k ErrorKind) String() string {
	switch k {
	case KindNone:
		return "none"
	case KindCanceled:
		return "canceled"
	case KindTimeout:
		return "timeout"
	case KindUnavailable:
		return "unavailable"
	case KindFormat:
		return "format"
	}
	return "other"
}

// KindOf returns the kind of an error a Store returned for an operation
// that reached Redis.
func KindOf(err error) ErrorKind {
	switch {
	case err == nil:
		return KindNone
	case errors.Is(err, chatring.ErrUnavailable):
		return KindUnavailable
	case errors.Is(err, context.Canceled):
		return KindCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	case errors.Is(err, ErrFormat):
		return KindFormat
	}
	return KindOther
}

// begin returns the start of an operation for observe: the time now, or
// the zero Time when there is no Observer (reading the clock is not
// free).
func (s *Store) begin() time.Time {
	if s.obs == nil {
		return time.Time{}
	}
	return time.Now()
}

// observe tells the Observer, if any, of an operation that began at
// start (from begin) and ended with *err. It is deferred, with err the
// address of the operation's named error result.
func (s *Store) observe(op string, start time.Time, err *error) {
	if s.obs != nil {
		s.obs.Observe(op, time.Since(start), KindOf(*err))
	}
}

package resilient

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/chatring/chatring"
)

// RetryPolicy says how a call is retried after ErrUnavailable. A zero
// field means its default.
//
// Attempt n+1 (n ≥ 1) waits a duration drawn uniformly from
// [0, min(MaxDelay, BaseDelay × 2^(n-1))] ("full jitter": concurrent
// callers that failed together do not come back together). A call stops
// at the first of: a result that is not ErrUnavailable, Attempts
// attempts, MaxElapsed since the call began, the caller's ctx done, or
// the breaker refusing an attempt.
type RetryPolicy struct {
	// Attempts is the most attempts per call, the first included.
	// Default 3; 1 disables retries.
	Attempts int
	// BaseDelay is the upper bound of the first wait. Default 10ms.
	BaseDelay time.Duration
	// MaxDelay caps the upper bound of every wait. Default 250ms.
	MaxDelay time.Duration
	// MaxElapsed bounds a call's attempts and waits together: no wait
	// goes past it, no attempt starts after it, and an attempt's
	// AttemptTimeout deadline is cut to it. It bounds, separately, the
	// replay of the conversation's buffered appends that a call makes
	// before its own attempts (see the package doc, Degradation), so a
	// call takes at most about 2 × MaxElapsed. Default 1s.
	MaxElapsed time.Duration
	// AttemptTimeout is the deadline of one attempt (within the caller's
	// ctx, which may be shorter). Attempts that start at about the same
	// time share one deadline, so that an attempt costs no timer of its
	// own (under a ctx that can be canceled, until the primary asks for
	// the attempt's Done channel, as go-redis does: then it gets one), so
	// an attempt may get up to a 64th of AttemptTimeout (at most 10ms)
	// more than AttemptTimeout, never less (but for MaxElapsed, to which
	// it is cut exactly). An attempt that reaches
	// it counts as ErrUnavailable — the service did not answer in time —
	// for retries and for the breaker, whereas the caller's own deadline
	// or cancellation never counts against the service. Default 500ms;
	// negative: no deadline of the wrapper's own, so an attempt that
	// gets no answer runs until ctx is done, past MaxElapsed.
	AttemptTimeout time.Duration
}

// BreakerPolicy configures the circuit breaker. A zero field means its
// default.
//
// The breaker counts the outcome of every attempt: success (nil),
// failure (ErrUnavailable, an attempt timeout included) or neither
// (validation errors, ErrClosed, any other error, and attempts ended by
// the caller's ctx). It opens when, within the last Window, there were
// at least Failures failures and they were at least FailureRatio of the
// successes and failures. While open it refuses every attempt at once
// (ErrUnavailable wrapping ErrBreakerOpen). After OpenFor it is half-open:
// up to Probes attempts go through; Probes successes in a row close it,
// one failure opens it again, and outcomes of neither kind free their
// probe's place.
type BreakerPolicy struct {
	// Failures is the least number of failures in Window that opens the
	// breaker. Default 10.
	Failures int
	// FailureRatio is the least share of failures among the successes
	// and failures in Window that opens the breaker, in (0, 1]. Default
	// 0.5.
	FailureRatio float64
	// Window is the rolling window the outcomes are counted in, kept as
	// ten buckets of Window/10 each. Default 10s.
	Window time.Duration
	// OpenFor is how long the breaker stays open before it lets probes
	// through. Default 1s.
	OpenFor time.Duration
	// Probes is the number of attempts let through while half-open, and
	// of successes in a row that close the breaker. Default 1.
	Probes int
}

// Default policies.
var (
	DefaultRetry = RetryPolicy{
		Attempts:       3,
		BaseDelay:      10 * time.Millisecond,
		MaxDelay:       250 * time.Millisecond,
		MaxElapsed:     time.Second,
		AttemptTimeout: 500 * time.Millisecond,
	}
	DefaultBreaker = BreakerPolicy{
		Failures:     10,
		FailureRatio: 0.5,
		Window:       10 * time.Second,
		OpenFor:      time.Second,
		Probes:       1,
	}
)

// DefaultMirrorConversations is the default bound of the local mirror.
const DefaultMirrorConversations = 10_000

// DefaultFlushInterval is how often the outbox retries its replay while
// it holds messages, besides right after the breaker closes.
const DefaultFlushInterval = 100 * time.Millisecond

// Option configures a Store in New.
type Option func(*options)

type options struct {
	cfg        *chatring.Config
	log        *slog.Logger
	tok        chatring.Tokenizer
	retry      RetryPolicy
	breaker    BreakerPolicy
	mirror     int
	outbox     int
	flushEvery time.Duration
}

// WithConfig gives the Config the primary store was created with. The
// mirror keeps 2 × MaxTurns messages per conversation, degraded Window
// calls use MaxTokens as the default budget, and buffered appends are
// validated against MaxMessageBytes. Without it New asks the primary for
// a Config() chatring.Config method (MemoryStore has one) and fails if
// there is none.
func WithConfig(cfg chatring.Config) Option {
	return func(o *options) { o.cfg = &cfg }
}

// WithLogger sets the structured logger (default: one that discards
// everything). The Store logs breaker state changes (Warn when it opens,
// Info otherwise), degraded reads, buffered and replayed appends at Debug,
// appends the primary rejected on replay at Error, and Close's outcome.
// It never logs message content, names or conversation IDs.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// WithTokenizer sets the Tokenizer that counts the Tokens of buffered
// appends, for degraded Window budgets before the primary has stored
// them (default: chatring.ApproxTokenizer; use the primary's).
func WithTokenizer(t chatring.Tokenizer) Option {
	return func(o *options) { o.tok = t }
}

// WithRetry sets the retry policy; zero fields keep their defaults.
func WithRetry(p RetryPolicy) Option {
	return func(o *options) { o.retry = p }
}

// WithBreaker sets the circuit breaker's policy; zero fields keep their
// defaults.
func WithBreaker(p BreakerPolicy) Option {
	return func(o *options) { o.breaker = p }
}

// WithMirror bounds the local mirror to n conversations (default
// DefaultMirrorConversations); 0 turns degraded reads off. The mirror
// holds at most n × 2 × MaxTurns messages, and evicts the conversations
// least likely to be read again (W-TinyLFU) and those idle for the
// Config's IdleTTL.
func WithMirror(n int) Option {
	return func(o *options) { o.mirror = n }
}

// WithOutbox turns the outbox on, bounded to n buffered appends in all
// (default 0: off, appends fail with ErrUnavailable while the primary is
// unavailable). See Store.Append for what a buffered append means.
func WithOutbox(n int) Option {
	return func(o *options) { o.outbox = n }
}

// WithFlushInterval sets how often the outbox retries replaying while it
// holds messages (default DefaultFlushInterval).
func WithFlushInterval(d time.Duration) Option {
	return func(o *options) { o.flushEvery = d }
}

// resolve fills in defaults and checks the options.
func (o *options) resolve() error {
	r, d := &o.retry, DefaultRetry
	r.Attempts = orDefault(r.Attempts, d.Attempts)
	r.BaseDelay = orDefault(r.BaseDelay, d.BaseDelay)
	r.MaxDelay = orDefault(r.MaxDelay, d.MaxDelay)
	r.MaxElapsed = orDefault(r.MaxElapsed, d.MaxElapsed)
	r.AttemptTimeout = orDefault(r.AttemptTimeout, d.AttemptTimeout)
	b, db := &o.breaker, DefaultBreaker
	b.Failures = orDefault(b.Failures, db.Failures)
	b.FailureRatio = orDefault(b.FailureRatio, db.FailureRatio)
	b.Window = orDefault(b.Window, db.Window)
	b.OpenFor = orDefault(b.OpenFor, db.OpenFor)
	b.Probes = orDefault(b.Probes, db.Probes)
	o.flushEvery = orDefault(o.flushEvery, DefaultFlushInterval)
	switch {
	case r.Attempts < 1:
		return invalid("retry attempts %d, want at least 1", r.Attempts)
	case r.BaseDelay < 0 || r.MaxDelay < r.BaseDelay:
		return invalid("retry delays %v to %v, want 0 < base <= max", r.BaseDelay, r.MaxDelay)
	case r.MaxElapsed < 0:
		return invalid("retry max elapsed %v, want positive", r.MaxElapsed)
	case b.Failures < 1:
		return invalid("breaker failures %d, want at least 1", b.Failures)
	case b.FailureRatio < 0 || b.FailureRatio > 1:
		return invalid("breaker failure ratio %v, want in (0, 1]", b.FailureRatio)
	case b.Window < 10*time.Millisecond || b.OpenFor < 0:
		return invalid("breaker window %v (want at least 10ms), open for %v", b.Window, b.OpenFor)
	case b.Probes < 1 || b.Probes > 1<<16:
		return invalid("breaker probes %d, want 1 to 65536", b.Probes)
	case o.mirror < 0:
		return invalid("mirror of %d conversations, want 0 or more", o.mirror)
	case o.outbox < 0:
		return invalid("outbox of %d messages, want 0 or more", o.outbox)
	case o.flushEvery < 0:
		return invalid("flush interval %v, want positive", o.flushEvery)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.tok == nil {
		o.tok = chatring.ApproxTokenizer{}
	}
	return nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: resilient: "+format, append([]any{chatring.ErrInvalidConfig}, args...)...)
}

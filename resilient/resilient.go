package resilient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/chatring/chatring"
	"github.com/chatring/chatring/internal/gate"
	"github.com/chatring/chatring/internal/rejection"
	"github.com/sony/gobreaker/v2"
)

// Store is a chatring.Store that wraps another one, the primary, with
// retries, a circuit breaker, degraded reads from a local mirror, an
// optional outbox for appends, and a graceful Close. See the package
// documentation for what each does and when.
//
// A Store owns its primary: Close closes it. All methods are safe for
// concurrent use.
type Store struct {
	// These fields are set by New and never written again.
	primary    chatring.Store
	cfg        chatring.Config // the primary's, defaults filled in
	log        *slog.Logger
	tok        chatring.Tokenizer
	retry      RetryPolicy
	deadlines  *deadlines // the attempts' (nil: AttemptTimeout negative)
	breaker    *gobreaker.CircuitBreaker[struct{}]
	mirror     *mirror // nil: degraded reads off
	outbox     *outbox // nil: no outbox
	flushEvery time.Duration
	onRetry    func(wait time.Duration) // tests observe the backoff here

	gate gate.Gate // writes in flight, and Close

	// The flusher: a goroutine replaying the outbox, when there is one.
	wake      chan struct{} // a token asks the flusher to run now
	stopFlush context.CancelFunc
	flushDone chan struct{}

	ctr counters
	tr  transitions

	closeMu  sync.Mutex // serializes Close
	closed   bool       // guarded by closeMu
	closeErr error      // guarded by closeMu
}

// counters are the Store's metrics, one atomic add per event.
type counters struct {
	attempts, retries, failedFast             atomic.Uint64
	degradedReads, degradedMisses             atomic.Uint64
	buffered, outboxFull, replayed, discarded atomic.Uint64
	transitions                               [3]atomic.Uint64    // by gobreaker.State entered
	changes                                   [3][3]atomic.Uint64 // by gobreaker.State left and entered
	unflushed                                 atomic.Uint64
	// rejected counts the writes refused before calling the primary,
	// by chatring.RejectionReason: one atomic add per rejection.
	rejected rejection.Counter
}

var _ chatring.Store = (*Store)(nil)

// New returns a Store in front of primary. Its options have defaults for
// everything but the primary's Config, which New takes from WithConfig or
// from primary's Config method; a bad option or Config returns an error
// wrapping chatring.ErrInvalidConfig.
func New(primary chatring.Store, opts ...Option) (*Store, error) {
	if primary == nil {
		return nil, invalid("nil primary store")
	}
	o := options{mirror: DefaultMirrorConversations}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.resolve(); err != nil {
		return nil, err
	}
	var cfg chatring.Config
	if o.cfg != nil {
		cfg = *o.cfg
	} else if c, ok := primary.(interface{ Config() chatring.Config }); ok {
		cfg = c.Config()
	} else {
		return nil, invalid("the primary store has no Config method: give its Config with WithConfig")
	}
	// A History fills in the Config's defaults exactly as the primary did.
	h, err := chatring.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("resilient: %w", err)
	}
	cfg = h.Config()
	_ = h.Close()

	s := &Store{
		primary:    primary,
		cfg:        cfg,
		log:        o.log,
		tok:        o.tok,
		retry:      o.retry,
		flushEvery: o.flushEvery,
		wake:       make(chan struct{}, 1),
	}
	s.gate.Init()
	if s.retry.AttemptTimeout > 0 {
		s.deadlines = newDeadlines(s.retry.AttemptTimeout)
	}
	b := o.breaker
	s.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         "chatring-resilient",
		MaxRequests:  uint32(b.Probes),
		Interval:     b.Window,
		BucketPeriod: b.Window / 10,
		Timeout:      b.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			f := float64(c.TotalFailures)
			return int(c.TotalFailures) >= b.Failures && f >= b.FailureRatio*(f+float64(c.TotalSuccesses))
		},
		OnStateChange: s.stateChanged,
		// Only ErrUnavailable is a failure and only nil a success; every
		// other outcome (validation errors, ErrClosed, the caller's ctx)
		// is neither, and frees its half-open probe.
		IsExcluded: func(err error) bool { return err != nil && !errors.Is(err, chatring.ErrUnavailable) },
	})
	if o.mirror > 0 {
		if s.mirror, err = newMirror(o.mirror, 2*cfg.MaxTurns, cfg.IdleTTL); err != nil {
			return nil, err
		}
	}
	if o.outbox > 0 {
		s.outbox = newOutbox(o.outbox)
		ctx, cancel := context.WithCancel(context.Background())
		s.stopFlush, s.flushDone = cancel, make(chan struct{})
		go s.flusher(ctx)
	}
	return s, nil
}

// Config returns the primary's Config, defaults filled in.
func (s *Store) Config() chatring.Config { return s.cfg }

// Primary returns the wrapped store.
func (s *Store) Primary() chatring.Store { return s.primary }

// transitions are the breaker's state changes not logged yet. The
// breaker reports a change under its lock, which every attempt takes, so
// stateChanged only records it there; whoever called into the breaker
// logs it after the breaker returned (logTransitions), so that a slow log
// handler holds up that caller, not every call.
type transitions struct {
	n    atomic.Int32 // len(list), read without mu on the hot path
	mu   sync.Mutex   // guards list
	list []transition
	log  sync.Mutex // held while logging, so that changes are logged in order
}

type transition struct{ from, to gobreaker.State }

// stateChanged is the breaker's OnStateChange. It runs under the
// breaker's lock: it counts and records the change, and wakes the
// flusher, nothing more.
func (s *Store) stateChanged(_ string, from, to gobreaker.State) {
	s.ctr.transitions[to].Add(1)
	s.ctr.changes[from][to].Add(1)
	s.tr.mu.Lock()
	s.tr.list = append(s.tr.list, transition{from, to})
	s.tr.n.Store(int32(len(s.tr.list)))
	s.tr.mu.Unlock()
	if to == gobreaker.StateClosed {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// logTransitions logs the recorded state changes, oldest first, unless
// another goroutine is logging them (it logs those recorded meanwhile
// too). Call it after every call into the breaker, outside its lock.
func (s *Store) logTransitions() {
	for s.tr.n.Load() != 0 && s.tr.log.TryLock() {
		s.tr.mu.Lock()
		list := s.tr.list
		s.tr.list = nil
		s.tr.n.Store(0)
		s.tr.mu.Unlock()
		for _, t := range list {
			level := slog.LevelInfo
			if t.to == gobreaker.StateOpen {
				level = slog.LevelWarn
			}
			s.log.LogAttrs(context.Background(), level, "resilient: circuit breaker "+t.to.String(),
				slog.String("from", t.from.String()), slog.String("to", t.to.String()))
		}
		s.tr.log.Unlock()
	}
}

// do runs f, an attempt of one call on the primary, through the breaker,
// and retries it as the RetryPolicy says.
//
// The first attempt runs outside backoff.Retry, so that the happy path
// pays for no retry machinery; when it fails with ErrUnavailable its
// error seeds Retry, which waits before the second.
func (s *Store) do(ctx context.Context, f func(context.Context) error) error {
	start := time.Now()
	end := start.Add(s.retry.MaxElapsed)
	err := s.attempt(ctx, start, end, f)
	if !retryable(ctx, err) || s.retry.Attempts == 1 {
		return ended(ctx, err)
	}
	remaining := time.Until(end)
	if remaining <= 0 {
		return err
	}
	seed := err
	_, err = backoff.Retry(ctx, func() (struct{}, error) {
		if seed != nil { // the first attempt's outcome
			err := seed
			seed = nil
			return struct{}{}, err
		}
		// Counted here, not in notify: a caller that leaves during the
		// wait gets no attempt after it.
		s.ctr.retries.Add(1)
		err := s.attempt(ctx, time.Now(), end, f)
		if err != nil && !retryable(ctx, err) {
			return struct{}{}, backoff.Permanent(ended(ctx, err))
		}
		return struct{}{}, err
	},
		backoff.WithBackOff(&backoff.ExponentialBackOff{
			// RandomizationFactor 1 draws from [0, 2 × interval]: full
			// jitter over [0, min(MaxDelay, BaseDelay × 2^(n-1))].
			InitialInterval:     s.retry.BaseDelay / 2,
			RandomizationFactor: 1,
			Multiplier:          2,
			MaxInterval:         s.retry.MaxDelay / 2,
		}),
		backoff.WithMaxTries(uint(s.retry.Attempts)),
		backoff.WithMaxElapsedTime(remaining),
		backoff.WithNotify(s.notify))
	// Retry returns a permanent error wrapped when it came from the last
	// attempt, and the ctx's cause when ctx ended a wait.
	if p := (*backoff.PermanentError)(nil); errors.As(err, &p) {
		err = p.Err
	}
	return ended(ctx, err)
}

// ended returns ctx's error in place of err when ctx is done: a call
// whose caller gave up returns ctx.Err(), as the Store contract says,
// whatever its last attempt answered.
func ended(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// notify is Retry's hook, called before each wait.
func (s *Store) notify(_ error, wait time.Duration) {
	if s.onRetry != nil {
		s.onRetry(wait)
	}
}

// retryable reports whether a call that failed with err may be retried:
// only ErrUnavailable from the primary, and only while ctx lasts.
func retryable(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && errors.Is(err, chatring.ErrUnavailable) &&
		!errors.Is(err, ErrBreakerOpen)
}

// degradable reports whether a call that failed with err may be served
// from the mirror or the outbox: the primary is unavailable and the
// caller still waits.
func degradable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && errors.Is(err, chatring.ErrUnavailable)
}

// attempt makes one attempt of f, if the breaker lets it, within the
// attempt's deadline (AttemptTimeout from now, and no later than end),
// and reports its outcome to the breaker.
func (s *Store) attempt(ctx context.Context, now, end time.Time, f func(context.Context) error) error {
	var err error
	_, berr := s.breaker.Execute(func() (struct{}, error) {
		err = s.try(ctx, now, end, f)
		return struct{}{}, err
	})
	s.logTransitions()
	if berr != nil && err == nil { // refused: f did not run
		s.ctr.failedFast.Add(1)
		return errOpen
	}
	return err
}

// try runs f once within the attempt's deadline, for attempt.
func (s *Store) try(ctx context.Context, now, end time.Time, f func(context.Context) error) error {
	s.ctr.attempts.Add(1)
	actx := ctx
	if s.deadlines != nil {
		deadline := now.Add(s.retry.AttemptTimeout)
		if end.Before(deadline) {
			deadline = end
		}
		// A caller's deadline as soon needs no deadline of the
		// wrapper's own: the attempt ends at the caller's deadline,
		// and is the caller's, as below; a DeadlineExceeded the store
		// reports early is then the caller's too, not the attempt's.
		if d, ok := ctx.Deadline(); !ok || d.After(deadline) {
			// The attempt gets a deadline it shares with the others that
			// start about now, a little later than deadline (see
			// deadlines), unless MaxElapsed or the caller's deadline
			// comes before it; then a timer of its own.
			if dl := s.deadlines.get(now); !dl.at.After(end) && (!ok || d.After(dl.at)) {
				var b *boundCtx
				if actx, b = attemptContext(ctx, dl); b != nil {
					defer b.release()
				}
			} else {
				var cancel context.CancelFunc
				actx, cancel = context.WithDeadline(ctx, deadline)
				defer cancel()
			}
		}
	}
	err := f(actx)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// The caller gave up: say nothing about the primary.
		err = ctx.Err()
	case (actx.Err() != nil || actx != ctx && errors.Is(err, context.DeadlineExceeded)) && !isRejection(err):
		// The attempt's own deadline passed. A store may report it
		// before actx notices (redisstore's socket deadline is the ctx
		// deadline, and its read can time out a moment before the
		// ctx's timer fires), as the ctx's DeadlineExceeded.
		err = fmt.Errorf("%w: no answer within the attempt's deadline: %w", chatring.ErrUnavailable, err)
	}
	return err
}

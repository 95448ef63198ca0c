// Package faultstore is a chatring.Store that injects faults into the
// calls it passes to another Store: the service behind it refusing a call
// (ErrUnavailable before the call), losing the reply of a call that took
// effect (ErrUnavailable after it), answering slowly, or not answering at
// all until the caller gives up. The resilient package's tests wrap a
// MemoryStore in it, so that every claim about retries, the breaker and
// the outbox is checked without a network.
package faultstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatring/chatring"
)

// Op names a Store method.
type Op string

// The Store methods faults can be injected into. Close is never faulted.
const (
	Any             Op = ""
	Append          Op = "append"
	Messages        Op = "messages"
	Window          Op = "window"
	SetSystemPrompt Op = "set_system_prompt"
	Clear           Op = "clear"
	Delete          Op = "delete"
	// AppendBatch is BatchStore's AppendBatch, as a whole; each of its
	// messages is an Append call too.
	AppendBatch Op = "append_batch"
)

// Fault is what happens to one call.
type Fault int

const (
	// None passes the call through.
	None Fault = iota
	// Before returns ErrUnavailable without calling the wrapped store:
	// the request never reached the service.
	Before
	// After calls the wrapped store and then returns ErrUnavailable
	// whatever it answered: the request took effect but the reply was
	// lost (an ambiguous failure).
	After
	// Hang blocks until the call's context is done and returns
	// ctx.Err() without calling the wrapped store: a frozen server.
	Hang
	// Fail returns ErrOther, an error that is neither ErrUnavailable nor
	// a validation error, without calling the wrapped store.
	Fail
)

// ErrOther is the error of the Fail fault.
var ErrOther = errors.New("faultstore: injected error of no known kind")

// Policy decides the fault of a call: op is the method and n the number of
// calls of that method so far, this one included (1 for the first).
// It must be safe for concurrent use.
type Policy func(op Op, n uint64) Fault

// Always is the policy of an outage: every call of op (of every method if
// op is Any) gets f.
func Always(op Op, f Fault) Policy {
	return func(o Op, _ uint64) Fault {
		if op == Any || o == op {
			return f
		}
		return None
	}
}

// Times gives f to the next n calls of op (every method if Any) made
// after it is installed, then nothing.
func Times(op Op, f Fault, n int) Policy {
	var left atomic.Int64
	left.Store(int64(n))
	return func(o Op, _ uint64) Fault {
		if (op == Any || o == op) && left.Add(-1) >= 0 {
			return f
		}
		return None
	}
}

// Every gives f to every k-th call of op (of every method if Any),
// counted per method.
func Every(op Op, f Fault, k uint64) Policy {
	return func(o Op, n uint64) Fault {
		if (op == Any || o == op) && n%k == 0 {
			return f
		}
		return None
	}
}

// Store wraps a chatring.Store and injects faults chosen by its Policy.
// The zero Policy (none set) passes every call through. All methods are
// safe for concurrent use.
type Store struct {
	inner   chatring.Store
	policy  atomic.Pointer[Policy]
	latency atomic.Int64 // nanoseconds added before every call

	counts sync.Map // Op -> *atomic.Uint64: calls per method

	mu  sync.Mutex
	ids []string // Message.ID of every Append that reached the store, in order
}

// New returns a Store that passes calls to inner until a Policy is set.
func New(inner chatring.Store) *Store { return &Store{inner: inner} }

// SetPolicy installs p; nil removes faults.
func (s *Store) SetPolicy(p Policy) {
	if p == nil {
		s.policy.Store(nil)
		return
	}
	s.policy.Store(&p)
}

// SetLatency delays every call by d (0 for none) before its fault is
// applied; the delay ends early, with ctx.Err(), when ctx is done.
func (s *Store) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// Calls returns the number of calls of op made so far (of every method if
// Any), faulted or not.
func (s *Store) Calls(op Op) uint64 {
	var n uint64
	s.counts.Range(func(k, v any) bool {
		if op == Any || k.(Op) == op {
			n += v.(*atomic.Uint64).Load()
		}
		return true
	})
	return n
}

// AppendIDs returns the Message.ID of every Append call made so far, in
// the order they arrived, faulted or not.
func (s *Store) AppendIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...)
}

// Inner returns the wrapped store.
func (s *Store) Inner() chatring.Store { return s.inner }

// errInjected is the cause of every injected ErrUnavailable.
var errInjected = fmt.Errorf("%w: injected fault", chatring.ErrUnavailable)

// enter counts the call, waits out the latency and applies the policy
// that happens before the call; it returns the fault to apply after it.
func (s *Store) enter(ctx context.Context, op Op) (Fault, error) {
	c, _ := s.counts.LoadOrStore(op, new(atomic.Uint64))
	n := c.(*atomic.Uint64).Add(1)
	if d := time.Duration(s.latency.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return None, ctx.Err()
		}
	}
	f := None
	if p := s.policy.Load(); p != nil {
		f = (*p)(op, n)
	}
	switch f {
	case Before:
		return f, errInjected
	case Hang:
		<-ctx.Done()
		return f, ctx.Err()
	case Fail:
		return f, ErrOther
	}
	return f, nil
}

// leave applies the fault that happens after the call.
func leave(f Fault, err error) error {
	if f == After {
		return errInjected
	}
	return err
}

// Append implements chatring.Store.
func (s *Store) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	s.mu.Lock()
	s.ids = append(s.ids, m.ID)
	s.mu.Unlock()
	f, err := s.enter(ctx, Append)
	if err != nil {
		return chatring.Message{}, err
	}
	got, err := s.inner.Append(ctx, conv, m)
	if err = leave(f, err); err != nil {
		return chatring.Message{}, err
	}
	return got, nil
}

// Messages implements chatring.Store.
func (s *Store) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	f, err := s.enter(ctx, Messages)
	if err != nil {
		return dst, err
	}
	got, err := s.inner.Messages(ctx, conv, dst)
	if err = leave(f, err); err != nil {
		return dst, err
	}
	return got, nil
}

// Window implements chatring.Store.
func (s *Store) Window(ctx context.Context, conv string, maxTokens int) ([]chatring.Message, error) {
	f, err := s.enter(ctx, Window)
	if err != nil {
		return nil, err
	}
	got, err := s.inner.Window(ctx, conv, maxTokens)
	if err = leave(f, err); err != nil {
		return nil, err
	}
	return got, nil
}

// SetSystemPrompt implements chatring.Store.
func (s *Store) SetSystemPrompt(ctx context.Context, conv, prompt string) error {
	f, err := s.enter(ctx, SetSystemPrompt)
	if err != nil {
		return err
	}
	return leave(f, s.inner.SetSystemPrompt(ctx, conv, prompt))
}

// Clear implements chatring.Store.
func (s *Store) Clear(ctx context.Context, conv string) error {
	f, err := s.enter(ctx, Clear)
	if err != nil {
		return err
	}
	return leave(f, s.inner.Clear(ctx, conv))
}

// Delete implements chatring.Store.
func (s *Store) Delete(ctx context.Context, conv string) error {
	f, err := s.enter(ctx, Delete)
	if err != nil {
		return err
	}
	return leave(f, s.inner.Delete(ctx, conv))
}

// BatchStore is a Store that implements resilient.BatchAppender too: its
// AppendBatch appends the messages one at a time to the wrapped store, so
// that the order, the idempotency by ID and every fault can be checked
// without a network.
type BatchStore struct{ *Store }

// NewBatch returns a BatchStore that passes calls to inner until a
// Policy is set.
func NewBatch(inner chatring.Store) *BatchStore { return &BatchStore{New(inner)} }

// AppendBatch implements resilient.BatchAppender. The Policy first gives
// the batch a fault, as op AppendBatch: Before refuses it (nothing
// stored), Hang and Fail are as for any call, and After loses its reply:
// the messages are appended as below and the batch returns no message
// and ErrUnavailable. Then each message, in order, is an Append call with
// its own fault: Before stops the batch at that message (refused from
// there on), After stores it and stops (its acknowledgment lost), Fail
// stops with ErrOther, and a validation error of the wrapped store stops
// it too; the batch then returns the messages stored before that one,
// and that one's error.
func (b *BatchStore) AppendBatch(ctx context.Context, conv string, ms []chatring.Message) ([]chatring.Message, error) {
	bf, err := b.enter(ctx, AppendBatch)
	if err != nil {
		return nil, err
	}
	out := make([]chatring.Message, 0, len(ms))
	for _, m := range ms {
		got, err := b.Append(ctx, conv, m)
		if err != nil {
			if bf == After {
				return nil, errInjected
			}
			return out, err
		}
		out = append(out, got)
	}
	if bf == After {
		return nil, errInjected
	}
	return out, nil
}

// Close closes the wrapped store; it is never faulted.
func (s *Store) Close(ctx context.Context) error { return s.inner.Close(ctx) }

// Config returns the wrapped store's Config when it has one (as
// MemoryStore does), else the zero Config.
func (s *Store) Config() chatring.Config {
	if c, ok := s.inner.(interface{ Config() chatring.Config }); ok {
		return c.Config()
	}
	return chatring.Config{}
}

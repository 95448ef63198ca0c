package resilient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatring/chatring"
)

// replay sends conv's buffered appends to the primary, oldest first,
// with the retries and the breaker of any call: up to replayBatch at a
// time when the primary is a BatchAppender, else one by one. A message
// leaves the queue when the primary stored it (or found its ID: an
// earlier replay whose reply was lost) or rejected it as invalid, which
// only happens if the primary's Config is not the one the Store was
// given; then it is discarded, counted and logged. replay returns nil
// when the queue is empty, else the error that stopped it: the error of
// a call that stored nothing (a batch that stored some of its messages
// before failing is followed by a call for the rest). The caller holds
// q.replay.
func (s *Store) replay(ctx context.Context, conv string, q *queue) error {
	ba, _ := s.primary.(BatchAppender)
	n := 1
	if ba != nil {
		n = replayBatch
	}
	var msgs []chatring.Message
	for {
		msgs = s.outbox.heads(q, n, msgs[:0])
		if len(msgs) == 0 {
			return nil
		}
		var err error
		if len(msgs) > 1 {
			var done int
			done, err = s.replayBatch(ctx, conv, q, ba, msgs)
			if done > 0 && retryable(ctx, err) {
				// The primary failed, but not before storing part of
				// the batch: the rest gets a call of its own, with
				// attempts of its own.
				continue
			}
		} else {
			v, st := s.mirror.view(conv)
			var got chatring.Message
			if got, err = s.appendPrimary(ctx, conv, msgs[0]); err == nil {
				s.replayed(ctx, conv, q, v, st, msgs[0], got)
			}
		}
		switch {
		case err == nil:
		case isValidation(err):
			m, _ := s.outbox.head(q)
			s.outbox.pop(conv, q)
			s.ctr.discarded.Add(1)
			s.log.LogAttrs(ctx, slog.LevelError, "resilient: the primary rejected a buffered append; discarded",
				slog.String("role", string(m.Role)), slog.Int("bytes", len(m.Content)),
				slog.String("error", err.Error()))
		default:
			return err
		}
	}
}

// flushWorkers is how many conversations are replayed at once, by the
// flusher and by Close: each replay is one round trip per message (per
// batch with a BatchAppender), so a backlog over many conversations
// drains about flushWorkers times faster than one conversation after
// another.
const flushWorkers = 8

// flusher replays the outbox every flushEvery while it holds messages,
// and at once when the breaker closes, until ctx is done. A conversation
// that a caller is replaying already is skipped.
func (s *Store) flusher(ctx context.Context) {
	defer close(s.flushDone)
	t := time.NewTicker(s.flushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
		s.replayAll(ctx, false)
	}
}

// replayAll replays the buffered appends of every conversation that has
// some, up to flushWorkers conversations at a time, each in order and by
// one goroutine. With wait it waits for a conversation another goroutine
// is replaying, else it skips it. It starts no more conversations once
// one has met the open breaker (the others would fail fast too) or ctx is
// done. It returns an error that stopped a replay, preferring one that
// is not ErrUnavailable; nil if none did.
func (s *Store) replayAll(ctx context.Context, wait bool) error {
	if s.outbox.empty() {
		return nil
	}
	var (
		workers sync.WaitGroup
		slots   = make(chan struct{}, flushWorkers)
		open    atomic.Bool
		mu      sync.Mutex
		failed  error // guarded by mu
	)
	for _, conv := range s.outbox.conversations() {
		if open.Load() || ctx.Err() != nil {
			break
		}
		q := s.outbox.queue(conv)
		if q == nil || !wait && !q.tryLock() {
			continue
		}
		slots <- struct{}{}
		workers.Go(func() {
			defer func() { <-slots }()
			if wait && !q.lock(ctx) {
				return // ctx is done: flush reports what is left
			}
			err := s.replay(ctx, conv, q)
			q.unlock()
			if err == nil {
				return
			}
			if errors.Is(err, ErrBreakerOpen) {
				open.Store(true)
			}
			mu.Lock()
			if failed == nil || errors.Is(failed, chatring.ErrUnavailable) {
				failed = err
			}
			mu.Unlock()
		})
	}
	workers.Wait()
	return failed
}

// flush replays the whole outbox until it is empty or ctx is done, and
// returns an *UnflushedError for what is left.
func (s *Store) flush(ctx context.Context) error {
	var last error
	for !s.outbox.empty() && ctx.Err() == nil {
		last = s.replayAll(ctx, true)
		if s.outbox.empty() || last != nil && !errors.Is(last, chatring.ErrUnavailable) {
			break // done, or the primary will not take them (ErrClosed, say)
		}
		t := time.NewTimer(s.flushEvery) // the primary or the breaker needs time
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	n, convs := s.outbox.seal()
	if n == 0 {
		return nil
	}
	s.ctr.unflushed.Add(uint64(n))
	if err := ctx.Err(); err != nil {
		last = errors.Join(err, last)
	}
	return &UnflushedError{Messages: n, Conversations: convs, Err: last}
}

// Close implements chatring.Store. In order, it:
//
//  1. stops accepting writes: from its call on they fail with
//     chatring.ErrClosed (reads go on, to the primary);
//  2. waits for the writes in flight to return;
//  3. stops the outbox's flusher and replays what the outbox holds, in
//     order per conversation, until it is empty or ctx is done;
//  4. closes the primary with ctx.
//
// It returns nil when all of that completed. Otherwise the error joins
// what failed: the writes still in flight when ctx was done, an
// *UnflushedError counting the buffered appends (and their
// conversations) that were not flushed — lost with the process —, and
// the primary's Close error. What was not flushed is logged at Error,
// with counts only. A second Close returns the first one's result.
func (s *Store) Close(ctx context.Context) error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return s.closeErr
	}
	s.closed = true
	s.gate.Close()
	var waitErr error
	if err := s.gate.Wait(ctx); err != nil {
		waitErr = fmt.Errorf("resilient: close: %w", err)
	}
	var flushErr error
	if s.outbox != nil {
		s.stopFlush()
		<-s.flushDone
		flushErr = s.flush(ctx)
	}
	primaryErr := s.primary.Close(ctx)
	s.mirror.close()
	s.deadlines.stop()
	s.closeErr = errors.Join(waitErr, flushErr, primaryErr)
	attrs := []slog.Attr{slog.Uint64("replayed", s.ctr.replayed.Load())}
	var ue *UnflushedError
	if errors.As(flushErr, &ue) {
		attrs = append(attrs, slog.Int("unflushed_messages", ue.Messages),
			slog.Int("unflushed_conversations", ue.Conversations))
		s.log.LogAttrs(ctx, slog.LevelError, "resilient: closed with buffered appends not flushed", attrs...)
	} else {
		s.log.LogAttrs(ctx, slog.LevelInfo, "resilient: closed", attrs...)
	}
	return s.closeErr
}

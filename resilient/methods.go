package resilient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/chatring/chatring"
)

// enterWrite checks ctx, the conversation ID and Close for a write, and
// registers it with the gate; the caller must call s.gate.Exit() when it
// returns nil. A write it refuses is counted (Stats.RejectedByReason).
func (s *Store) enterWrite(ctx context.Context, op, conv string) error {
	if err := ctx.Err(); err != nil {
		return s.ctr.rejected.Add(err)
	}
	if err := chatring.ValidateConversation(conv); err != nil {
		return s.ctr.rejected.Add(s.rejected(ctx, op, err))
	}
	if !s.gate.Enter() {
		return s.ctr.rejected.Add(closedError(op))
	}
	return nil
}

// rejected logs err, the validation error of a write this Store refuses
// before calling the primary (which would have logged it), and returns
// it. A chatring validation error names the field, never the content.
func (s *Store) rejected(ctx context.Context, op string, err error) error {
	s.log.LogAttrs(ctx, slog.LevelWarn, "resilient: rejected", slog.String("op", op), slog.Any("error", err))
	return err
}

// enterRead checks ctx and the conversation ID for a read.
func enterRead(ctx context.Context, conv string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return chatring.ValidateConversation(conv)
}

// settle replays conv's buffered appends, if it has any, so that the
// call that follows lands after them (a write) or sees them (a read). It
// returns nil when conv has nothing buffered any more, else the error
// that stopped the replay.
//
// It is bounded by the call's budget: RetryPolicy.MaxElapsed from now
// (and ctx). A write (wait true) waits for another goroutine's replay of
// conv within that budget, so that writers faster than the replay do
// not outrun it; a read does not wait: it returns errReplaying, and is
// served from the mirror. A replay that the budget ends before the queue
// is empty returns errSettleBudget, and the rest of the queue stays for
// the next replay, in order; Append then buffers its message behind it.
func (s *Store) settle(ctx context.Context, conv string, wait bool) error {
	q := s.outbox.queue(conv)
	if q == nil {
		return nil
	}
	end := time.Now().Add(s.retry.MaxElapsed)
	bctx, cancel := context.WithDeadlineCause(ctx, end, errSettleBudget)
	defer cancel()
	switch {
	case !wait && !q.tryLock():
		return errReplaying
	case wait && !q.lock(bctx):
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errReplaying
	}
	defer q.unlock()
	err := s.replay(bctx, conv, q)
	if err != nil && ctx.Err() == nil && (bctx.Err() != nil || budgetEnded(ctx, end, err)) {
		return errSettleBudget
	}
	return err
}

// budgetEnded reports whether err, a replay's error, is the deadline of
// a call's budget ending at end, reported by the primary a moment before
// the budget's ctx notices (as redisstore's socket deadline does; see
// Store.try): a DeadlineExceeded while ctx, the caller's, has no deadline
// as soon.
func budgetEnded(ctx context.Context, end time.Time, err error) bool {
	if d, ok := ctx.Deadline(); ok && !d.After(end) {
		return false // the caller's deadline: its own to see
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// Append implements chatring.Store, with retries, the breaker and, when
// the primary is unavailable, the outbox.
//
// A message without an ID is given one (see IDPrefix) before the first
// attempt, so that every retry and every replay is idempotent. Append
// copies m.ToolCalls before it validates them (one allocation for a
// message with tool calls), so that the outbox and the mirror keep what
// was validated whatever the caller does with its slice afterwards.
//
// The outcome says how the message was acknowledged:
//
//   - nil: durable. The primary stored the message (or holds one with
//     its ID); the returned Message is the primary's, with its Seq.
//   - an error matching ErrBuffered (and chatring.ErrUnavailable): only
//     buffered. The outbox holds the message and replays it to the
//     primary, in order behind the conversation's earlier buffered
//     appends, until the primary stores it or Close gives up (and reports
//     it as not flushed). It is not durable: it is lost if the process
//     ends first. The returned Message carries its ID (a generated one
//     if m had none), the Time and Tokens this process gave it and a
//     provisional Seq, the one it has in this process's degraded reads
//     until the mirror learns of a newer message at or after it (a late
//     reply, a replay, a read), which moves it after that message;
//     the primary assigns the real Seq on replay. Appending it again with
//     the same ID is idempotent.
//   - any other error: not stored, nor buffered. With ErrUnavailable (the
//     primary did not answer within the RetryPolicy, the breaker is open
//     — ErrBreakerOpen —, the outbox is full — ErrOutboxFull —, or
//     Close has already counted what it could not flush) the
//     message may still have been stored by an attempt whose reply was
//     lost; the returned Message carries the ID the attempts used, and
//     retrying with it stores the message at most once. Validation
//     errors, ErrClosed and ctx's error return a zero Message.
//
// An Append to a conversation with buffered appends first replays them
// (or waits for another goroutine replaying them), for at most
// MaxElapsed; if that fails or does not finish within MaxElapsed, it is
// buffered behind them (ErrBuffered).
func (s *Store) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	if err := s.enterWrite(ctx, "append", conv); err != nil {
		return chatring.Message{}, err
	}
	defer s.gate.Exit()
	// The outbox and the mirror keep m after Append returns: they keep a
	// clone, taken before validation, so that the caller may reuse its
	// ToolCalls (see chatring.Message.ToolCalls).
	m = m.Clone()
	// Validated here, not only by the primary: while the primary is
	// unavailable an invalid message must still be a validation error,
	// not an ErrUnavailable to retry.
	if err := chatring.ValidateMessage(m, s.cfg); err != nil {
		return chatring.Message{}, s.ctr.rejected.Add(s.rejected(ctx, "append", err))
	}
	if m.ID == "" {
		m.ID = newID()
	}
	if err := s.settle(ctx, conv, true); err != nil {
		if !degradable(ctx, err) {
			return chatring.Message{}, s.settleErr(ctx, err)
		}
		return s.buffer(ctx, conv, m) // behind the conversation's queue
	}
	v, st := s.mirror.view(conv)
	got, err := s.appendPrimary(ctx, conv, m)
	switch {
	case err == nil:
		s.mirror.appended(v, st, got)
		return hidden(got), nil
	case !degradable(ctx, err):
		return chatring.Message{}, err
	case s.outbox != nil:
		return s.buffer(ctx, conv, m)
	default:
		return m, err
	}
}

// appendPrimary appends m to conv in the primary, with retries.
func (s *Store) appendPrimary(ctx context.Context, conv string, m chatring.Message) (got chatring.Message, err error) {
	err = s.do(ctx, func(ctx context.Context) (err error) {
		got, err = s.primary.Append(ctx, conv, m)
		return err
	})
	return got, err
}

// buffer puts m, which Append validated and gave an ID, in the outbox.
func (s *Store) buffer(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	v := s.mirror.lookup(conv)
	if d, ok := v.findID(m.ID); ok { // stored before: a durable ack
		return hidden(d), nil
	}
	m.Time = time.Now().Round(0)
	m.Tokens = chatring.CountTokens(s.tok, m)
	b, dup, err := s.outbox.push(conv, m, v.lastSeq())
	if err != nil {
		if err == errFull {
			s.ctr.outboxFull.Add(1)
			s.log.LogAttrs(ctx, slog.LevelWarn, "resilient: outbox full, append refused",
				slog.Int("limit", s.outbox.max))
		}
		m.Seq, m.Time, m.Tokens = 0, time.Time{}, 0
		return m, err
	}
	if !dup {
		s.ctr.buffered.Add(1)
		if s.log.Enabled(ctx, slog.LevelDebug) {
			s.log.LogAttrs(ctx, slog.LevelDebug, "resilient: append buffered",
				slog.String("role", string(m.Role)), slog.Int("bytes", len(m.Content)),
				slog.Uint64("provisional_seq", b.Seq))
		}
	}
	return b, errBuffered
}

// Messages implements chatring.Store. A conversation with buffered
// appends has them replayed first, for at most MaxElapsed, so that the
// read sees them. When the primary is unavailable, the replay does not
// finish within MaxElapsed, or another goroutine is replaying the
// conversation's buffered appends, it returns the mirror's copy of
// conv's window — the newest messages this process read or wrote,
// sorted by Seq with gaps where it does not know the messages, followed
// by its buffered appends with provisional Seq values, all within
// 2 × MaxTurns of the newest (see the package documentation,
// Degradation) — with a nil error, and counts a degraded read; without
// a copy it returns the error (ErrUnavailable).
func (s *Store) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	if err := enterRead(ctx, conv); err != nil {
		return dst, err
	}
	err := s.settle(ctx, conv, false)
	if err == nil {
		v, st := s.mirror.view(conv)
		n := len(dst)
		out := dst
		err = s.do(ctx, func(ctx context.Context) (err error) {
			out, err = s.primary.Messages(ctx, conv, dst[:n])
			return err
		})
		if err == nil {
			s.mirror.read(v, st, out[n:])
			hide(out[n:])
			return out, nil
		}
	}
	if degradable(ctx, err) {
		if msgs, _, ok := s.degraded(ctx, "messages", conv, dst); ok {
			return msgs, nil
		}
	}
	if ctx.Err() != nil {
		return dst, ctx.Err()
	}
	return dst, err
}

// Window implements chatring.Store. When the primary is unavailable it
// cuts the mirror's copy of conv (see Messages) with the prompt last seen
// by chatring.CutWindow, so with History's rules, and counts a degraded
// read.
func (s *Store) Window(ctx context.Context, conv string, maxTokens int) ([]chatring.Message, error) {
	if err := enterRead(ctx, conv); err != nil {
		return nil, err
	}
	err := s.settle(ctx, conv, false)
	if err == nil {
		v, st := s.mirror.view(conv)
		var w []chatring.Message
		err = s.do(ctx, func(ctx context.Context) (err error) {
			w, err = s.primary.Window(ctx, conv, maxTokens)
			return err
		})
		if err == nil {
			s.mirror.cut(v, st, w)
			hide(w)
			return w, nil
		}
	}
	if degradable(ctx, err) {
		if msgs, prompt, ok := s.degraded(ctx, "window", conv, nil); ok {
			if maxTokens == 0 {
				maxTokens = s.cfg.MaxTokens
			}
			return chatring.CutWindow(msgs, prompt, maxTokens)
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, err
}

// degraded appends the mirror's copy of conv's window and buffered
// appends to dst, and returns the prompt last seen; ok is false when the
// mirror knows nothing of conv.
func (s *Store) degraded(ctx context.Context, op, conv string, dst []chatring.Message) (_ []chatring.Message, prompt *chatring.Message, ok bool) {
	if s.mirror == nil {
		s.ctr.degradedMisses.Add(1)
		return dst, nil, false
	}
	v := s.mirror.lookup(conv)
	n := len(dst)
	// The outbox first, then the mirror: a replay records its message in
	// the mirror before it takes it out of the queue (see replayed), so
	// a message that left the queue since is in the mirror's copy, and
	// withPending leaves out those in both.
	pending := s.outbox.buffered(conv, nil)
	msgs, prompt, last, have := v.snapshot(dst)
	msgs = withPending(pending, last, msgs[n:], msgs)
	if !have && len(msgs) == n {
		s.ctr.degradedMisses.Add(1)
		return dst, nil, false
	}
	// The buffered appends may push the oldest messages out of the
	// window, as they will in the primary's.
	last, drop := newest(msgs[n:]), 0
	for n+drop < len(msgs) && !inWindow(msgs[n+drop].Seq, last, 2*s.cfg.MaxTurns) {
		drop++
	}
	if drop > 0 {
		msgs = append(msgs[:n], msgs[n+drop:]...)
	}
	hide(msgs[n:])
	s.ctr.degradedReads.Add(1)
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.LogAttrs(ctx, slog.LevelDebug, "resilient: degraded read from the mirror",
			slog.String("op", op), slog.Int("messages", len(msgs)-n))
	}
	return msgs, prompt, true
}

// SetSystemPrompt implements chatring.Store. It is never buffered: while
// the primary is unavailable it fails with chatring.ErrUnavailable, as it
// does when the conversation's buffered appends cannot be replayed first
// within MaxElapsed (waiting for another goroutine's replay included).
func (s *Store) SetSystemPrompt(ctx context.Context, conv, prompt string) error {
	if err := s.enterWrite(ctx, "set_system_prompt", conv); err != nil {
		return err
	}
	defer s.gate.Exit()
	if err := s.settle(ctx, conv, true); err != nil {
		return s.settleErr(ctx, err)
	}
	v, st := s.mirror.view(conv)
	err := s.do(ctx, func(ctx context.Context) error { return s.primary.SetSystemPrompt(ctx, conv, prompt) })
	if err == nil {
		var p *chatring.Message
		if prompt != "" {
			p = &chatring.Message{Role: chatring.System, Content: prompt,
				Time: time.Now().Round(0), Tokens: s.tok.Count(prompt)}
		}
		s.mirror.prompted(v, st, p)
	}
	return err
}

// Clear implements chatring.Store; like SetSystemPrompt it is never
// buffered.
func (s *Store) Clear(ctx context.Context, conv string) error {
	return s.erase(ctx, "clear", conv, false)
}

// Delete implements chatring.Store; like SetSystemPrompt it is never
// buffered.
func (s *Store) Delete(ctx context.Context, conv string) error {
	return s.erase(ctx, "delete", conv, true)
}

// erase is Clear (deleted false) and Delete.
func (s *Store) erase(ctx context.Context, op, conv string, deleted bool) error {
	if err := s.enterWrite(ctx, op, conv); err != nil {
		return err
	}
	defer s.gate.Exit()
	if err := s.settle(ctx, conv, true); err != nil {
		return s.settleErr(ctx, err)
	}
	v := s.mirror.lookup(conv)
	var through uint64 // with a ClearReporter, the newest Seq the Clear removed
	err := s.do(ctx, func(ctx context.Context) error {
		if deleted {
			return s.primary.Delete(ctx, conv)
		}
		if cr, ok := s.primary.(ClearReporter); ok {
			var err error
			through, err = cr.ClearThrough(ctx, conv)
			return err
		}
		return s.primary.Clear(ctx, conv)
	})
	if err == nil {
		s.mirror.cleared(v, deleted, through)
	}
	return err
}

// settleErr is the error of a write that could not replay its
// conversation's buffered appends first.
func (s *Store) settleErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("resilient: buffered appends of the conversation could not be replayed first: %w", err)
}

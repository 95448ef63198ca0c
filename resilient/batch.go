package resilient

import (
	"context"
	"log/slog"

	"github.com/chatring/chatring"
)

// BatchAppender is a primary Store that can append several messages to
// one conversation in one call, one round trip: the outbox replays a
// conversation's buffered appends through it, up to 64 at a time, when
// the primary implements it, and one Append at a time otherwise. The
// Redis store (github.com/chatring/chatring/redisstore) implements it
// with one MULTI/EXEC transaction, which costs Redis one fsync of its
// append-only file however many messages it holds; replayed one by one,
// a conversation's backlog costs one round trip and one fsync each.
//
// AppendBatch must append ms to conv in order, as that many Appends one
// after another would, each idempotent by its Message.ID as Append is,
// and return what Append would return for each of the messages it
// stored: a prefix of ms, with its error for the first message it did not
// acknowledge. So:
//
//   - err == nil exactly when len(out) == len(ms), and out[i] is ms[i] as
//     stored (with its Seq), or the message stored before with ms[i]'s ID;
//   - with err != nil, ms[len(out)] was not acknowledged: err is what
//     Append would have returned for it (a validation error: rejected,
//     not stored; chatring.ErrUnavailable: maybe stored, sending it again
//     with its ID stores it once; ErrClosed; the ctx's error);
//   - a message after ms[len(out)] may have been stored only if every
//     message before it was (the order holds on the primary); the
//     caller sends them again, with their IDs.
//
// The breaker and the RetryPolicy treat one AppendBatch as one attempt:
// a retry sends the messages not acknowledged yet.
type BatchAppender interface {
	AppendBatch(ctx context.Context, conv string, ms []chatring.Message) ([]chatring.Message, error)
}

// ClearReporter is a primary Store whose Clear can say how far it
// cleared: ClearThrough is Clear, returning the Seq of the newest message
// the conversation was ever given (0 when none), every message up to it
// cleared. The Redis store implements it.
//
// With it, this Store's mirror knows exactly which acknowledgments a
// Clear made stale. An Append whose reply was lost before a Clear, and
// that the caller sends again after it with the same ID, comes back from
// a primary that recognises IDs beyond its window (the Redis store) at
// its old Seq, which the Clear removed; without ClearReporter the mirror
// only knows the newest Seq it saw itself, and such a message can come
// back in degraded reads (see Degradation).
type ClearReporter interface {
	ClearThrough(ctx context.Context, conv string) (uint64, error)
}

// replayBatch is the most buffered appends a replay sends in one
// AppendBatch: enough that a backlog pays one round trip and one fsync
// per 64 messages, few enough that a batch holds up a Redis server only
// for about a millisecond.
const replayBatch = 64

// replayBatch sends msgs, the head of conv's queue q, through the
// primary's AppendBatch, with the retries and the breaker of any call,
// and removes from q each message the primary acknowledged. It returns
// how many it acknowledged and the error of the first it did not; the
// caller holds q.replay.
func (s *Store) replayBatch(ctx context.Context, conv string, q *queue, ba BatchAppender, msgs []chatring.Message) (int, error) {
	v, st := s.mirror.view(conv)
	done := 0
	err := s.do(ctx, func(ctx context.Context) error {
		got, err := ba.AppendBatch(ctx, conv, msgs[done:])
		got = got[:min(len(got), len(msgs)-done)]
		for i := range got {
			s.replayed(ctx, conv, q, v, st, msgs[done+i], got[i])
		}
		done += len(got)
		return err
	})
	return done, err
}

// replayed records that the primary stored m, the head of conv's queue
// q, as got: it enters the mirror and leaves the queue.
func (s *Store) replayed(ctx context.Context, conv string, q *queue, v *view, st stamp, m, got chatring.Message) {
	// The mirror first: a degraded read that no longer finds m in the
	// queue finds it there (see Store.degraded).
	s.mirror.appended(v, st, got)
	s.outbox.pop(conv, q)
	s.ctr.replayed.Add(1)
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.LogAttrs(ctx, slog.LevelDebug, "resilient: buffered append replayed",
			slog.Uint64("provisional_seq", m.Seq), slog.Uint64("seq", got.Seq))
	}
}

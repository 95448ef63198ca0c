package redisstore

import (
	"context"
	"fmt"

	"github.com/chatring/chatring"
	"github.com/redis/go-redis/v9"
)

// AppendBatch appends ms to conversation conv in order, as that many
// Appends one after another would, in one round trip: one MULTI/EXEC
// transaction holding one EVALSHA of append.lua per message. Each
// message is checked, given its Time and Tokens, and made idempotent by
// its Message.ID (or a generated key) exactly as Append does, and the
// returned messages are what Append would return for them: out[i] is
// ms[i] as stored, with its Seq, or the message already stored under its
// ID. A batch costs Redis one fsync of its append-only file however many
// messages it holds (appendfsync always fsyncs once per event-loop
// iteration, before replying), where Appends cost one each: that is what
// it is for, replaying a backlog (the resilient wrapper's outbox uses it
// through resilient.BatchAppender).
//
// The transaction runs on the server without any other client's command
// between its messages, so a batch holds up the other clients of that
// server (of that cluster node) while it runs: keep batches small, tens
// of messages. All keys of a conversation share a hash tag, so a batch
// goes to one node of a cluster.
//
// The result is the prefix of ms that was stored, and the error of the
// first message that was not; err is nil exactly when len(out) ==
// len(ms). In detail:
//
//   - ctx done, conv invalid or the store closed: nothing is sent, and
//     the error is Append's.
//   - ms[k] invalid (chatring.ValidateMessage): ms[:k] are sent (none
//     when k is 0), and if they are stored out holds them and the error
//     is the validation error of ms[k]; ms[k:] are not sent.
//   - the transaction failed as a whole — the network, a timeout, the
//     client's pool, a command Redis refused to queue (LOADING, BUSY and
//     the like abort the transaction), or an error every script of it
//     gets alike before writing (READONLY on a replica, OOM): out is
//     empty and the error is classified as Append's is (ErrUnavailable
//     for the transient ones). After a
//     network error the server may have run the whole transaction or
//     none of it, never a part: sending the batch again with the same
//     IDs stores each message once. (Messages without an ID get a new
//     key on every call, so a batch of them sent again after an
//     ambiguous failure may store them twice, as Append would.)
//   - ms[i]'s script failed (a conversation in another format,
//     ErrFormat; a key of the wrong type): out is ms[:i] as stored and
//     the error is ms[i]'s. These failures depend on the conversation's
//     keys only, so every later message of the batch fails the same way.
//
// When Redis lost its scripts (a restart, SCRIPT FLUSH), every EVALSHA
// of the transaction fails with NOSCRIPT and nothing runs; AppendBatch
// then loads the script (SCRIPT LOAD, on every master of a cluster) and
// sends the transaction once more. An empty ms returns nil, nil without a
// round trip. The Observer is told of a batch that reached Redis once, as
// op "append_batch", with the error of its first message not stored (a
// batch cut short by an invalid message, with what was sent stored, is a
// success for Redis).
func (s *Store) AppendBatch(ctx context.Context, conv string, ms []chatring.Message) ([]chatring.Message, error) {
	const op = "append_batch"
	if err := s.enter(ctx, op, conv); err != nil {
		return nil, err
	}
	defer s.gate.Exit()
	out := make([]chatring.Message, 0, len(ms))
	args := make([][]any, 0, len(ms))
	var invalid error // of ms[len(out)], which is not sent
	for _, m := range ms {
		if err := chatring.ValidateMessage(m, s.cfg); err != nil {
			invalid = s.ctr.reject(s.rejected(ctx, op, err))
			break
		}
		m, a, err := s.appendArgs(m)
		if err != nil {
			invalid = err
			break
		}
		out = append(out, m)
		args = append(args, a)
	}
	if len(args) == 0 {
		return nil, invalid
	}
	n, err := s.runBatch(ctx, conv, out, args)
	if err != nil {
		return out[:n], err
	}
	return out, invalid
}

// runBatch runs append.lua with each of args in one transaction on
// conv's keys and decodes the replies into ms (as appendArgs prepared
// them). It returns how many messages were stored, a prefix of ms, and
// the error of the first that was not.
func (s *Store) runBatch(ctx context.Context, conv string, ms []chatring.Message, args [][]any) (_ int, err error) {
	const op = "append_batch"
	defer s.observe(op, s.begin(), &err)
	keys := s.keys(conv)
	exec := func() ([]redis.Cmder, error) {
		return s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, a := range args {
				appendScript.EvalSha(ctx, p, keys, a...)
			}
			return nil
		})
	}
	cmds, err := exec()
	if err != nil && len(cmds) > 0 && redis.HasErrorPrefix(cmds[0].Err(), "NOSCRIPT") {
		// Inside EXEC no command can load the script, so every one
		// failed like the first and nothing ran: load it and resend.
		if err := appendScript.Load(ctx, s.client).Err(); err != nil {
			return 0, s.failed(ctx, op, err)
		}
		cmds, err = exec()
	}
	if len(cmds) != len(ms) {
		if err == nil {
			err = fmt.Errorf("%d replies to %d commands", len(cmds), len(ms))
		}
		return 0, s.failed(ctx, op, err)
	}
	// A failure of the whole transaction (the network, EXECABORT) is
	// every command's error, so the first; cause finds what aborted it.
	for i, c := range cmds {
		if err := c.Err(); err != nil {
			return i, s.failed(ctx, op, cause(err, cmds))
		}
		res := c.(*redis.Cmd).Val()
		if ms[i], err = s.appendReply(ms[i], res); err != nil {
			return i, fmt.Errorf("redisstore: %s: message %d of %d: %w", op, i+1, len(ms), err)
		}
	}
	return len(ms), nil
}

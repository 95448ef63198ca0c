package redisstore

import (
	"sync/atomic"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/internal/rejection"
)

// Stats counts what one Store did in this process since New: the
// messages it stored in Redis, the appends Redis deduplicated, the calls
// it rejected. It is not the state of the conversations, which is in
// Redis, shared by every replica, and which no replica counts: each
// replica's Stats counts its own calls, and a service's totals are the
// sum over its replicas (Prometheus's sum by (job)). It marshals to JSON
// with the snake_case keys shown.
//
// The fields have the meaning, and the reason keys, of chatring.Stats's
// and chatring.StoreStats's fields of the same names, so that a
// collector exports either store under the same metrics
// (promexport/promredis does). Each counter is exact at the instant it
// is read; they are read one after another, so under concurrent calls
// they may disagree by the calls in flight. Every counter is monotonic.
type Stats struct {
	// Appended counts the messages Redis stored for Append and
	// AppendBatch: those whose script reported a new Seq. ByRole splits
	// it by role; it always has the four roles as keys.
	Appended uint64                   `json:"appended"`
	ByRole   map[chatring.Role]uint64 `json:"by_role"`
	// Deduplicated counts the appends that stored nothing because Redis
	// had stored a message with their idempotency key (in the window or
	// pushed out of it since: see WithIdempotencyHorizon). That includes an append
	// sent again after its reply was lost (by go-redis's own retries, or
	// by a caller such as the resilient wrapper retrying with the same
	// Message.ID): Redis stored it on the first send, whose reply this
	// process never saw, so it is counted here and not in Appended.
	Deduplicated uint64 `json:"deduplicated"`
	// Rejected counts the writes (Append, AppendBatch's messages,
	// SetSystemPrompt, Clear, Delete) refused before anything was sent
	// to Redis: a ctx already done, an invalid conversation ID, a write
	// after Close, an invalid message or prompt. RejectedByReason splits
	// it by chatring.RejectionReason; only reasons that occurred are
	// present. A call that reached Redis and failed is not a rejection:
	// an Observer (WithObserver) is told of it, with its ErrorKind.
	Rejected         uint64            `json:"rejected"`
	RejectedByReason map[string]uint64 `json:"rejected_by_reason"`
	// AppendedBytes and AppendedTokens total the bytes (content, name
	// and tool fields, chatring.Message.Size) and the tokens
	// (Message.Tokens, counted by the store's Tokenizer) of the messages
	// counted in Appended.
	AppendedBytes  uint64 `json:"appended_bytes"`
	AppendedTokens uint64 `json:"appended_tokens"`
	// Capacity is the window size in messages, 2 × MaxTurns.
	Capacity int `json:"capacity"`
	// Closed reports whether Close has been called.
	Closed bool `json:"closed"`
}

// roles are the keys of Stats.ByRole, in the order of counters.byRole.
var roles = [...]chatring.Role{chatring.System, chatring.User, chatring.Assistant, chatring.Tool}

// counters are the Store's Stats counters: one atomic add per event,
// nothing else, a negligible cost beside the Redis round trip of the
// call that counts it.
type counters struct {
	byRole       [len(roles)]atomic.Uint64
	deduplicated atomic.Uint64
	bytes        atomic.Uint64
	tokens       atomic.Uint64
	// rejected counts the writes refused before anything was sent to
	// Redis, by chatring.RejectionReason.
	rejected rejection.Counter
}

// stored counts the outcome of an append that Redis answered: m, the
// message as stored, was appended when fresh is set, else deduplicated.
func (c *counters) stored(m *chatring.Message, fresh bool) {
	if !fresh {
		c.deduplicated.Add(1)
		return
	}
	for i, r := range roles {
		if r == m.Role {
			c.byRole[i].Add(1)
			break
		}
	}
	c.bytes.Add(uint64(m.Size()))
	c.tokens.Add(uint64(max(m.Tokens, 0)))
}

// reject counts err, the error of a write refused before anything was
// sent to Redis, and returns it.
func (c *counters) reject(err error) error { return c.rejected.Add(err) }

// Stats returns the counts of what this Store did in this process (see
// Stats). It takes no lock and sends nothing to Redis; it allocates two
// small maps.
func (s *Store) Stats() Stats {
	c := &s.ctr
	st := Stats{
		ByRole:         make(map[chatring.Role]uint64, len(roles)),
		Deduplicated:   c.deduplicated.Load(),
		AppendedBytes:  c.bytes.Load(),
		AppendedTokens: c.tokens.Load(),
		Capacity:       int(s.windowLen),
		Closed:         s.gate.Closed(),
	}
	for i, r := range roles {
		n := c.byRole[i].Load()
		st.ByRole[r] = n
		st.Appended += n
	}
	st.RejectedByReason, st.Rejected = c.rejected.ByReason()
	return st
}

package resilient

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/chatring/chatring"
)

// outbox holds the appends accepted while the primary was unavailable,
// in order per conversation, until they are replayed to the primary.
//
// Order: a conversation's queue is replayed head first, one message (or
// one batch, see BatchAppender) at a time, by whoever holds the queue's
// replay lock (the flusher, Close, or a call on that conversation, which
// replays the queue before its own call, within its budget, so as to land
// after it; an Append whose budget ends first is pushed behind the
// queue). A message leaves the queue only once the
// primary has stored it (or rejected it as invalid), so a replay whose
// reply is lost is replayed again with the same ID and stored once.
type outbox struct {
	max int

	// n is the number of buffered messages: written under mu, read
	// without it on the write path's fast check.
	n atomic.Int64

	mu     sync.Mutex        // guards the fields below and every queue's msgs
	queues map[string]*queue // conversations with buffered messages
	high   int               // the most messages held at once
	sealed bool              // Close counted what is left: push takes no more
}

// queue is one conversation's buffered messages.
type queue struct {
	// replay is held (a token in it) while replaying, see outbox: a
	// channel, so that a call can stop waiting for it when its budget
	// ends (see Store.settle).
	replay chan struct{}
	// msgs are oldest first, each with an ID, and ids holds their IDs;
	// both are guarded by outbox.mu.
	msgs []chatring.Message
	ids  map[string]struct{}
}

func newOutbox(max int) *outbox {
	return &outbox{max: max, queues: make(map[string]*queue)}
}

// empty reports whether nothing is buffered; it needs no lock.
func (o *outbox) empty() bool { return o == nil || o.n.Load() == 0 }

// queue returns conv's queue, or nil when conv has nothing buffered.
func (o *outbox) queue(conv string) *queue {
	if o.empty() {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.queues[conv]
}

// push buffers m (which has an ID) behind conv's queue. If a message with
// m's ID is already buffered for conv, it returns that one and dup. base
// is the Seq of the newest stored message the mirror knows of, from which
// the provisional Seq is counted. It returns errFull when the outbox is
// full, and errSealed once Close has counted what it could not flush.
func (o *outbox) push(conv string, m chatring.Message, base uint64) (_ chatring.Message, dup bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.queues[conv]
	if q != nil {
		if _, ok := q.ids[m.ID]; ok {
			i := slices.IndexFunc(q.msgs, func(b chatring.Message) bool { return b.ID == m.ID })
			return q.msgs[i], true, nil
		}
	}
	switch {
	case o.sealed:
		return chatring.Message{}, false, errSealed
	case int(o.n.Load()) >= o.max:
		return chatring.Message{}, false, errFull
	}
	if q == nil {
		q = &queue{ids: make(map[string]struct{}), replay: make(chan struct{}, 1)}
		o.queues[conv] = q
	}
	m.Seq = base + uint64(len(q.msgs)) + 1
	q.msgs = append(q.msgs, m)
	q.ids[m.ID] = struct{}{}
	o.high = max(o.high, int(o.n.Add(1)))
	return m, false, nil
}

// tryLock takes q's replay lock if it is free, and reports whether it did.
func (q *queue) tryLock() bool {
	select {
	case q.replay <- struct{}{}:
		return true
	default:
		return false
	}
}

// lock takes q's replay lock, waiting until it is free or ctx is done;
// it reports whether it took it.
func (q *queue) lock(ctx context.Context) bool {
	select {
	case q.replay <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// unlock releases q's replay lock.
func (q *queue) unlock() { <-q.replay }

// seal makes push refuse new messages from now on, and returns the
// buffered messages and their conversations: what Close reports as not
// flushed, which no append can add to any more.
func (o *outbox) seal() (messages, conversations int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sealed = true
	return int(o.n.Load()), len(o.queues)
}

// head returns the oldest message of q, if any.
func (o *outbox) head(q *queue) (chatring.Message, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(q.msgs) == 0 {
		return chatring.Message{}, false
	}
	return q.msgs[0], true
}

// heads appends the oldest n messages of q (fewer if it holds fewer) to
// dst.
func (o *outbox) heads(q *queue, n int, dst []chatring.Message) []chatring.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append(dst, q.msgs[:min(n, len(q.msgs))]...)
}

// pop removes the head of conv's queue q, and q itself once empty. The
// caller holds q.replay.
func (o *outbox) pop(conv string, q *queue) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(q.ids, q.msgs[0].ID)
	q.msgs[0] = chatring.Message{}
	q.msgs = q.msgs[1:]
	o.n.Add(-1)
	if len(q.msgs) == 0 && o.queues[conv] == q {
		delete(o.queues, conv)
	}
}

// buffered appends conv's buffered messages, oldest first, to dst.
func (o *outbox) buffered(conv string, dst []chatring.Message) []chatring.Message {
	if o.empty() {
		return dst
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if q := o.queues[conv]; q != nil {
		dst = append(dst, q.msgs...)
	}
	return dst
}

// withPending appends pending, a conversation's buffered messages, to
// dst, with provisional Seq values that follow base, leaving out those
// whose ID is in known (the mirror's messages): a buffered append that
// the primary stored (replayed, or by an attempt whose reply was lost, a
// read of the primary then seeing it) may be in both until it leaves the
// queue.
func withPending(pending []chatring.Message, base uint64, known, dst []chatring.Message) []chatring.Message {
	var ids map[string]struct{}
	if len(pending) > 0 && len(known) > 0 {
		ids = make(map[string]struct{}, len(known))
		for i := range known {
			ids[known[i].ID] = struct{}{}
		}
	}
	for _, m := range pending {
		if _, ok := ids[m.ID]; ok {
			continue
		}
		base++
		m.Seq = base
		dst = append(dst, m)
	}
	return dst
}

// conversations returns the conversations with buffered messages.
func (o *outbox) conversations() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	convs := make([]string, 0, len(o.queues))
	for c := range o.queues {
		convs = append(convs, c)
	}
	return convs
}

// counts returns the buffered messages, their conversations and the
// high-water mark.
func (o *outbox) counts() (messages, conversations, high int) {
	if o == nil {
		return 0, 0, 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return int(o.n.Load()), len(o.queues), o.high
}

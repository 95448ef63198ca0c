package resilient

import (
	"fmt"
	"sync"
	"time"

	"github.com/chatring/chatring"
	"github.com/maypok86/otter/v2"
)

// mirror keeps, per conversation, the newest messages this process saw
// the primary return or store — a copy of the window as of the last call
// of this process that read or wrote it — so that reads can be answered
// while the primary is unavailable.
//
// It is bounded by an otter cache (W-TinyLFU eviction, expiry after the
// Config's IdleTTL without access), as MemoryStore is; each view holds at
// most capacity messages.
//
// The views are updated in the order the calls that produced them
// return, which may differ from the order in which the primary applied
// them; see stamp for how a view avoids going back in time. A view is
// always a contiguous run of Seq values. It knows nothing of what other
// processes did since this one last called the primary.
type mirror struct {
	cache    *otter.Cache[string, *view]
	clock    *otter.CoarseClock // the idle TTL's clock; see newMirror
	capacity int                // 2 × MaxTurns
}

// view is one conversation's part of the mirror.
type view struct {
	mu sync.Mutex // guards every field below
	// win is the newest known messages, oldest first, contiguous in Seq,
	// at most capacity of them; haveWin says whether anything is known
	// about them yet (an empty win with haveWin is an empty window).
	win     []chatring.Message
	haveWin bool
	// buf, once a full window was appended to, is win's backing array
	// of 2 × capacity messages: trim drops the oldest messages by
	// reslicing win forward in it, and push moves win back to its start
	// when it reaches the end (see push).
	buf []chatring.Message
	// last is the Seq of the newest message the view knows of, kept
	// after Clear (sequence numbers continue) and reset by Delete.
	last uint64
	// prompt is the pinned prompt as last seen (nil: none or unknown).
	prompt *chatring.Message
	// at says which local calls the view has seen; see stamp.
	at stamp
}

// stamp orders a call against the writes recorded in a view while it
// ran. gen counts the Clears and Deletes made through this process: the
// answer of a call that started before one of them is dropped. writes
// counts every write recorded: a read that started before one of them
// may be older than the view, so it may extend the view but never take
// it back to an older window. Together they make a process read its own
// acknowledged writes in degraded reads.
type stamp struct{ gen, writes uint64 }

// newMirror returns a mirror of at most conversations views of
// capacity messages each, a view expiring idleTTL after its last use.
//
// The idle TTL is measured with an otter.CoarseClock of a hundredth of
// the TTL (between a millisecond and a second), as MemoryStore does:
// every call looks its view up, and a precise clock read there costs
// more than the rest of the lookup on some machines. A view may then
// expire up to that resolution late (or, while the clock's goroutine
// waits for a CPU, somewhat more).
func newMirror(conversations, capacity int, idleTTL time.Duration) (*mirror, error) {
	clock := otter.NewCoarseClock(min(max(idleTTL/100, time.Millisecond), time.Second))
	c, err := otter.New(&otter.Options[string, *view]{
		MaximumSize:      conversations,
		ExpiryCalculator: otter.ExpiryAccessing[string, *view](idleTTL),
		Clock:            clock,
		// Maintenance (draining the read buffer, expiry, eviction) runs
		// on the calling goroutine, not on a goroutine started for it:
		// the mirror has no deletion handler, so it is short, and
		// between a network store's round trips starting a goroutine
		// wakes an idle thread, which costs more than the work.
		Executor: func(f func()) { f() },
	})
	if err != nil {
		clock.Stop()
		return nil, fmt.Errorf("resilient: mirror: %w", err)
	}
	return &mirror{cache: c, clock: clock, capacity: capacity}, nil
}

// view returns conv's view, creating it, and its stamp for a call that
// starts now; a nil mirror returns nil.
func (m *mirror) view(conv string) (*view, stamp) {
	if m == nil {
		return nil, stamp{}
	}
	v, ok := m.cache.GetIfPresent(conv)
	if !ok {
		v, _ = m.cache.ComputeIfAbsent(conv, func() (*view, bool) { return new(view), false })
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v, v.at
}

// lookup returns conv's view if the mirror has one.
func (m *mirror) lookup(conv string) *view {
	if m == nil {
		return nil
	}
	v, _ := m.cache.GetIfPresent(conv)
	return v
}

// close stops the cache's and the clock's goroutines.
func (m *mirror) close() {
	if m != nil {
		m.cache.StopAllGoroutines()
		m.clock.Stop()
	}
}

// update runs f under v's lock and reports whether it ran: not when v
// is nil or a Clear or Delete was recorded since the call stamped st
// began, nor when older is set and, a write having been recorded since,
// newest (the Seq of the newest message the call returned) is older
// than the view.
func (v *view) update(st stamp, older bool, newest uint64, f func()) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.at.gen != st.gen || older && v.at.writes != st.writes && newest < v.last {
		return
	}
	f()
}

// trim keeps the newest capacity messages of v.win. It copies nothing:
// it reslices v.win past the older ones, which it zeroes so that their
// contents can be collected.
func (v *view) trim(capacity int) {
	if n := len(v.win) - capacity; n > 0 {
		clear(v.win[:n])
		v.win = v.win[n:]
	}
}

// push appends msg to v.win, which holds at most capacity messages,
// without a copy of the window per message: once v.win is full and its
// backing array too (trim reslices it forward), push moves it to the
// start of v.buf, an array of 2 × capacity messages, which leaves room
// for at least capacity more before the next move. That is one copy of
// at most capacity messages per capacity appends, and no allocation
// after v.buf's.
func (v *view) push(msg chatring.Message, capacity int) {
	if len(v.win) == cap(v.win) && len(v.win) >= capacity {
		if v.buf == nil {
			v.buf = make([]chatring.Message, 2*max(capacity, 1))
		}
		n := copy(v.buf, v.win) // memmove: v.win may lie in v.buf
		clear(v.buf[n:])
		v.win = v.buf[:n]
	}
	v.win = append(v.win, msg)
	v.trim(capacity)
}

// holds reports whether v.win is msgs already: same length, and the same
// first and last message by Seq, ID and Time. (Between them the Seq
// values are contiguous, and a Seq is never reused for another message
// but after a Delete, which gives a new message a new Time.)
func (v *view) holds(msgs []chatring.Message) bool {
	if !v.haveWin || len(v.win) != len(msgs) {
		return false
	}
	if len(msgs) == 0 {
		return true
	}
	same := func(a, b *chatring.Message) bool { return a.Seq == b.Seq && a.ID == b.ID && a.Time.Equal(b.Time) }
	return same(&v.win[0], &msgs[0]) && same(&v.win[len(msgs)-1], &msgs[len(msgs)-1])
}

// newest returns the Seq of the last of msgs, 0 if none.
func newest(msgs []chatring.Message) uint64 {
	if len(msgs) == 0 {
		return 0
	}
	return msgs[len(msgs)-1].Seq
}

// read records a window that Messages returned.
func (m *mirror) read(v *view, st stamp, msgs []chatring.Message) {
	v.update(st, true, newest(msgs), func() {
		if v.holds(msgs) {
			return // the usual case on a read-heavy conversation: no copy
		}
		clear(v.win)
		v.win = append(v.win[:0], msgs...)
		v.trim(m.capacity)
		v.haveWin = true
		if len(msgs) > 0 {
			v.last = newest(msgs)
		}
	})
}

// cut records what Window returned: the prompt, and the newest messages
// of the window, which extend the view when they continue it.
func (m *mirror) cut(v *view, st stamp, w []chatring.Message) {
	var prompt *chatring.Message
	if len(w) > 0 && w[0].Seq == 0 && w[0].Role == chatring.System {
		p := w[0]
		prompt, w = &p, w[1:]
	}
	v.update(st, true, newest(w), func() {
		if v.at.writes == st.writes { // else a SetSystemPrompt may have come since
			v.prompt = prompt
		}
		if len(w) == 0 {
			return // the messages may have been cut by the budget: nothing learned
		}
		first := w[0].Seq
		if v.haveWin && len(v.win) > 0 && first >= v.win[0].Seq && first <= v.last+1 {
			v.win = append(v.win[:first-v.win[0].Seq], w...)
		} else {
			clear(v.win)
			v.win = append(v.win[:0], w...)
		}
		v.trim(m.capacity)
		v.haveWin = true
		v.last = newest(w)
	})
}

// appended records a message the primary stored (or returned for a
// duplicate ID).
func (m *mirror) appended(v *view, st stamp, msg chatring.Message) {
	v.update(st, false, 0, func() {
		v.at.writes++
		switch {
		case msg.Seq == v.last+1 && (v.haveWin || msg.Seq == 1):
			v.push(msg, m.capacity)
		case msg.Seq > v.last+1,
			msg.Seq == 1 && !(len(v.win) > 0 && v.win[0].Seq == 1 && v.win[0].ID == msg.ID):
			// Messages this process has not seen came between (another
			// replica's), or the conversation started again (deleted or
			// expired meanwhile): start from this message.
			clear(v.win)
			v.win = append(v.win[:0], msg)
		default:
			return // a duplicate ID's message, or a late answer: nothing newer
		}
		v.haveWin = true
		v.last = msg.Seq
	})
}

// prompted records a SetSystemPrompt that succeeded.
func (m *mirror) prompted(v *view, st stamp, p *chatring.Message) {
	v.update(st, false, 0, func() {
		v.at.writes++
		v.prompt = p
	})
}

// cleared records a Clear (deleted false) or a Delete that succeeded.
func (m *mirror) cleared(v *view, deleted bool) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.at.gen++
	v.at.writes++
	clear(v.win)
	v.win = v.win[:0]
	v.haveWin = true
	if deleted {
		v.last = 0
		v.prompt = nil
	}
}

// findID returns the message with id among v's messages.
func (v *view) findID(id string) (chatring.Message, bool) {
	if v == nil {
		return chatring.Message{}, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := len(v.win) - 1; i >= 0; i-- {
		if v.win[i].ID == id {
			return v.win[i], true
		}
	}
	return chatring.Message{}, false
}

// lastSeq returns the Seq of the newest message v knows of.
func (v *view) lastSeq() uint64 {
	if v == nil {
		return 0
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.last
}

// snapshot appends v's messages to dst and returns it with the prompt
// and whether v knows anything about the messages.
func (v *view) snapshot(dst []chatring.Message) ([]chatring.Message, *chatring.Message, uint64, bool) {
	if v == nil {
		return dst, nil, 0, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return append(dst, v.win...), v.prompt, v.last, v.haveWin
}

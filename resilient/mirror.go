package resilient

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/chatring/chatring"
	"github.com/maypok86/otter/v2"
)

// mirror keeps, per conversation, the newest messages this process saw
// the primary return or store, so that reads can be answered while the
// primary is unavailable.
//
// It is bounded by an otter cache (W-TinyLFU eviction, expiry after the
// Config's IdleTTL without access), as MemoryStore is; each view holds at
// most capacity messages.
//
// A view is the messages it knows of, sorted by Seq, with gaps where it
// knows nothing: the messages of other processes, of appends whose reply
// was lost, and of appends still in flight. It keeps the messages whose
// Seq is within capacity of last, the newest Seq it knows of; an older
// one has been pushed out of the primary's window as well, by the newer
// messages. So it holds at most capacity messages.
//
// The calls that update a view return in any order, which may differ
// from the order in which the primary applied them: two Appends, say,
// get Seq 2 and 3 and the reply of 3 comes first. An acknowledged message
// is therefore put at its Seq, wherever that is in the view, not only
// after the newest one; see appended for every case, and stamp for how a
// read that returns late never takes a view back in time.
//
//	appended 3:  | 1 | . | 3 |   last 3 (2 in flight)
//	appended 2:  | 1 | 2 | 3 |   last 3
//	read 2..5:   | 2 | 3 | 4 | 5 |   last 5 (a full window replaces the view)
type mirror struct {
	cache    *otter.Cache[string, *view]
	clock    *otter.CoarseClock // the idle TTL's clock; see newMirror
	capacity int                // 2 × MaxTurns
}

// view is one conversation's part of the mirror.
type view struct {
	mu sync.Mutex // guards every field below
	// win is the known messages, sorted by Seq, each with a Seq within
	// capacity of last (so at most capacity of them); haveWin says
	// whether anything is known about them yet (an empty win with
	// haveWin is an empty window).
	win     []chatring.Message
	haveWin bool
	// buf, once a full window was appended to, is win's backing array
	// of 2 × capacity messages: trim drops the oldest messages by
	// reslicing win forward in it, and room moves win back to its start
	// when it reaches the end (see room).
	buf []chatring.Message
	// last is the Seq of the newest message the view knows of, kept
	// after Clear (sequence numbers continue) and reset by Delete.
	last uint64
	// floor is the newest Seq a Clear of this process removed (last as
	// the Clear left it, or higher when the primary, a ClearReporter,
	// said so): the primary removed every message up to it, so an
	// acknowledgment at or below it (a late retry that the primary
	// recognised by its ID) is not put back. Reset by Delete, and by a
	// read that finds the conversation started again below it.
	floor uint64
	// prompt is the pinned prompt as last seen (nil: none or unknown).
	prompt *chatring.Message
	// at says which local calls the view has seen; see stamp.
	at stamp
}

// stamp orders a call against what a view recorded while it ran. gen
// counts the Clears and Deletes made through this process: the answer of
// a call that started before one of them is dropped. writes counts every
// write recorded: a read that started before one of them may be older
// than the view, so it may add to the view but never take it back to an
// older window.
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

// update runs f under v's lock unless v is nil or a Clear or Delete was
// recorded since the call stamped st began.
func (v *view) update(st stamp, f func()) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.at.gen != st.gen {
		return
	}
	f()
}

// inWindow reports whether a message with Seq seq is within capacity of
// the newest Seq, last or seq itself: not pushed out by newer messages.
func inWindow(seq, last uint64, capacity int) bool {
	return seq+uint64(capacity) > max(last, seq)
}

// trim drops the messages of v.win that are no longer within capacity of
// v.last. It copies nothing: it reslices v.win past them, and zeroes
// them so that their contents can be collected.
func (v *view) trim(capacity int) {
	n := 0
	for n < len(v.win) && !inWindow(v.win[n].Seq, v.last, capacity) {
		n++
	}
	if n > 0 {
		clear(v.win[:n])
		v.win = v.win[n:]
	}
}

// room makes room in v.win's backing array for one more message, without
// a copy of the window per message: once v.win holds capacity messages
// and its backing array is full (trim reslices it forward), it moves
// v.win to the start of v.buf, an array of 2 × capacity messages, which
// leaves room for at least capacity more before the next move. That is
// one copy of at most capacity messages per capacity appends, and no
// allocation after v.buf's. A smaller v.win grows as append grows it.
func (v *view) room(capacity int) {
	if len(v.win) < cap(v.win) || v.buf == nil && len(v.win) < capacity {
		return
	}
	if v.buf == nil {
		v.buf = make([]chatring.Message, 2*max(capacity, 1))
	}
	n := copy(v.buf, v.win) // memmove: v.win may lie in v.buf
	clear(v.buf[n:])
	v.win = v.buf[:n]
}

// put records msg, which is within capacity of the newest Seq, at its
// place by Seq in v.win (after every message when it is the newest, the
// usual case), makes it v.last if it is newer, and trims the messages it
// pushes out. The caller checked that no message of v.win has its Seq.
func (v *view) put(msg chatring.Message, capacity int) {
	v.room(capacity)
	i := len(v.win)
	for i > 0 && v.win[i-1].Seq > msg.Seq {
		i--
	}
	if i == len(v.win) {
		v.win = append(v.win, msg)
	} else {
		v.win = slices.Insert(v.win, i, msg)
	}
	v.last = max(v.last, msg.Seq)
	v.haveWin = true
	v.trim(capacity)
}

// index returns the index of the message with Seq seq in v.win, or -1.
func (v *view) index(seq uint64) int {
	i, ok := slices.BinarySearchFunc(v.win, seq, func(m chatring.Message, seq uint64) int { return cmp.Compare(m.Seq, seq) })
	if !ok {
		return -1
	}
	return i
}

// reset makes msgs, sorted by Seq and within capacity of their newest,
// the whole of v.win, and the newest of them v.last (unchanged when msgs
// is empty: sequence numbers continue after a Clear).
func (v *view) reset(msgs []chatring.Message, capacity int) {
	clear(v.win)
	v.win = append(v.win[:0], msgs...)
	if len(msgs) > 0 {
		v.last = newest(msgs)
		if v.last < v.floor { // started again since the Clear
			v.floor = 0
		}
	}
	v.haveWin = true
	v.trim(capacity)
}

// merge puts each of msgs that is still within the window and unknown to
// v into v.win: what an older read adds to a view that is newer.
func (v *view) merge(msgs []chatring.Message, capacity int) {
	for _, m := range msgs {
		if inWindow(m.Seq, v.last, capacity) && v.index(m.Seq) < 0 {
			v.put(m, capacity)
		}
	}
	v.haveWin = true
}

// holds reports whether v.win is msgs already: same length, and the same
// first and last message by Seq, ID and Time. (msgs are a window the
// primary returned, contiguous in Seq, and v.win is sorted by Seq
// without repeats, so it holds the same Seq values between them; and a
// Seq is never reused for another message but after a Delete, which
// gives a new message a new Time.)
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

// read records a window that Messages returned: the whole window as the
// primary had it at some instant during the call, contiguous in Seq.
//
// It replaces the view when it is at least as new as the view, or when
// no write was recorded since the read began: then every write the view
// holds was applied before the read began, so the read has it or the
// primary no longer does (a newer view came from a concurrent read that
// returned first, or the conversation was deleted or expired and started
// again). A read that is older than a write recorded meanwhile only adds
// the messages the view lacks: the write may not be in it.
func (m *mirror) read(v *view, st stamp, msgs []chatring.Message) {
	v.update(st, func() {
		switch {
		case v.holds(msgs):
			// the usual case on a read-heavy conversation: no copy
		case newest(msgs) >= v.last || v.at.writes == st.writes:
			v.reset(msgs, m.capacity)
		default:
			v.merge(msgs, m.capacity)
		}
	})
}

// cut records what Window returned: the prompt, and the newest messages
// of the window, which may have been cut by the token budget (so they say
// nothing of the messages before the first of them).
func (m *mirror) cut(v *view, st stamp, w []chatring.Message) {
	var prompt *chatring.Message
	if len(w) > 0 && w[0].Seq == 0 && w[0].Role == chatring.System {
		p := w[0]
		prompt, w = &p, w[1:]
	}
	v.update(st, func() {
		if v.at.writes == st.writes { // else a SetSystemPrompt may have come since
			v.prompt = prompt
		}
		switch {
		case len(w) == 0:
			return // the messages may have been cut by the budget: nothing learned
		case newest(w) >= v.last || v.at.writes == st.writes:
			// As read, but only from the first message of w on.
			first := w[0].Seq
			i := len(v.win)
			for i > 0 && v.win[i-1].Seq >= first {
				i--
			}
			clear(v.win[i:])
			v.win = append(v.win[:i], w...)
			v.last = newest(w)
			v.haveWin = true
			v.trim(m.capacity)
		default:
			v.merge(w, m.capacity)
		}
	})
}

// appended records a message the primary stored, or returned for a
// duplicate ID, for a call stamped st.
//
//   - A message the view holds already (same Seq and ID: a duplicate
//     ID, a replay that found its message stored) changes nothing.
//   - Otherwise msg goes at its Seq if that is within the window of the
//     newest Seq known, even if newer messages were recorded first (their
//     replies came first).
//   - A different message at a Seq the view holds means that the
//     conversation was deleted or expired and started again without a
//     Delete of this process: the view starts again from msg.
//   - A Seq at or below the view's floor was cleared by a Clear of this
//     process: a retry the primary recognised after the Clear is left out.
//   - An older Seq is a late reply, pushed out of the primary's window
//     by newer messages too, or a duplicate that the primary recognised
//     after its message left the window (the Store contract allows it:
//     the Redis store keeps IDs longer than the window): it is left out.
//     (So is a message of a conversation restarted behind this process's
//     back whose Seq is that much older than the view's: a Seq alone
//     cannot tell it from those.)
func (m *mirror) appended(v *view, st stamp, msg chatring.Message) {
	v.update(st, func() {
		v.at.writes++
		if msg.Seq <= v.floor {
			return // cleared by this process since, recognised by a late retry
		}
		if msg.Seq > v.last { // the usual case: the newest, at the end
			v.put(msg, m.capacity)
			return
		}
		switch i := v.index(msg.Seq); {
		case i >= 0 && v.win[i].ID == msg.ID:
		case i >= 0:
			v.reset([]chatring.Message{msg}, m.capacity)
		case inWindow(msg.Seq, v.last, m.capacity):
			v.put(msg, m.capacity)
		}
	})
}

// prompted records a SetSystemPrompt that succeeded.
func (m *mirror) prompted(v *view, st stamp, p *chatring.Message) {
	v.update(st, func() {
		v.at.writes++
		v.prompt = p
	})
}

// cleared records a Clear (deleted false) or a Delete that succeeded;
// through is the newest Seq the Clear removed, when the primary said
// (0 otherwise).
func (m *mirror) cleared(v *view, deleted bool, through uint64) {
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
	if !deleted {
		v.last = max(v.last, through)
	}
	v.floor = v.last
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

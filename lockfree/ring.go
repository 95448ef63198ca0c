package lockfree

import (
	"runtime"
	"sync/atomic"

	"github.com/chatring/chatring/internal/hint"
	"github.com/chatring/chatring/ringbuf"
)

// The algorithm.
//
// Every value lives in an entry {seq, v}. An entry is never written while
// any goroutine can read it: it is filled in privately, then published, and
// only rewritten once nobody can hold a reference to it any more (see
// "Reclamation" below). The newest entry is published through one atomic
// pointer, tail; a push is a CompareAndSwap of tail from the entry it read
// (seq s) to its own entry (seq s+1). A failed CAS means another push
// succeeded, so pushes as a whole always make progress: lock-free. The
// successful CAS is the push's linearization point, which is why sequence
// numbers are dense and totally ordered.
//
// The window lives in slots, one atomic pointer per position; the entry with
// sequence s belongs in slots[(s-1) % cap]. Installing an entry in its slot
// is a separate step from publishing it in tail, and anyone may do it: every
// goroutine that reads tail installs the entry it read before acting on it
// ("helping", as the lagging tail of the Michael–Scott queue is helped along).
// An install is a CAS that only ever replaces an older entry, so a slot's
// sequence number never goes backwards.
//
// Invariant: while tail holds seq s, every entry with seq < s is installed
// (its slot holds it or a newer entry). A push moves tail from s to s+1 only
// after installing s itself, and slots only move forward.
//
// Snapshot loads tail (seq s) - its linearization point - installs it, and
// copies slots for s-n+1 ... s (n = min(s, cap)). By the invariant each slot
// holds an entry with at least the wanted sequence; if it holds exactly that
// one, its value is the value pushed with that sequence. If some slot holds
// a newer entry, the writers have lapped the reader: it discards what it
// copied and starts again from the new tail. Slots are never torn: a reader
// only ever sees a whole entry, through an atomic pointer.
//
// A trace at cap 4 (slot contents as sequence numbers, t = tail):
//
//	| 5 | 6 | 3 | 4 |  t: 6   snapshot wants 3,4,5,6: all match
//	| 5 | 6 | 7 | 4 |  t: 7   pushed 7 (slot for 7 installed by its pusher)
//	| 5 | 6 | 7 | 8 |  t: 8   a reader that loaded t=6 and reads the slot for
//	                           3 now finds 7: lapped, it retries from t=8.
//
// Reclamation: entries are recycled, so that Push allocates nothing in the
// steady state (an allocation per push is garbage the collector must chase,
// and its cycles slow every goroutine). The install that replaces an entry
// in its slot unlinks it; the entry is then parked in spares[slot], tagged
// with the epoch it was unlinked in, and a later Push may reuse it. Reuse is
// safe only when no goroutine can still be reading the entry, which is
// decided by epoch-based reclamation (Fraser, "Practical lock-freedom",
// 2004), with reader counts striped over cache lines instead of a
// registration per thread:
//
//   - Every operation that touches entries runs inside a critical section:
//     enter reads the global epoch E, adds one to its stripe's counter for
//     E's parity, and re-reads E (retrying if it moved); exit subtracts one.
//     An operation that entered at epoch e therefore holds E at e or e+1
//     until it exits: E advances from x to x+1 only when the counters of
//     parity x-1 are all zero, and the re-read ensures a reader is counted
//     before it relies on its epoch.
//   - An entry unlinked when E was r could have been loaded only by
//     operations that entered at epoch r or earlier, and those have all
//     exited once E >= r+2. Only then is it reused.
//
// Nothing here waits: a Push whose spare is not yet safe tries to advance E
// once and otherwise allocates a fresh entry (the collector frees the
// spare), so progress is still lock-free, and a reader that stalls inside
// its critical section only delays reuse, never another operation. Entries
// also defeat ABA: a pointer a goroutine loaded cannot come back as a
// different entry while that goroutine is in its critical section.
//
// Happens-before: the CompareAndSwap that publishes an entry in tail (or in
// a slot, or in spares) happens before any Load that observes that pointer,
// so a reader sees the entry's fields as they were written before it. A
// reader's exit (an atomic Add) happens before the epoch advance that
// observes its counter at zero, which happens before the reuser's Load of
// the advanced epoch, so a reader's last read of an entry happens before the
// reuser's first write to it.

// cacheLine is the assumed size of a CPU cache line (x86-64 and most arm64
// parts). The hot tail pointer, the epoch and each stripe of reader counts
// are padded to a whole line so that goroutines hammering one do not
// invalidate the line holding another (false sharing).
const cacheLine = 64

// maxStripes bounds the number of reader-count stripes: beyond it, the
// epoch advance (which reads every stripe) costs more than the contention
// on a shared stripe.
const maxStripes = 64

// reuseUnsafely, set only by this package's tests, makes Push reuse a spare
// without waiting for the epochs that make it safe: the deliberate bug the
// conformance suite must catch.
var reuseUnsafely = false

type entry[T any] struct {
	seq uint64
	v   T
	// unlinked is the epoch in which the entry left its slot; written by
	// the install that unlinked it, read by the Push that reuses it.
	unlinked uint64
}

// stripe holds the reader counts of the goroutines hashed to it, one per
// epoch parity.
type stripe struct {
	active [2]atomic.Int64
	_      [cacheLine - 16]byte
}

// Ring is the lock-free ring: no mutex anywhere, only atomic pointers to
// entries that are never written while readable. Use it when readers are
// many, when goroutines outnumber cores (a preempted goroutine never holds
// anything others wait for), or when tail latency matters more than raw
// single-thread speed.
//
// Progress: Push is lock-free (its CAS fails only because another Push
// succeeded) and Snapshot is lock-free (it retries only when writers lapped
// it, that is, pushed Cap() or more values while it copied). Len is
// lock-free (it retries only when the reclamation epoch advanced) and Cap
// wait-free. No operation ever waits for another goroutine to run.
//
// Memory: at most 2 × Cap() + 1 entries (the window, the tail and one spare
// per slot) plus the reader-count stripes, one cache line per stripe. Push
// reuses the entry of a value evicted at least two reclamation epochs
// earlier and allocates only when none is ready: in the steady state it
// allocates nothing. An evicted value stays reachable, in its spare entry,
// until the entry is reused by a later Push; so at most Cap() evicted
// values are held, as in the sharded ring.
//
// A Ring must be created with New; the zero value is not usable. A Ring is
// safe for concurrent use by multiple goroutines.
type Ring[T any] struct {
	tail atomic.Pointer[entry[T]] // newest entry; seq 0 sentinel when empty
	_    [cacheLine - 8]byte      // keep tail alone on its cache line

	epoch atomic.Uint64 // reclamation epoch; starts at 2
	_     [cacheLine - 8]byte

	slots   []atomic.Pointer[entry[T]] // written only by install
	spares  []atomic.Pointer[entry[T]] // unlinked entries awaiting reuse, one per slot
	stripes []stripe                   // reader counts by epoch parity
}

var _ ringbuf.Buffer[int] = (*Ring[int])(nil)

// New returns an empty lock-free ring that keeps the last capacity values.
// It panics if capacity < 1.
func New[T any](capacity int) *Ring[T] {
	if capacity < 1 {
		panic("lockfree: capacity must be at least 1")
	}
	r := &Ring[T]{
		slots:   make([]atomic.Pointer[entry[T]], capacity),
		spares:  make([]atomic.Pointer[entry[T]], capacity),
		stripes: make([]stripe, min(2*runtime.GOMAXPROCS(0), maxStripes)),
	}
	r.epoch.Store(2)          // so that "unlinked+2 <= epoch" needs no underflow care
	r.tail.Store(&entry[T]{}) // seq 0: nothing pushed; never installed
	return r
}

// enter starts a critical section (see "Reclamation") and returns what
// exit needs.
func (r *Ring[T]) enter() (*atomic.Int64, uint64) {
	st := &r.stripes[hint.Goroutine()%uint64(len(r.stripes))]
	for {
		e := r.epoch.Load()
		c := &st.active[e&1]
		c.Add(1)
		if r.epoch.Load() == e {
			return c, e
		}
		c.Add(-1)
	}
}

// exit ends the critical section that enter started.
func exit(c *atomic.Int64) { c.Add(-1) }

// advance moves the epoch from e to e+1 if no operation that entered at
// e-1 is still running, and returns the epoch as it then is.
func (r *Ring[T]) advance() uint64 {
	e := r.epoch.Load()
	old := (e - 1) & 1
	for i := range r.stripes {
		if r.stripes[i].active[old].Load() != 0 {
			return e
		}
	}
	if r.epoch.CompareAndSwap(e, e+1) {
		return e + 1
	}
	return r.epoch.Load()
}

// newEntry returns an entry for a push about to take slot i: the spare
// parked there if it is safe to reuse, else a new one. The caller is in a
// critical section.
func (r *Ring[T]) newEntry(i uint64) *entry[T] {
	spare := &r.spares[i]
	if spare.Load() != nil {
		if e := spare.Swap(nil); e != nil {
			if e.unlinked+2 <= r.epoch.Load() || e.unlinked+2 <= r.advance() || reuseUnsafely {
				return e
			}
			// Not safe yet. Park it again if nobody parked another;
			// otherwise the collector takes it.
			spare.CompareAndSwap(nil, e)
		}
	}
	return new(entry[T])
}

// install makes sure e's slot holds e or a newer entry, and parks the entry
// it unlinks. The caller is in a critical section.
func (r *Ring[T]) install(e *entry[T]) {
	if e.seq == 0 {
		return
	}
	i := (e.seq - 1) % uint64(len(r.slots))
	slot := &r.slots[i]
	for {
		cur := slot.Load()
		if cur != nil && cur.seq >= e.seq {
			return
		}
		if slot.CompareAndSwap(cur, e) {
			if cur != nil {
				// This CAS unlinked cur, so only this goroutine writes
				// cur.unlinked; readers still in their critical sections
				// read only seq and v.
				cur.unlinked = r.epoch.Load()
				spare := &r.spares[i]
				if spare.Load() == nil {
					spare.CompareAndSwap(nil, cur)
				}
			}
			return
		}
	}
}

// Push stores v, evicting the oldest value when the ring is full, and
// returns v's sequence number.
func (r *Ring[T]) Push(v T) uint64 {
	c, _ := r.enter()
	defer exit(c)
	t := r.tail.Load()
	e := r.newEntry(t.seq % uint64(len(r.slots))) // the slot t.seq+1 goes to
	e.v = v
	for {
		r.install(t) // keep the invariant: t is installed before tail passes it
		e.seq = t.seq + 1
		if r.tail.CompareAndSwap(t, e) {
			r.install(e)
			return e.seq
		}
		t = r.tail.Load()
	}
}

// Snapshot appends the window, oldest first, to dst and returns it with the
// sequence number of the newest value (0 when empty).
func (r *Ring[T]) Snapshot(dst []T) ([]T, uint64) {
	c, _ := r.enter()
	defer exit(c)
	base := len(dst)
	n := uint64(len(r.slots))
	for {
		t := r.tail.Load()
		r.install(t)
		last := t.seq
		size := min(last, n)
		dst = grow(dst[:base], int(size))
		out := dst[base:]
		first := last - size + 1
		i := (first - 1) % n // slot of first; walk forward with wrap
		k := 0
		for ; k < len(out); k++ {
			e := r.slots[i].Load()
			if e.seq != first+uint64(k) {
				break // lapped: the slot already holds a newer value
			}
			out[k] = e.v
			if i++; i == n {
				i = 0
			}
		}
		if k == len(out) {
			return dst, last
		}
	}
}

// grow extends dst by n elements, reallocating only when it lacks room.
func grow[T any](dst []T, n int) []T {
	if cap(dst)-len(dst) >= n {
		return dst[:len(dst)+n]
	}
	out := make([]T, len(dst)+n)
	copy(out, dst)
	return out
}

// Len reports the number of values in the window, min(pushed, Cap()).
func (r *Ring[T]) Len() int {
	c, _ := r.enter()
	seq := r.tail.Load().seq
	exit(c)
	return int(min(seq, uint64(len(r.slots))))
}

// Cap reports the ring's capacity.
func (r *Ring[T]) Cap() int { return len(r.slots) }

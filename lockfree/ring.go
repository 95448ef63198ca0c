package lockfree

import (
	"slices"
	"sync/atomic"

	"github.com/chatring/chatring/ringbuf"
)

// The algorithm.
//
// Every push allocates one immutable entry {seq, v}. The newest entry is
// published through one atomic pointer, tail; a push is a CompareAndSwap of
// tail from the entry it read (seq s) to its own entry (seq s+1). A failed CAS
// means another push succeeded, so pushes as a whole always make progress:
// lock-free. The successful CAS is the push's linearization point, which is
// why sequence numbers are dense and totally ordered.
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
// one, its value is the value pushed with that sequence (entries are never
// written after they are published). If some slot holds a newer entry, a
// push overwrote that slot before the reader copied it: the reader discards
// what it copied and starts again from the new tail. It takes no lap of
// the ring to force that: the k-th value wanted (k = 0 for the oldest,
// sequence s-n+1+k) is overwritten by the push of s-n+1+k+cap, so in a
// full ring (n = cap) a single push installed before the reader copies the
// oldest slot makes it retry, and in general the reader must copy its k-th
// slot before the push of s+cap-n+k+1 is installed.
// Slots are never torn: a reader only ever sees a whole entry, through an
// atomic pointer.
//
// A trace at cap 4 (slot contents as sequence numbers, t = tail):
//
//	| 5 | 6 | 3 | 4 |  t: 6   snapshot wants 3,4,5,6: all match
//	| 5 | 6 | 7 | 4 |  t: 7   pushed 7 (slot for 7 installed by its pusher)
//	                           a reader that loaded t=6 and now reads the
//	                           slot for 3 finds 7: it retries from t=7.
//
// Happens-before: the CompareAndSwap that publishes an entry in tail (or in a
// slot) happens before any Load that observes that pointer, and the entry's
// fields were written before that CAS, so a reader that loads the pointer
// sees the fields complete.

// cacheLine is the assumed size of a CPU cache line (x86-64 and most arm64
// parts). The hot tail pointer is padded to a whole line so that pushes
// hammering it do not invalidate the line holding the slots header.
const cacheLine = 64

type entry[T any] struct {
	seq uint64
	v   T
}

// Ring is the lock-free ring: no mutex anywhere, only atomic pointers to
// immutable entries. Use it when no caller may wait for another goroutine
// (a preempted goroutine never holds anything others wait for); see the
// package documentation for what that costs.
//
// Progress: Push is lock-free (its CAS fails only because another Push
// succeeded) and Snapshot is lock-free: it retries when a Push overwrote a
// slot it had not copied yet, which in a full ring takes one Push landing
// before it copies the oldest value, so every retry means a Push took
// effect; pushes that keep pace with its copying can starve it, but a
// stalled goroutine never holds it up. Len and Cap are wait-free. No operation ever
// waits for another goroutine to run.
//
// Memory: Cap() slot pointers plus one entry per value in the window (and
// the entry in tail); Push allocates one entry (the size of T plus 8 bytes).
// An evicted entry becomes unreachable once its slot is overwritten.
//
// A Ring must be created with New; the zero value is not usable. A Ring is
// safe for concurrent use by multiple goroutines.
type Ring[T any] struct {
	tail atomic.Pointer[entry[T]] // newest entry; seq 0 sentinel when empty
	_    [cacheLine - 8]byte      // keep tail alone on its cache line

	slots []atomic.Pointer[entry[T]] // written only by install
}

var _ ringbuf.Buffer[int] = (*Ring[int])(nil)

// New returns an empty lock-free ring that keeps the last capacity values.
// It panics if capacity < 1.
func New[T any](capacity int) *Ring[T] {
	if capacity < 1 {
		panic("lockfree: capacity must be at least 1")
	}
	r := &Ring[T]{slots: make([]atomic.Pointer[entry[T]], capacity)}
	r.tail.Store(&entry[T]{}) // seq 0: nothing pushed; never installed
	return r
}

// install makes sure e's slot holds e or a newer entry.
func (r *Ring[T]) install(e *entry[T]) {
	if e.seq == 0 {
		return
	}
	slot := &r.slots[(e.seq-1)%uint64(len(r.slots))]
	for {
		cur := slot.Load()
		if cur != nil && cur.seq >= e.seq {
			return
		}
		if slot.CompareAndSwap(cur, e) {
			return
		}
	}
}

// Push stores v, evicting the oldest value when the ring is full, and
// returns v's sequence number.
func (r *Ring[T]) Push(v T) uint64 { return r.PushPtr(&v) }

// PushPtr is Push(*v) without the copy of *v into Push's argument: *v is
// copied once, straight into the new entry. It is Push in every other
// respect (lock-free, the same linearization point, sequence numbers and
// eviction), and it does not keep v: once it returns, the caller may
// reuse *v. The caller must not write *v while PushPtr runs. For a large
// T (History's 144-byte Message) that copy is a measurable part of a Push.
// PushPtr(nil) panics before it changes anything.
func (r *Ring[T]) PushPtr(v *T) uint64 {
	e := &entry[T]{v: *v}
	for {
		t := r.tail.Load()
		r.install(t) // keep the invariant: t is installed before tail passes it
		e.seq = t.seq + 1
		if r.tail.CompareAndSwap(t, e) {
			r.install(e)
			return e.seq
		}
	}
}

// Snapshot appends the window, oldest first, to dst and returns it with the
// sequence number of the newest value (0 when empty).
func (r *Ring[T]) Snapshot(dst []T) ([]T, uint64) {
	base := len(dst)
	c := uint64(len(r.slots))
	for {
		t := r.tail.Load()
		r.install(t)
		last := t.seq
		n := min(last, c)
		dst = slices.Grow(dst[:base], int(n))[:base+int(n)]
		out := dst[base:]
		first := last - n + 1
		i := (first - 1) % c // slot of first; walk forward with wrap
		k := 0
		for ; k < len(out); k++ {
			e := r.slots[i].Load()
			if e.seq != first+uint64(k) {
				break // overwritten: the slot already holds a newer value
			}
			out[k] = e.v
			if i++; i == c {
				i = 0
			}
		}
		if k == len(out) {
			return dst, last
		}
	}
}

// Len reports the number of values in the window, min(pushed, Cap()).
func (r *Ring[T]) Len() int {
	return int(min(r.tail.Load().seq, uint64(len(r.slots))))
}

// Cap reports the ring's capacity.
func (r *Ring[T]) Cap() int { return len(r.slots) }

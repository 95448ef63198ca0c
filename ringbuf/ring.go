package ringbuf

import (
	"slices"
	"sync"
)

// Ring is the mutex ring: a fixed array of capacity values guarded by one
// sync.Mutex. It is the reference implementation of [Buffer] and the
// sequential model the conformance suite compares the other backends with.
//
// Progress: every method is blocking. Push, Snapshot and Len take the mutex,
// so a goroutine preempted while holding it stalls every other caller until
// it runs again. Cap is wait-free.
//
// Memory: one array of Cap() values, allocated by New; Push and Snapshot
// (into a dst with room) allocate nothing. A pushed value stays reachable
// until it is overwritten by the push Cap() places after it.
//
// A Ring must be created with New; the zero value is not usable. A Ring is
// safe for concurrent use by multiple goroutines.
type Ring[T any] struct {
	mu sync.Mutex
	// These fields are guarded by mu.
	buf  []T    // len(buf) == capacity, fixed at New
	next int    // index in buf of the slot the next Push writes
	seq  uint64 // number of values pushed so far = sequence of the newest
}

var _ Buffer[int] = (*Ring[int])(nil)

// New returns an empty mutex ring that keeps the last capacity values.
// It panics if capacity < 1: a ring that can hold nothing is a programming
// error, not a runtime condition.
func New[T any](capacity int) *Ring[T] {
	if capacity < 1 {
		panic("ringbuf: capacity must be at least 1")
	}
	return &Ring[T]{buf: make([]T, capacity)}
}

// Push stores v, evicting the oldest value when the ring is full, and
// returns v's sequence number.
func (r *Ring[T]) Push(v T) uint64 { return r.PushPtr(&v) }

// PushPtr is Push(*v) without the copy of *v into Push's argument: *v is
// copied once, straight into its slot, under the lock. It is Push in every
// other respect (the same linearization point, sequence numbers and
// eviction), and it does not keep v: once it returns, the caller may reuse
// *v. The caller must not write *v while PushPtr runs. For a large T
// (History's 144-byte Message) that copy is a measurable part of a Push.
// PushPtr(nil) panics before it changes anything.
func (r *Ring[T]) PushPtr(v *T) uint64 {
	_ = *v // a nil v panics here, not with the lock held
	r.mu.Lock()
	r.buf[r.next] = *v
	r.next++
	if r.next == len(r.buf) {
		r.next = 0
	}
	r.seq++
	seq := r.seq
	r.mu.Unlock()
	return seq
}

// Snapshot appends the window, oldest first, to dst and returns it with the
// sequence number of the newest value (0 when empty).
func (r *Ring[T]) Snapshot(dst []T) ([]T, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seq < uint64(len(r.buf)) {
		// Not yet wrapped: the window is buf[:seq], already in order.
		return append(dst, r.buf[:r.seq]...), r.seq
	}
	// Full: the oldest value sits where the next push will write. Grow
	// dst once for both halves, not once per append.
	dst = slices.Grow(dst, len(r.buf))
	dst = append(dst, r.buf[r.next:]...)
	dst = append(dst, r.buf[:r.next]...)
	return dst, r.seq
}

// Len reports the number of values in the window, min(pushed, Cap()).
func (r *Ring[T]) Len() int {
	r.mu.Lock()
	n := r.seq
	r.mu.Unlock()
	return int(min(n, uint64(len(r.buf))))
}

// Cap reports the ring's capacity.
func (r *Ring[T]) Cap() int { return len(r.buf) }

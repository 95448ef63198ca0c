package peers

import (
	"sync"

	"github.com/chatring/chatring/bench/internal/workload"
)

// SliceRing is the baseline: the bounded history a Go programmer writes by
// hand — a slice used as a circular buffer, guarded by one sync.Mutex. It is
// the seed's deque(maxlen=max_turns*2) with its RLock, in Go.
type SliceRing struct {
	mu sync.Mutex
	// These fields are guarded by mu.
	buf  []workload.Msg // len(buf) == capacity
	head int            // index of the oldest message
	n    int            // messages held, <= len(buf)
	seq  uint64         // messages pushed so far
}

// NewSliceRing returns an empty SliceRing that keeps the last capacity
// messages.
func NewSliceRing(capacity int) *SliceRing {
	return &SliceRing{buf: make([]workload.Msg, capacity)}
}

// Push appends m, dropping the oldest message when full.
func (r *SliceRing) Push(m workload.Msg) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n < len(r.buf) {
		r.buf[(r.head+r.n)%len(r.buf)] = m
		r.n++
	} else {
		r.buf[r.head] = m
		r.head = (r.head + 1) % len(r.buf)
	}
	r.seq++
	return r.seq
}

// Snapshot appends the window, oldest first, to dst.
func (r *SliceRing) Snapshot(dst []workload.Msg) ([]workload.Msg, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := r.head + r.n
	if end <= len(r.buf) {
		return append(dst, r.buf[r.head:end]...), r.seq
	}
	dst = append(dst, r.buf[r.head:]...)
	return append(dst, r.buf[:end-len(r.buf)]...), r.seq
}

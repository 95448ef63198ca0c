package main

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/chatring/chatring/ringbuf"
)

// The buffers in this file break the ringbuf.Buffer contract on purpose, to
// show that the checker catches each kind of bug. They are reachable only
// through env.newRing, which only tests set: no flag selects them.

// dropOldest's Snapshot leaves out the oldest value of the window.
type dropOldest struct{ *ringbuf.Ring[item] }

func (b dropOldest) Snapshot(dst []item) ([]item, uint64) {
	base := len(dst)
	dst, last := b.Ring.Snapshot(dst)
	if len(dst) > base {
		dst = append(dst[:base], dst[base+1:]...)
	}
	return dst, last
}

// torn's Snapshot is not atomic: it returns what a snapshot that raced one
// push would, the older half of the window as it was before the newest
// push and the newer half as it is now. It does so deterministically, so
// that the test does not depend on the scheduler to interleave the push.
type torn struct {
	mu   sync.Mutex
	ring *ringbuf.Ring[item]
	prev []item // guarded by mu: the window before the newest push
}

func (b *torn) Push(v item) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prev, _ = b.ring.Snapshot(b.prev[:0])
	return b.ring.Push(v)
}

func (b *torn) Snapshot(dst []item) ([]item, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	base := len(dst)
	dst, last := b.ring.Snapshot(dst)
	if n := len(dst) - base; n == len(b.prev) { // full: the window moved by one
		copy(dst[base:base+n/2], b.prev[:n/2])
	}
	return dst, last
}

func (b *torn) Len() int { return b.ring.Len() }
func (b *torn) Cap() int { return b.ring.Cap() }

// stale's Snapshot returns a copy of the window refreshed only on every
// eighth push: each window it returns is consistent, but appends that
// returned before the read began may be missing.
type stale struct {
	mu    sync.Mutex
	ring  *ringbuf.Ring[item]
	cache []item // guarded by mu
	last  uint64 // guarded by mu
}

func (b *stale) Push(v item) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	seq := b.ring.Push(v)
	if seq%8 == 0 {
		b.cache, b.last = b.ring.Snapshot(b.cache[:0])
	}
	return seq
}

func (b *stale) Snapshot(dst []item) ([]item, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append(dst, b.cache...), b.last
}

func (b *stale) Len() int { return b.ring.Len() }
func (b *stale) Cap() int { return b.ring.Cap() }

// lagging's online snapshots lag one push behind: each returns the window
// as it was before the newest push, labelled with the newest sequence
// number. The window is contiguous, ordered and of the right length, but
// shifted by one: the newest append, which may have returned before the
// read began, is missing and an evicted one is back. So that the shift
// cannot show as a wrong length, a lagging snapshot first waits until
// more than capacity values were pushed. Only the first online snapshots
// lag; later ones (the final read among them) are correct, so that only
// the online checker can see it.
type lagging struct {
	mu     sync.Mutex
	pushed sync.Cond // on mu; broadcast by every push
	ring   *ringbuf.Ring[item]
	prev   []item // guarded by mu: the window before the newest push
	online int    // guarded by mu: snapshots that still lag
}

func newLagging(capacity, online int) *lagging {
	b := &lagging{ring: ringbuf.New[item](capacity), online: online}
	b.pushed.L = &b.mu
	return b
}

func (b *lagging) Push(v item) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prev, _ = b.ring.Snapshot(b.prev[:0])
	seq := b.ring.Push(v)
	b.pushed.Broadcast()
	return seq
}

func (b *lagging) Snapshot(dst []item) ([]item, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.online == 0 {
		return b.ring.Snapshot(dst)
	}
	b.online--
	for len(b.prev) < b.ring.Cap() {
		b.pushed.Wait()
	}
	_, last := b.ring.Snapshot(nil)
	return append(dst, b.prev...), last
}

func (b *lagging) Len() int { return b.ring.Len() }
func (b *lagging) Cap() int { return b.ring.Cap() }

// repeatSeq's Push returns the previous sequence number on every 100th
// push: a repeat (and a gap) in the numbering.
type repeatSeq struct{ *ringbuf.Ring[item] }

func (b repeatSeq) Push(v item) uint64 {
	seq := b.Ring.Push(v)
	if seq%100 == 0 {
		return seq - 1
	}
	return seq
}

func TestBrokenBuffersFailTheRun(t *testing.T) {
	for _, c := range []struct {
		name    string
		newRing func(capacity int) ringbuf.Buffer[item]
		args    []string
		want    string // in the report's failure descriptions
	}{
		{
			name:    "drops the oldest value",
			newRing: func(c int) ringbuf.Buffer[item] { return dropOldest{ringbuf.New[item](c)} },
			args:    []string{"-writers", "2", "-readers", "2", "-ops", "2000"},
			want:    "window holds",
		},
		{
			name:    "snapshot not atomic",
			newRing: func(c int) ringbuf.Buffer[item] { return &torn{ring: ringbuf.New[item](c)} },
			args:    []string{"-writers", "2", "-readers", "2", "-ops", "2000", "-capacity", "8"},
			want:    "final window: position",
		},
		{
			// 1001 appends: the final window is stale too.
			name:    "stale snapshot",
			newRing: func(c int) ringbuf.Buffer[item] { return &stale{ring: ringbuf.New[item](c)} },
			args:    []string{"-writers", "1", "-readers", "1", "-ops", "2002"},
			want:    "newest sequence is 1000",
		},
		{
			// One writer and one reader, 1000 operations each: the
			// reader's 1000 snapshots lag, the final read does not.
			name:    "snapshot lags one push behind",
			newRing: func(c int) ringbuf.Buffer[item] { return newLagging(c, 1000) },
			args:    []string{"-writers", "1", "-readers", "1", "-ops", "2000", "-capacity", "4"},
			want:    "returned before the read began",
		},
		{
			name:    "repeated sequence number",
			newRing: func(c int) ringbuf.Buffer[item] { return repeatSeq{ringbuf.New[item](c)} },
			args:    []string{"-writers", "2", "-readers", "0", "-ops", "1000"},
			want:    "gaps or repeats",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := defaultEnv()
			e.newRing = func(_ string, capacity int) ringbuf.Buffer[item] { return c.newRing(capacity) }
			args := append([]string{"-backend", "mutex", "-format", "json"}, c.args...)
			out, _, err := runArgs(t, t.Context(), e, args...)
			var ve *violationsError
			if !errors.As(err, &ve) || ve.n == 0 {
				t.Fatalf("run = %v, want a *violationsError\n%s", err, out)
			}
			rep := decodeReport(t, out)
			if rep.OK || rep.Violations != ve.n {
				t.Errorf("report ok %v violations %d, error says %d", rep.OK, rep.Violations, ve.n)
			}
			failures := strings.Join(rep.Results[0].Invariants.Failures, "\n")
			if !strings.Contains(failures, c.want) {
				t.Errorf("failures do not mention %q:\n%s", c.want, failures)
			}
			t.Logf("%d violations, first: %s", ve.n, rep.Results[0].Invariants.Failures[0])

			text, _, err := runArgs(t, t.Context(), e, append(args[:2:2], c.args...)...)
			if !errors.As(err, &ve) || !strings.Contains(text, "VIOLATION mutex: ") || !strings.Contains(text, "FAIL: ") {
				t.Errorf("text run = %v:\n%s", err, text)
			}
		})
	}
}

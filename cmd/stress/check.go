package main

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// rec is one message of a window as the checker sees it: which writer sent
// it, that writer's counter for it (0, 1, 2, ... in the order it sent them)
// and the sequence number the buffer gave it.
type rec struct {
	writer int
	n      uint64
	seq    uint64
}

// maxFailures bounds how many descriptions of online violations (found in
// snapshots while the run goes on) a backend's report keeps; the count goes
// on beyond it. The final checks' descriptions are always kept: there are
// at most a few, and they are the verdict on the whole run.
const maxFailures = 20

// violations collects invariant violations from every worker of one run.
// It is safe for concurrent use. Violations are rare (a correct backend has
// none), so a mutex is cheap enough here and keeps descriptions in order.
type violations struct {
	count atomic.Uint64

	mu     sync.Mutex
	online int      // guarded by mu: descriptions of online violations kept
	msgs   []string // guarded by mu
	final  bool     // guarded by mu: set when the final checks begin
}

// addf records one violation, described by a fmt format and arguments.
func (v *violations) addf(format string, args ...any) {
	v.count.Add(1)
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.final {
		if v.online == maxFailures {
			return
		}
		v.online++
	}
	v.msgs = append(v.msgs, fmt.Sprintf(format, args...))
}

// finalPhase marks the start of the final checks: from now on every
// description is kept. Call it once the workers have stopped.
func (v *violations) finalPhase() {
	v.mu.Lock()
	v.final = true
	v.mu.Unlock()
}

// descriptions returns a copy of the recorded descriptions, never nil.
func (v *violations) descriptions() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string{}, v.msgs...)
}

// snapshotChecker checks the windows one reader sees, online. It is owned by
// that reader's goroutine and not safe for concurrent use.
//
// A window is the values with sequence numbers first…last, where
// first = last-len+1, oldest first. For each window it checks that:
//
//  1. its length is min(last, capacity): nothing dropped, nothing extra;
//  2. its sequence numbers are first, first+1, …, last (where the level
//     exposes per-message sequence numbers: at ring level they are derived
//     from the position, so this holds by construction there);
//  3. every writer id is valid and every message was sent before the read
//     returned (no garbage, no values from the future);
//  4. each writer's messages are consecutive and in its own order: n, n+1,
//     n+2, … A writer's appends are sequential, so the ones whose sequence
//     numbers fall in a contiguous range are a contiguous run of its
//     counter; a gap, repeat or swap means the window is not a contiguous,
//     ordered range of sequence numbers, or a value was torn;
//  5. every append that had returned before the read was called (each
//     writer's newest, a ref) is in the window at the position its
//     sequence number gives, with its writer and its message number, or
//     already evicted (last is at least its sequence number): what
//     linearizability requires;
//  6. every message of a writer sits on the right side of that writer's
//     ref: a message numbered below (above) the ref's has a lower (higher)
//     sequence number. With 5 this anchors positions to values, so a
//     window shifted by one (each value one place from where its sequence
//     number belongs) is caught even at ring level, where sequence numbers
//     come from positions;
//  7. last never goes backwards between two reads of the same reader.
type snapshotChecker struct {
	capacity int
	// These are indexed by writer and reused between windows; seen[w] is
	// the window count at which lastN[w] was written, so nothing needs
	// clearing between windows.
	lastN []uint64
	seen  []uint64

	windows  uint64 // windows checked so far
	prevLast uint64 // last of the previous window
}

func newSnapshotChecker(capacity, writers int) *snapshotChecker {
	return &snapshotChecker{
		capacity: capacity,
		lastN:    make([]uint64, writers),
		seen:     make([]uint64, writers),
	}
}

// ref names one append of a writer: its message #n got sequence number
// seq. A seq of 0 means none.
type ref struct{ seq, n uint64 }

// check checks one window. recs is the window, last the sequence number of
// its newest value (0 when empty); before[w] is an append of writer w that
// had returned before the read was called (its newest one as far as the
// reader could tell; seq 0 for none) and sent[w] how many appends writer w
// had started when the read returned. reader names the reader in
// descriptions.
func (c *snapshotChecker) check(v *violations, reader int, recs []rec, last uint64, before []ref, sent []uint64) {
	c.windows++
	where := func() string {
		return fmt.Sprintf("reader %d, read %d (window of %d, newest sequence %d)", reader, c.windows, len(recs), last)
	}
	if last < c.prevLast {
		v.addf("%s: newest sequence went backwards from %d", where(), c.prevLast)
	}
	c.prevLast = last
	if want := min(last, uint64(c.capacity)); uint64(len(recs)) != want {
		v.addf("%s: window holds %d messages, want min(newest sequence, capacity %d) = %d", where(), len(recs), c.capacity, want)
		return // positions are meaningless from here on
	}
	first := last - uint64(len(recs)) + 1
	for i, r := range recs {
		if want := first + uint64(i); r.seq != want {
			v.addf("%s: position %d holds sequence %d, want %d: not contiguous", where(), i, r.seq, want)
			return
		}
		if r.writer < 0 || r.writer >= len(c.lastN) {
			v.addf("%s: position %d holds a message from writer %d, which does not exist", where(), i, r.writer)
			return
		}
		if r.n >= sent[r.writer] {
			v.addf("%s: position %d holds writer %d's message #%d, which it had not sent", where(), i, r.writer, r.n)
			return
		}
		if b := before[r.writer]; b.seq != 0 && cmp.Compare(r.n, b.n) != cmp.Compare(r.seq, b.seq) {
			v.addf("%s: position %d holds writer %d's message #%d at sequence %d, but its message #%d got sequence %d (returned before the read began): values are not at their sequence numbers",
				where(), i, r.writer, r.n, r.seq, b.n, b.seq)
			return
		}
		if c.seen[r.writer] == c.windows {
			if prev := c.lastN[r.writer]; r.n != prev+1 {
				v.addf("%s: writer %d's message #%d follows its #%d: each writer's messages must be consecutive and in order", where(), r.writer, r.n, prev)
				return
			}
		}
		c.seen[r.writer], c.lastN[r.writer] = c.windows, r.n
	}
	for w, b := range before {
		if b.seq == 0 {
			continue
		}
		if b.seq > last {
			v.addf("%s: writer %d's message #%d (sequence %d) returned before the read began but is missing", where(), w, b.n, b.seq)
			return
		}
		if b.seq >= first {
			if got := recs[b.seq-first]; got.writer != w || got.n != b.n {
				v.addf("%s: sequence %d is writer %d's message #%d, which returned before the read began, but the window holds writer %d's message #%d there",
					where(), b.seq, w, b.n, got.writer, got.n)
				return
			}
		}
	}
}

// writerLog is what one writer remembers of its own appends, to check the
// totals and reconstruct the final window after the run. It is owned by the
// writer's goroutine until the run's WaitGroup is done, then read by the
// final check.
type writerLog struct {
	sent uint64 // appends that returned successfully
	// sum and sumSquares of the sequence numbers those appends got,
	// wrapping modulo 2^64: a checksum of "no gaps, no repeats".
	sum, sumSquares uint64
	prev            uint64 // the newest sequence number, to check they increase
	// tail holds the last capacity (seq, n) pairs, a ring from next.
	tail []rec
	next int
	max  int
}

func newWriterLog(capacity int, quota uint64) *writerLog {
	n := capacity
	if quota > 0 && quota < uint64(n) {
		n = int(quota)
	}
	return &writerLog{tail: make([]rec, 0, n), max: capacity}
}

// add records that append #n of writer w got sequence number seq. It
// reports a violation if seq does not exceed the writer's previous one.
func (l *writerLog) add(v *violations, w int, n, seq uint64) {
	if seq <= l.prev {
		v.addf("writer %d: append #%d got sequence %d after sequence %d: sequence numbers must increase", w, n, seq, l.prev)
	}
	l.prev = seq
	l.sent++
	l.sum += seq
	l.sumSquares += seq * seq
	r := rec{writer: w, n: n, seq: seq}
	if len(l.tail) < l.max {
		l.tail = append(l.tail, r)
		return
	}
	l.tail[l.next] = r
	l.next = (l.next + 1) % l.max
}

// checkFinal checks the window read after every worker stopped against what
// the writers sent: the totals, the sequence checksum, and the window equal
// to the last min(total, capacity) appends (writer, message number and
// sequence number). It returns the number of checks
// it made.
func checkFinal(v *violations, capacity int, logs []*writerLog, window []rec, last uint64) uint64 {
	var total, sum, sumSquares uint64
	for _, l := range logs {
		total += l.sent
		sum += l.sum
		sumSquares += l.sumSquares
	}
	checks := uint64(3)
	if last != total {
		v.addf("final window: newest sequence is %d but the writers' appends total %d", last, total)
	}
	if wantSum, wantSq := seqSums(total); sum != wantSum || sumSquares != wantSq {
		v.addf("final check: the %d sequence numbers the writers got are not exactly 1…%d (sum or sum of squares differs): gaps or repeats", total, total)
	}
	want := min(total, uint64(capacity))
	if uint64(len(window)) != want {
		v.addf("final window holds %d messages, want min(appends %d, capacity %d) = %d", len(window), total, capacity, want)
		return checks
	}
	// Reconstruct the last want appends from the writers' own logs.
	var expect []rec
	for _, l := range logs {
		for _, r := range l.tail {
			if r.seq > total-want {
				expect = append(expect, r)
			}
		}
	}
	slices.SortFunc(expect, func(a, b rec) int { return cmp.Compare(a.seq, b.seq) })
	checks++
	if len(expect) != len(window) {
		v.addf("final window: the writers' logs hold %d appends with sequence above %d, want %d", len(expect), total-want, len(window))
		return checks
	}
	for i := range window {
		e, g := expect[i], window[i]
		if e.writer != g.writer || e.n != g.n {
			v.addf("final window: position %d holds writer %d's message #%d, but sequence %d was writer %d's message #%d", i, g.writer, g.n, e.seq, e.writer, e.n)
			return checks
		}
		// At ring level g.seq comes from the position; at history level
		// it is the message's own Seq, part of what the History returns.
		if e.seq != g.seq {
			v.addf("final window: position %d holds writer %d's message #%d labelled sequence %d, but it got sequence %d", i, g.writer, g.n, g.seq, e.seq)
			return checks
		}
	}
	return checks
}

// seqSums returns 1+2+…+n and 1²+2²+…+n², modulo 2^64. The divisions are
// done on the factors before the wrapping multiplications so that they are
// exact.
func seqSums(n uint64) (sum, squares uint64) {
	a, b := n, n+1
	if a%2 == 0 {
		a /= 2
	} else {
		b /= 2
	}
	sum = a * b
	x, y, z := n, n+1, 2*n+1
	if x%2 == 0 {
		x /= 2
	} else {
		y /= 2
	}
	switch {
	case x%3 == 0:
		x /= 3
	case y%3 == 0:
		y /= 3
	default:
		z /= 3
	}
	return sum, x * y * z
}

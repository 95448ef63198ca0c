package ringtest

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatring/chatring/ringbuf"
	"github.com/google/go-cmp/cmp"
)

// maxReported bounds the errors one concurrent case reports, so that a
// broken backend does not bury the first, most useful, message.
const maxReported = 10

// reporter forwards errors from many goroutines to t, up to maxReported.
type reporter struct {
	t *testing.T
	n atomic.Int32
}

func (r *reporter) Errorf(format string, args ...any) {
	r.t.Helper()
	if r.n.Add(1) <= maxReported {
		r.t.Errorf(format, args...)
	}
}

// testHammer runs writers and readers together and checks every snapshot,
// then the final window, against the sequence numbers the writers were
// given.
func testHammer(t *testing.T, newBuffer NewBuffer) {
	for _, tc := range []struct{ cap, writers, readers int }{
		{1, 4, 2},
		{8, 4, 4},
		{64, 3, 3},
	} {
		t.Run(fmt.Sprintf("cap=%d/writers=%d/readers=%d", tc.cap, tc.writers, tc.readers), func(t *testing.T) {
			hammer(t, newBuffer(tc.cap), tc.writers, tc.readers, *hammerOps)
		})
	}
}

type recorded struct {
	last  uint64
	items []Item
}

func hammer(t *testing.T, b ringbuf.Buffer[Item], writers, readers, perWriter int) {
	c := b.Cap()
	rep := &reporter{t: t}
	seqs := make([][]uint64, writers) // seqs[w][i]: sequence of writer w's i-th push
	var returned atomic.Uint64        // highest sequence whose Push has returned
	var writing sync.WaitGroup
	var done atomic.Bool

	for w := range writers {
		seqs[w] = make([]uint64, perWriter)
		writing.Go(func() {
			for i := range perWriter {
				s := b.Push(MakeItem(w, i))
				seqs[w][i] = s
				for cur := returned.Load(); s > cur && !returned.CompareAndSwap(cur, s); cur = returned.Load() {
				}
				if i%97 == 0 {
					runtime.Gosched()
				}
			}
		})
	}

	const keepPerReader = 1000
	kept := make([][]recorded, readers)
	var reading sync.WaitGroup
	for r := range readers {
		reading.Go(func() {
			var buf []Item
			for snaps := 0; snaps == 0 || !done.Load(); snaps++ {
				lo := returned.Load()
				snap, last := b.Snapshot(buf[:0])
				buf = snap
				if last < lo {
					rep.Errorf("Snapshot returned sequence %d, but Push of %d had returned before Snapshot was called", last, lo)
				}
				if want := int(min(last, uint64(c))); len(snap) != want {
					rep.Errorf("Snapshot at sequence %d holds %d values, want %d", last, len(snap), want)
				}
				lastN := make(map[int]int)
				for i, it := range snap {
					if !it.valid() {
						rep.Errorf("Snapshot at sequence %d: value %d is torn: %+v", last, i, it)
						continue
					}
					if n, ok := lastN[it.Writer]; ok && it.N <= n {
						rep.Errorf("Snapshot at sequence %d: writer %d's push %d comes after its push %d", last, it.Writer, it.N, n)
					}
					lastN[it.Writer] = it.N
				}
				if n := b.Len(); n < int(min(lo, uint64(c))) || n > c {
					rep.Errorf("Len() = %d, want between %d and %d", n, min(lo, uint64(c)), c)
				}
				if len(kept[r]) < keepPerReader && snaps%3 == 0 {
					kept[r] = append(kept[r], recorded{last, slices.Clone(snap)})
				}
			}
		})
	}
	writing.Wait()
	done.Store(true)
	reading.Wait()

	// Sequence numbers: exactly 1..total, each once, increasing per writer.
	total := uint64(writers * perWriter)
	bySeq := make([]Item, total+1)
	for w := range writers {
		for i, s := range seqs[w] {
			switch {
			case s < 1 || s > total:
				rep.Errorf("writer %d push %d got sequence %d, outside 1..%d", w, i, s, total)
				continue
			case bySeq[s] != Item{}:
				rep.Errorf("sequence %d given to both %v and %v", s, bySeq[s], MakeItem(w, i))
			case i > 0 && s <= seqs[w][i-1]:
				rep.Errorf("writer %d got sequence %d after %d", w, s, seqs[w][i-1])
			}
			bySeq[s] = MakeItem(w, i)
		}
	}
	if t.Failed() {
		return
	}

	// Every kept snapshot is exactly the pushes with its sequence numbers.
	for _, rs := range kept {
		for _, rec := range rs {
			first := rec.last - uint64(len(rec.items)) + 1
			if diff := cmp.Diff(bySeq[first:rec.last+1], rec.items, equateEmpty); diff != "" {
				rep.Errorf("Snapshot at sequence %d is not the pushes %d..%d (-want +got):\n%s", rec.last, first, rec.last, diff)
			}
		}
	}

	// The final window is the last c pushes.
	got, last := b.Snapshot(nil)
	first := total - min(total, uint64(c)) + 1
	if diff := cmp.Diff(bySeq[first:], got, equateEmpty); diff != "" || last != total {
		rep.Errorf("final Snapshot at sequence %d (want %d) is not the last %d pushes (-want +got):\n%s", last, total, c, diff)
	}
}

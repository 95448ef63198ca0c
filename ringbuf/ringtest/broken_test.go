package ringtest_test

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatring/chatring/internal/mutant"
	"github.com/chatring/chatring/ringbuf"
	"github.com/chatring/chatring/ringbuf/ringtest"
)

// The suite is only worth something if it fails on wrong buffers. Each
// broken buffer below has one defect that a real backend could plausibly
// have; TestSuiteCatchesBrokenBuffers runs the suite against each in a
// child process (the suite fails its *testing.T, which cannot be observed
// from inside the same test) and asserts that the expected cases fail.

// tornSnapshot is a mutex ring whose Snapshot takes the lock once per
// element, so a concurrent Push can land between two elements: the
// snapshot is not atomic.
type tornSnapshot struct {
	mu  sync.Mutex
	buf []ringtest.Item
	seq uint64
}

func (b *tornSnapshot) Push(v ringtest.Item) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf[b.seq%uint64(len(b.buf))] = v
	b.seq++
	return b.seq
}

func (b *tornSnapshot) Snapshot(dst []ringtest.Item) ([]ringtest.Item, uint64) {
	b.mu.Lock()
	last := b.seq
	b.mu.Unlock()
	n := min(last, uint64(len(b.buf)))
	for s := last - n + 1; s <= last; s++ {
		runtime.Gosched()
		b.mu.Lock()
		dst = append(dst, b.buf[(s-1)%uint64(len(b.buf))])
		b.mu.Unlock()
	}
	return dst, last
}

func (b *tornSnapshot) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int(min(b.seq, uint64(len(b.buf))))
}

func (b *tornSnapshot) Cap() int { return len(b.buf) }

// skipsUnpublished claims a sequence number with a fetch-add and publishes
// the value in its slot afterwards; Snapshot takes the claimed count as the
// newest sequence and silently skips slots whose value is not published
// yet, instead of waiting for them or choosing an earlier cut.
type skipsUnpublished struct {
	claimed atomic.Uint64
	slots   []atomic.Pointer[entry]
}

type entry struct {
	seq uint64
	v   ringtest.Item
}

func (b *skipsUnpublished) Push(v ringtest.Item) uint64 {
	s := b.claimed.Add(1)
	runtime.Gosched() // widen the claimed-but-unpublished window
	slot := &b.slots[(s-1)%uint64(len(b.slots))]
	for {
		cur := slot.Load()
		if cur != nil && cur.seq > s || slot.CompareAndSwap(cur, &entry{s, v}) {
			return s
		}
	}
}

func (b *skipsUnpublished) Snapshot(dst []ringtest.Item) ([]ringtest.Item, uint64) {
	last := b.claimed.Load()
	n := min(last, uint64(len(b.slots)))
	for s := last - n + 1; s <= last; s++ {
		if e := b.slots[(s-1)%uint64(len(b.slots))].Load(); e != nil && e.seq == s {
			dst = append(dst, e.v)
		}
	}
	return dst, last
}

func (b *skipsUnpublished) Len() int {
	return int(min(b.claimed.Load(), uint64(len(b.slots))))
}

func (b *skipsUnpublished) Cap() int { return len(b.slots) }

// evictsEarly is a correct mutex ring that drops one value too many once it
// wraps: a sequential bug.
type evictsEarly struct{ *ringbuf.Ring[ringtest.Item] }

func (b evictsEarly) Snapshot(dst []ringtest.Item) ([]ringtest.Item, uint64) {
	base := len(dst)
	dst, last := b.Ring.Snapshot(dst)
	if last > uint64(b.Cap()) {
		dst = append(dst[:base], dst[base+1:]...)
	}
	return dst, last
}

// keepsPointer is a mutex ring of pointers whose PushPtr keeps the
// pointer it is given instead of copying the value: a PushPtr that is not
// Push. The suite tests it through ringtest.ViaPushPtr.
type keepsPointer struct{ r *ringbuf.Ring[*ringtest.Item] }

func (b keepsPointer) Push(v ringtest.Item) uint64 { return b.r.Push(&v) }

func (b keepsPointer) PushPtr(v *ringtest.Item) uint64 { return b.r.Push(v) }

func (b keepsPointer) Snapshot(dst []ringtest.Item) ([]ringtest.Item, uint64) {
	ptrs, last := b.r.Snapshot(nil)
	for _, p := range ptrs {
		dst = append(dst, *p)
	}
	return dst, last
}

func (b keepsPointer) Len() int { return b.r.Len() }

func (b keepsPointer) Cap() int { return b.r.Cap() }

// clearsValue is a mutex ring whose PushPtr stores a copy of *v and then
// clears *v, as if to drop the caller's references for the collector: the
// stored values are right, but the caller's value is not Push's argument
// any more (History, for one, reads and returns it after the push).
type clearsValue struct{ *ringbuf.Ring[ringtest.Item] }

func (b clearsValue) PushPtr(v *ringtest.Item) uint64 {
	seq := b.Ring.PushPtr(v)
	*v = ringtest.Item{}
	return seq
}

var brokenBuffers = map[string]struct {
	make ringtest.NewBuffer
	// cases is a -test.run pattern for the suite cases to run, and the
	// cases that must fail.
	cases []string
}{
	"tornSnapshot": {
		func(c int) ringbuf.Buffer[ringtest.Item] {
			checkCap(c)
			return &tornSnapshot{buf: make([]ringtest.Item, c)}
		},
		[]string{"Hammer", "Linearizable"},
	},
	"skipsUnpublished": {
		func(c int) ringbuf.Buffer[ringtest.Item] {
			checkCap(c)
			return &skipsUnpublished{slots: make([]atomic.Pointer[entry], c)}
		},
		[]string{"Hammer", "Linearizable"},
	},
	"evictsEarly": {
		func(c int) ringbuf.Buffer[ringtest.Item] { return evictsEarly{ringbuf.New[ringtest.Item](c)} },
		[]string{"Sequential", "DstReuse", "Model", "Hammer", "Linearizable"},
	},
	"keepsPointer": {
		func(c int) ringbuf.Buffer[ringtest.Item] {
			return ringtest.ViaPushPtr(keepsPointer{ringbuf.New[*ringtest.Item](c)})
		},
		[]string{"Sequential", "DstReuse", "Model", "Hammer", "Linearizable"},
	},
	"clearsValue": {
		func(c int) ringbuf.Buffer[ringtest.Item] {
			return ringtest.ViaPushPtr(clearsValue{ringbuf.New[ringtest.Item](c)})
		},
		[]string{"Sequential", "DstReuse", "SnapshotAllocs", "Model", "Hammer", "Linearizable"},
	},
}

func checkCap(c int) {
	if c < 1 {
		panic("broken: capacity must be at least 1")
	}
}

const brokenEnv = "RINGTEST_BROKEN"

// TestBrokenBuffer is the child process of TestSuiteCatchesBrokenBuffers:
// it runs the suite against the broken buffer named in $RINGTEST_BROKEN.
// Run directly, without that variable, it has nothing to do.
func TestBrokenBuffer(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		return
	}
	ringtest.Run(t, brokenBuffers[name].make)
}

func TestSuiteCatchesBrokenBuffers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes; skipped with -short")
	}
	for name, bb := range brokenBuffers {
		t.Run(name, func(t *testing.T) {
			mutant.Caught(t, "TestBrokenBuffer", brokenEnv+"="+name, bb.cases, []string{"-ringtest.histories=100", "-ringtest.hammer=1000",
				"-ringtest.visdir=", "-rapid.nofailfile"}) // the failures are expected: keep no files of them
		})
	}
}

// Package ringtest is the conformance suite for implementations of
// [ringbuf.Buffer]: one call checks the contract stated on
// [ringbuf.Buffer] (sequence numbers, window contents, linearizability,
// safety under the race detector), each rule a named subtest on a fresh
// buffer. The list below says what it checks; the memory bound and the
// progress guarantee each backend documents on its type are not checked
// here.
//
// A backend's test is a few lines:
//
//	func TestConformance(t *testing.T) {
//		ringtest.Run(t, func(capacity int) ringbuf.Buffer[ringtest.Item] {
//			return mybackend.New[ringtest.Item](capacity)
//		})
//	}
//
// A backend that also has a pointer-taking push, PushPtr(v *T), as this
// module's three have, runs the suite a second time through [ViaPushPtr],
// which makes every Push a PushPtr and adds the case PushPtrNil (skipped
// on other buffers): PushPtr(nil) panics and leaves the buffer as it was.
//
// Run it under the race detector (go test -race): the suite's concurrent
// cases are written so that a torn read or an unsynchronized write is
// reported by it even when the values happen to come out right.
//
// What the suite checks:
//   - Sequential: against the mutex ring [ringbuf.Ring] as the model, at
//     capacities 1, 2, 3, 7 and 64 through several wrap-arounds: sequence
//     numbers, Snapshot contents, Len, Cap, dst reuse, no allocation by a
//     Snapshot into a dst with room; and a
//     pgregory.net/rapid state machine over random operation sequences, which
//     shrinks a failure to a minimal sequence.
//   - Hammer: writers and readers at once; every snapshot contiguous in
//     sequence numbers and equal to what was pushed with them, each writer's
//     values in its own order, no push that returned before a snapshot
//     started missing from it, and the final window equal to the last pushes.
//   - Linearizable: concurrent histories recorded with a logical clock and
//     checked by github.com/anishathalye/porcupine against the sequential
//     specification, at capacities 2 to 5 with 4 to 8 goroutines, so that
//     the window wraps around constantly.
//   - No goroutine leaks (go.uber.org/goleak) and no hangs (a watchdog
//     panics with every goroutine's stack when a case overruns).
//
// Flags (after -args, or directly with go test) scale the concurrent cases:
// -ringtest.histories (porcupine histories per run, default 300),
// -ringtest.hammer (pushes per writer in the hammer, default 3000) and
// -ringtest.timeout (the watchdog, default 3m). `make stress` raises them.
// A non-linearizable history is also written as porcupine's HTML
// visualization to -ringtest.visdir (default: the temporary directory).
package ringtest

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatring/chatring/internal/watchdog"
	"github.com/chatring/chatring/ringbuf"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"
)

var (
	histories = flag.Int("ringtest.histories", 300, "porcupine histories checked per backend")
	hammerOps = flag.Int("ringtest.hammer", 3000, "pushes per writer in the hammer test")
	hangAfter = flag.Duration("ringtest.timeout", 3*time.Minute, "a subtest running longer than this is reported as hung")
	visDir    = flag.String("ringtest.visdir", os.TempDir(), "directory for porcupine's HTML visualization of a non-linearizable history (empty: none)")
)

// Item is the value the suite pushes. It is several words long (an int, an
// int and a string), so a backend that copies values non-atomically can be
// caught tearing one: Tag always equals the tag of Writer and N.
type Item struct {
	Writer int    // the goroutine that pushed it
	N      int    // its index among that goroutine's pushes, from 0
	Tag    string // MakeItem's check string for (Writer, N)
}

// MakeItem returns the Item with the given writer and index.
func MakeItem(writer, n int) Item {
	return Item{Writer: writer, N: n, Tag: "w" + strconv.Itoa(writer) + "#" + strconv.Itoa(n)}
}

// valid reports whether it is an Item that MakeItem could have returned.
func (it Item) valid() bool { return it == MakeItem(it.Writer, it.N) }

// String returns the item's Tag, "w<writer>#<n>", so that failures print
// items compactly.
func (it Item) String() string { return it.Tag }

// NewBuffer returns a new, empty buffer of the given capacity. For
// capacity < 1 it must panic, as every backend in this module does.
type NewBuffer func(capacity int) ringbuf.Buffer[Item]

// PtrPusher is a buffer that also has a pointer-taking push, as the three
// backends of this module have: PushPtr(v) must be Push(*v) in every
// respect: it must leave *v as it is, and must not keep v once it returns.
// PushPtr(nil) must panic before it changes anything (no sequence number
// taken, no lock left held).
type PtrPusher interface {
	ringbuf.Buffer[Item]
	PushPtr(v *Item) uint64
}

// ViaPushPtr returns b with every Push made by b.PushPtr, so that Run checks
// PushPtr against the whole contract: a backend with a PushPtr runs the
// suite on ViaPushPtr(New(capacity)) as well as on the buffer itself. Each
// Push hands PushPtr a fresh Item and overwrites it as soon as PushPtr
// returns, so that a buffer that kept the pointer instead of copying the
// value shows overwritten items in its snapshots (and, under the race
// detector, a data race). Before overwriting it, Push checks that PushPtr
// left the Item as it was; Run reports the first Item changed, at the end
// of the case, when newBuffer returns ViaPushPtr's buffer itself.
func ViaPushPtr(b PtrPusher) ringbuf.Buffer[Item] { return &viaPushPtr{PtrPusher: b} }

type viaPushPtr struct {
	PtrPusher
	changed atomic.Pointer[string] // the first change PushPtr made to *v
}

func (b *viaPushPtr) Push(v Item) uint64 {
	p := new(Item)
	*p = v
	seq := b.PushPtr(p)
	if *p != v {
		msg := fmt.Sprintf("PushPtr(&%#v) changed the caller's value to %#v: PushPtr(v) must be Push(*v), which cannot", v, *p)
		b.changed.CompareAndSwap(nil, &msg)
	}
	*p = Item{Writer: -1, N: -1, Tag: "overwritten after PushPtr returned"}
	return seq
}

// reportPushPtr returns newBuffer with a check of the buffers it makes
// that are ViaPushPtr's: when t's case is over, t reports the first change
// their PushPtr made to a caller's value, once for the case.
func reportPushPtr(t *testing.T, newBuffer NewBuffer) NewBuffer {
	var mu sync.Mutex
	var made []*viaPushPtr // guarded by mu
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range made {
			if msg := b.changed.Load(); msg != nil {
				t.Error(*msg)
				return
			}
		}
	})
	return func(capacity int) ringbuf.Buffer[Item] {
		b := newBuffer(capacity)
		if v, ok := b.(*viaPushPtr); ok {
			mu.Lock()
			made = append(made, v)
			mu.Unlock()
		}
		return b
	}
}

// Run runs the conformance suite against the buffers newBuffer makes. Every
// case is a subtest of t on a fresh buffer; none calls t.Parallel, so that
// goleak sees only the suite's own goroutines.
func Run(t *testing.T, newBuffer NewBuffer) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(*testing.T, NewBuffer)
	}{
		{"Empty", testEmpty},
		{"InvalidCapacity", testInvalidCapacity},
		{"PushPtrNil", testPushPtrNil},
		{"Sequential", testSequential},
		{"DstReuse", testDstReuse},
		{"SnapshotAllocs", testSnapshotAllocs},
		{"Model", testModel},
		{"Hammer", testHammer},
		{"Linearizable", testLinearizable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			stop := watchdog.Start("ringtest", t.Name(), *hangAfter)
			defer stop()
			c.fn(t, reportPushPtr(t, newBuffer))
		})
	}
}

// equateEmpty makes cmp.Diff treat a nil and an empty window as equal: the
// contract says what a snapshot holds, not whether an empty one is nil.
var equateEmpty = cmpopts.EquateEmpty()

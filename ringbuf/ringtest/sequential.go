package ringtest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chatring/chatring/ringbuf"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

func testEmpty(t *testing.T, newBuffer NewBuffer) {
	for _, c := range []int{1, 5} {
		b := newBuffer(c)
		if got := b.Cap(); got != c {
			t.Errorf("cap=%d: Cap() = %d", c, got)
		}
		if got := b.Len(); got != 0 {
			t.Errorf("cap=%d: Len() of an empty buffer = %d", c, got)
		}
		snap, last := b.Snapshot(nil)
		if len(snap) != 0 || last != 0 {
			t.Errorf("cap=%d: Snapshot of an empty buffer = %v, %d; want [], 0", c, snap, last)
		}
	}
}

func testInvalidCapacity(t *testing.T, newBuffer NewBuffer) {
	for _, c := range []int{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("newBuffer(%d) did not panic", c)
				}
			}()
			newBuffer(c)
		}()
	}
}

// testPushPtrNil checks, on a ViaPushPtr buffer, that PushPtr(nil) panics
// and changes nothing: it takes no sequence number and leaves no lock
// held, so the buffer goes on as if it had not been called (a caller may
// recover from the panic, as net/http does in a handler). A buffer left
// locked hangs the case, which the watchdog reports.
func testPushPtrNil(t *testing.T, newBuffer NewBuffer) {
	for _, c := range []int{1, 3} {
		b, ok := newBuffer(c).(*viaPushPtr)
		if !ok {
			t.Skip("not a ViaPushPtr buffer: no PushPtr to call")
		}
		model := ringbuf.New[Item](c)
		for i := range c + 1 { // wrapped
			b.Push(MakeItem(0, i))
			model.Push(MakeItem(0, i))
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("cap=%d: PushPtr(nil) did not panic", c)
				}
			}()
			b.PushPtr(nil)
		}()
		checkSame(t, fmt.Sprintf("cap=%d: after PushPtr(nil)", c), b, model)
		it := MakeItem(0, c+1)
		if got, want := b.Push(it), model.Push(it); got != want {
			t.Fatalf("cap=%d: the Push after PushPtr(nil) returned sequence %d, want %d", c, got, want)
		}
		checkSame(t, fmt.Sprintf("cap=%d: after PushPtr(nil) and a Push", c), b, model)
	}
}

// testSequential pushes through several wrap-arounds, comparing every step
// with the mutex ring.
func testSequential(t *testing.T, newBuffer NewBuffer) {
	for _, c := range []int{1, 2, 3, 7, 64} {
		t.Run(fmt.Sprintf("cap=%d", c), func(t *testing.T) {
			b := newBuffer(c)
			model := ringbuf.New[Item](c)
			for i := range 3*c + 2 {
				it := MakeItem(0, i)
				if got, want := b.Push(it), model.Push(it); got != want {
					t.Fatalf("push %d: Push returned sequence %d, want %d", i, got, want)
				}
				checkSame(t, fmt.Sprintf("after push %d", i), b, model)
			}
		})
	}
}

// checkSame compares the observable state of b and model.
func checkSame(t *testing.T, when string, b, model ringbuf.Buffer[Item]) {
	t.Helper()
	got, gotLast := b.Snapshot(nil)
	want, wantLast := model.Snapshot(nil)
	if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
		t.Fatalf("%s: Snapshot mismatch (-want +got):\n%s", when, diff)
	}
	if gotLast != wantLast {
		t.Fatalf("%s: Snapshot sequence = %d, want %d", when, gotLast, wantLast)
	}
	if got, want := b.Len(), model.Len(); got != want {
		t.Fatalf("%s: Len() = %d, want %d", when, got, want)
	}
	if got, want := b.Cap(), model.Cap(); got != want {
		t.Fatalf("%s: Cap() = %d, want %d", when, got, want)
	}
}

// testDstReuse checks that Snapshot appends after what dst holds, and uses
// dst's spare room rather than a new array.
func testDstReuse(t *testing.T, newBuffer NewBuffer) {
	const c = 4
	b := newBuffer(c)
	for i := range 6 { // wrapped: window is items 2..5
		b.Push(MakeItem(1, i))
	}
	prefix := []Item{MakeItem(9, 0), MakeItem(9, 1)}
	want := append(append([]Item(nil), prefix...), MakeItem(1, 2), MakeItem(1, 3), MakeItem(1, 4), MakeItem(1, 5))

	// dst with no spare room: the result must still hold the prefix.
	got, last := b.Snapshot(append([]Item(nil), prefix...))
	if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
		t.Errorf("Snapshot(dst without room) (-want +got):\n%s", diff)
	}
	if last != 6 {
		t.Errorf("Snapshot sequence = %d, want 6", last)
	}

	// dst with room: the result must share dst's array.
	dst := make([]Item, len(prefix), 16)
	copy(dst, prefix)
	got, _ = b.Snapshot(dst)
	if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
		t.Errorf("Snapshot(dst with room) (-want +got):\n%s", diff)
	}
	if &got[0] != &dst[0] {
		t.Errorf("Snapshot(dst with room) returned a new array instead of dst's")
	}

	// Reusing the result of one snapshot for the next, as callers do.
	b.Push(MakeItem(1, 6))
	got, last = b.Snapshot(got[:0])
	want = []Item{MakeItem(1, 3), MakeItem(1, 4), MakeItem(1, 5), MakeItem(1, 6)}
	if diff := cmp.Diff(want, got, equateEmpty); diff != "" || last != 7 {
		t.Errorf("Snapshot(got[:0]) = seq %d, (-want +got):\n%s", last, diff)
	}
}

// testSnapshotAllocs checks that Snapshot into a dst with room allocates
// nothing, at a full and at a partly filled buffer.
func testSnapshotAllocs(t *testing.T, newBuffer NewBuffer) {
	for _, pushes := range []int{3, 40} {
		b := newBuffer(16)
		for i := range pushes {
			b.Push(MakeItem(0, i))
		}
		dst := make([]Item, 0, 16)
		allocs := testing.AllocsPerRun(100, func() { dst, _ = b.Snapshot(dst[:0]) })
		if allocs != 0 {
			t.Errorf("after %d pushes: Snapshot into a dst with room allocated %v times per call, want 0", pushes, allocs)
		}
	}
}

// testModel runs random operation sequences against the mutex ring with
// rapid, which shrinks a failing sequence to a minimal one.
func testModel(t *testing.T, newBuffer NewBuffer) {
	rapid.Check(t, func(rt *rapid.T) {
		c := rapid.IntRange(1, 8).Draw(rt, "cap")
		b := newBuffer(c)
		model := ringbuf.New[Item](c)
		var dst []Item
		n := 0
		var ops []string // the sequence so far, for the failure message
		rt.Repeat(map[string]func(*rapid.T){
			"Push": func(rt *rapid.T) {
				it := MakeItem(0, n)
				n++
				ops = append(ops, "Push")
				if got, want := b.Push(it), model.Push(it); got != want {
					rt.Fatalf("after %s: sequence %d, want %d", strings.Join(ops, ","), got, want)
				}
			},
			"Snapshot": func(rt *rapid.T) {
				// Reuse one dst across calls, with a prefix, as callers do.
				prefix := rapid.IntRange(0, 2).Draw(rt, "prefix")
				dst = dst[:0]
				for i := range prefix {
					dst = append(dst, MakeItem(-1, i))
				}
				ops = append(ops, "Snapshot")
				got, gotLast := b.Snapshot(dst)
				want, wantLast := model.Snapshot(append([]Item(nil), dst...))
				if diff := cmp.Diff(want, got, equateEmpty); diff != "" || gotLast != wantLast {
					rt.Fatalf("after %s: sequence %d (want %d), window (-want +got):\n%s",
						strings.Join(ops, ","), gotLast, wantLast, diff)
				}
				dst = got
			},
			"Len": func(rt *rapid.T) {
				ops = append(ops, "Len")
				if got, want := b.Len(), model.Len(); got != want {
					rt.Fatalf("after %s: Len() = %d, want %d", strings.Join(ops, ","), got, want)
				}
			},
			"": func(rt *rapid.T) {
				if got := b.Cap(); got != c {
					rt.Fatalf("Cap() = %d, want %d", got, c)
				}
			},
		})
	})
}

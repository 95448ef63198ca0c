package lockfree

import (
	"strings"
	"testing"
	"unsafe"
)

// TestLayout asserts the padding: tail and the epoch each alone on a cache
// line, and one line per stripe of reader counts, so that goroutines
// hammering one do not invalidate the line another is read from.
func TestLayout(t *testing.T) {
	var r Ring[string]
	if off := unsafe.Offsetof(r.epoch); off != cacheLine {
		t.Errorf("epoch at offset %d, want %d (one cache line after tail)", off, cacheLine)
	}
	if off := unsafe.Offsetof(r.slots); off != 2*cacheLine {
		t.Errorf("slots at offset %d, want %d (one cache line after epoch)", off, 2*cacheLine)
	}
	if sz := unsafe.Sizeof(stripe{}); sz != cacheLine {
		t.Errorf("stripe is %d bytes, want %d", sz, cacheLine)
	}
}

func TestNewPanics(t *testing.T) {
	defer func() {
		msg, _ := recover().(string)
		if !strings.HasPrefix(msg, "lockfree: ") {
			t.Errorf("New(0) panicked with %q, want a lockfree: message", msg)
		}
	}()
	New[int](0)
}

// TestSlotsAndSpares checks what each array may hold after many pushes:
// slots only the window, spares only entries already evicted from it (an
// entry in the window must never be offered for reuse).
func TestSlotsAndSpares(t *testing.T) {
	const c, pushes = 3, 10
	r := New[int](c)
	for i := 1; i <= pushes; i++ {
		r.Push(i)
	}
	for i := range r.slots {
		if e := r.slots[i].Load(); e.seq <= pushes-c {
			t.Errorf("slot %d still holds evicted sequence %d", i, e.seq)
		}
	}
	spares := 0
	for i := range r.spares {
		if e := r.spares[i].Load(); e != nil {
			spares++
			if e.seq > pushes-c {
				t.Errorf("spare %d holds sequence %d, which is still in the window", i, e.seq)
			}
		}
	}
	if spares == 0 {
		t.Errorf("no evicted entry was parked for reuse")
	}
}

// TestPushReusesEntries checks that, once the ring has wrapped, Push takes
// its entries from the spares instead of allocating (one goroutine, so that
// nothing holds the reclamation epoch back).
func TestPushReusesEntries(t *testing.T) {
	for _, c := range []int{1, 2, 20} {
		r := New[string](c)
		for range 5 * c {
			r.Push("warm-up")
		}
		if a := testing.AllocsPerRun(1000, func() { r.Push("steady") }); a != 0 {
			t.Errorf("cap=%d: Push allocated %v times per call in the steady state, want 0", c, a)
		}
	}
}

package lockfree

import (
	"strings"
	"testing"
	"unsafe"
)

// TestLayout asserts the padding: tail alone on its cache line, so pushes
// that hammer it do not invalidate the line readers load slots from.
func TestLayout(t *testing.T) {
	var r Ring[string]
	if off := unsafe.Offsetof(r.slots); off != cacheLine {
		t.Errorf("slots at offset %d, want %d (one cache line after tail)", off, cacheLine)
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

// TestEvictedUnreachable checks that once a value is overwritten, no slot
// still points at its entry (bounded memory: evicted values are garbage).
func TestEvictedUnreachable(t *testing.T) {
	r := New[int](3)
	for i := 1; i <= 10; i++ {
		r.Push(i)
	}
	for i := range r.slots {
		if e := r.slots[i].Load(); e.seq <= 7 {
			t.Errorf("slot %d still holds evicted sequence %d", i, e.seq)
		}
	}
}

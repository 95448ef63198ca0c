package sharded

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// TestLayout asserts the padding: each shard fills whole cache lines, so
// writers on neighbouring shards never share one, and the sequence counter
// has a line of its own.
func TestLayout(t *testing.T) {
	if sz := unsafe.Sizeof(shard[string]{}); sz%cacheLine != 0 {
		t.Errorf("shard is %d bytes, want a multiple of %d", sz, cacheLine)
	}
	var r Ring[string]
	if off := unsafe.Offsetof(r.shards); off != cacheLine {
		t.Errorf("shards at offset %d, want %d (one cache line after seq)", off, cacheLine)
	}
}

func TestPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"New(0)":        func() { New[int](0) },
		"WithShards(0)": func() { WithShards(0) },
	} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "sharded: ") {
					t.Errorf("%s panicked with %q, want a sharded: message", name, msg)
				}
			}()
			f()
		}()
	}
}

func TestDefaultShards(t *testing.T) {
	want := min(runtime.GOMAXPROCS(0), maxDefaultShards)
	if got := New[int](4).Shards(); got != want {
		t.Errorf("default Shards() = %d, want %d", got, want)
	}
}

// TestSkewedLoad pushes everything through one shard of several: each shard
// must keep the full capacity, or the window would lose values.
func TestSkewedLoad(t *testing.T) {
	r := New[int](5, WithShards(4))
	s := &r.shards[2]
	for i := 1; i <= 12; i++ { // Push, with the shard picked for it
		s.mu.Lock()
		r.store(s, i)
		s.mu.Unlock()
	}
	got, last := r.Snapshot(nil)
	if want := []int{8, 9, 10, 11, 12}; last != 12 || !slices.Equal(got, want) {
		t.Errorf("Snapshot = %v @%d, want %v @12", got, last, want)
	}
}

package bench_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatring/chatring/bench/internal/workload"
	"github.com/chatring/chatring/ringbuf"
)

// BenchmarkFloor times the fixed costs that bound some of issue 6's targets
// on the machine at hand, so that bench/RESULTS.md can say how far a target
// is from what the hardware and the Go runtime allow, with figures from the
// same run rather than from memory. Each runs from one goroutine per P, like
// the workloads; none is a chatring backend, so none is compared with one.
//
//   - backend=clock: time.Now, which History.Append calls once per message
//     (Message.Time). Target 6 wants Append ≤ 2× Push; it cannot be
//     reached where time.Now alone costs more than a Push.
//   - backend=counter: one atomic add on a counter shared by all goroutines,
//     the global sequence number every sharded push draws. With goroutines
//     on several cores each add moves the counter's cache line between
//     them; the sharded ring pays it on top of its shard lock (target 3).
//   - backend=alloc: allocating what a lock-free push allocates (the value
//     plus its sequence number, kept alive as the ring keeps the last 20),
//     garbage collection included: the floor of a lock-free Push
//     (targets 1, 2 and 4).
//   - backend=mutex-direct: the mutex ring's Push called on the concrete
//     type instead of through an interface. The workloads call every
//     contender through an interface; for a generic type that call goes
//     through a wrapper that passes the instantiation's dictionary and
//     copies the 96-byte Message once more, which a hand-written,
//     non-generic ring does not pay (target 1's mutex ÷ slice ring).
func BenchmarkFloor(b *testing.B) {
	msgs := workload.Messages(256, workload.PayloadBytes)
	const mask = 255
	b.Run(workload.Name("backend", "clock"), func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var last time.Time
			n := 0
			for ; pb.Next(); n++ {
				last = time.Now()
			}
			if n > 0 && last.IsZero() {
				b.Error("time.Now returned the zero time")
			}
		})
	})
	b.Run(workload.Name("backend", "counter"), func(b *testing.B) {
		var c struct {
			_ [64]byte // a cache line of its own, as the sharded ring's
			n atomic.Uint64
			_ [56]byte
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.n.Add(1)
			}
		})
		if got := c.n.Load(); got != uint64(b.N) {
			b.Errorf("counter = %d after %d adds", got, b.N)
		}
	})
	b.Run(workload.Name("backend", "alloc"), func(b *testing.B) {
		type entry struct { // lockfree's entry[workload.Msg]
			seq uint64
			v   workload.Msg
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var window [20]*entry // keeps the last 20 reachable, as a ring does
			i := 0
			for ; pb.Next(); i++ {
				window[i%len(window)] = &entry{seq: uint64(i), v: msgs[i&mask]}
			}
			if i > 0 && window[(i-1)%len(window)] == nil {
				b.Error("nothing allocated")
			}
		})
	})
	b.Run(workload.Name("backend", "mutex-direct", "level", workload.LevelRing, "cap", 20), func(b *testing.B) {
		r := ringbuf.New[workload.Msg](20)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				r.Push(msgs[i&mask])
			}
		})
		if _, last := r.Snapshot(nil); last != uint64(b.N) {
			b.Errorf("last sequence number %d after %d pushes", last, b.N)
		}
	})
}

// Package workload defines chatring's benchmark workloads once, so that the
// harness in package bench (chatring's own backends) and the peers module in
// bench/peers (hand-written and third-party histories) run exactly the same
// code and report exactly the same benchmark names.
//
// Every workload is one benchmark function whose sub-benchmarks are key=value
// pairs in a fixed order — backend, level, cap, goroutines — so that
// `benchstat -col /backend` puts the contenders side by side:
//
//	BenchmarkChatMix/backend=lockfree/level=ring/cap=20-8
//	BenchmarkSeed/backend=mutex/level=history/cap=20/goroutines=10-2
//
// The trailing -N is GOMAXPROCS, set by `go test -cpu`. The parallel
// workloads run b.RunParallel with one goroutine per P, so -cpu 1,2,4,8 sweeps
// the number of goroutines; on a 2-core machine -cpu 4 and 8 show goroutines
// outnumbering cores. ns/op is wall time divided by the total operations of
// all goroutines, so it is comparable across contenders and reads as the
// inverse of aggregate throughput (also reported as ops/s).
package workload

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chatring/chatring"
)

// PayloadBytes is the size of every message's content unless a workload says
// otherwise: 64 bytes, a short chat turn.
const PayloadBytes = 64

// Caps are the ring capacities every workload runs at: 20 is the seed's
// max_turns 10 (two messages per turn), 1024 a long conversation.
var Caps = []int{20, 1024}

// SeedGoroutines is the seed's concurrency: 10 threads appending
// user/assistant pairs to one history of max_turns 10.
const SeedGoroutines = 10

// Msg is the element every workload pushes: chatring.Message, the value
// chatring.History stores in its ring, so that level=ring and level=history
// move the same bytes. The workloads fill in Role and Content, the seed's
// {"role": ..., "content": ...} dict.
type Msg = chatring.Message

// Ring is what a contender exposes to the workloads. It has the method set
// of ringbuf.Buffer[Msg] minus Len and Cap, so chatring's backends are used
// directly, with no adapter; peers adapt to it. A contender that does not
// track sequence numbers returns 0.
type Ring interface {
	Push(m Msg) uint64
	Snapshot(dst []Msg) ([]Msg, uint64)
}

// Contender is one row of a benchmark table: a backend at a level.
type Contender struct {
	// Backend is the value of the backend= key: "mutex", "lockfree",
	// "sharded", or a peer's name.
	Backend string
	// Level is the value of the level= key where a workload has one:
	// LevelRing (or "") for a bare buffer, LevelHistory for a
	// chatring.History behind the Ring interface.
	Level string
	// New returns an empty ring of the given capacity.
	New func(capacity int) Ring
	// AppendOnly contenders cannot take a snapshot of their window
	// (go-diodes' ManyToOne only drains); workloads that read skip them.
	AppendOnly bool
}

// Levels of a Contender.
const (
	LevelRing    = "ring"
	LevelHistory = "history"
)

// Messages returns n distinct messages alternating user and assistant, each
// with a content of exactly size bytes. They are built once, before timing,
// so that no workload allocates to make a message.
func Messages(n, size int) []Msg {
	ms := make([]Msg, n)
	for i := range ms {
		role := chatring.User
		if i%2 == 1 {
			role = chatring.Assistant
		}
		head := fmt.Sprintf("%s %d: ", role, i)
		ms[i] = Msg{Role: role, Content: head + strings.Repeat("x", max(size-len(head), 0))}
	}
	return ms
}

// pool is the message pool every workload draws from; its length is a power
// of two so that the index is a mask.
var pool = Messages(256, PayloadBytes)

const poolMask = 255

// Name formats a sub-benchmark name from key=value pairs, in the order given.
func Name(kv ...any) string {
	var sb strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			sb.WriteByte('/')
		}
		fmt.Fprintf(&sb, "%v=%v", kv[i], kv[i+1])
	}
	return sb.String()
}

// fill pushes capacity messages from the calling goroutine so the window is
// full before timing starts: every snapshot then copies a whole window and
// every push evicts.
//
// On the sharded ring a goroutine pushes to its own shard when that shard
// is free, so the whole window starts in one shard and the others are
// empty. The timed goroutines' pushes then spread the window over their own
// shards, as concurrent writers do; Snapshot, which pushes nothing while
// timed, reads a window held in one shard throughout (which may be cheaper
// to merge than one spread over every shard; not measured).
func fill(r Ring, capacity int) {
	for i := range capacity {
		r.Push(pool[i&poolMask])
	}
}

// Append is the append-only workload: every operation is one Push, from one
// goroutine per P.
//
// With contenders of both levels, `benchstat -col /level` gives the cost of
// chatring.History.Append (validation, metrics, token count) over the bare
// Push of the same backend.
func Append(b *testing.B, cs []Contender) { Mix(b, cs, 0) }

// WriteHeavyReadPercent, ChatMixReadPercent and ReadHeavyReadPercent are
// the share of operations that are snapshots in WriteHeavy, ChatMix and
// ReadHeavy.
const (
	WriteHeavyReadPercent = 1
	ChatMixReadPercent    = 10
	ReadHeavyReadPercent  = 90
)

// WriteHeavy is 99% pushes and 1% snapshots: many writers, an occasional
// reader (a monitor, a logger).
func WriteHeavy(b *testing.B, cs []Contender) { Mix(b, cs, WriteHeavyReadPercent) }

// ChatMix is 90% pushes and 10% snapshots: a chat service that appends
// every message and reads the window now and then.
func ChatMix(b *testing.B, cs []Contender) { Mix(b, cs, ChatMixReadPercent) }

// ReadHeavy is 10% pushes and 90% snapshots: many readers rendering or
// replaying the window, few writers.
func ReadHeavy(b *testing.B, cs []Contender) { Mix(b, cs, ReadHeavyReadPercent) }

// Snapshot is 100% snapshots of a full window into a dst with room, so its
// allocs/op is the allocation of Snapshot itself.
func Snapshot(b *testing.B, cs []Contender) { Mix(b, cs, 100) }

// Mix runs, for every contender and capacity, b.RunParallel with one
// goroutine per P, where readPercent of every 100 operations are snapshots
// (spread evenly, not in bursts) and the rest are pushes of alternating
// user and assistant messages. Each goroutine reuses its own dst, so a
// snapshot allocates only if the contender does. With readPercent > 0,
// append-only contenders are skipped (no sub-benchmark).
//
// Sub-benchmarks: backend=B/level=L/cap=C.
func Mix(b *testing.B, cs []Contender, readPercent int) {
	if readPercent < 0 || readPercent > 100 {
		panic("workload: readPercent must be in [0, 100]")
	}
	for _, c := range cs {
		if c.AppendOnly && readPercent > 0 {
			continue
		}
		for _, capacity := range Caps {
			b.Run(name(c, capacity), func(b *testing.B) {
				r := c.New(capacity)
				fill(r, capacity)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					dst := make([]Msg, 0, capacity)
					for i := 0; pb.Next(); i++ {
						if isRead(i, readPercent) {
							dst, _ = r.Snapshot(dst[:0])
						} else {
							r.Push(pool[i&poolMask])
						}
					}
				})
				reportThroughput(b)
			})
		}
	}
}

// isRead reports whether operation i of a goroutine is a snapshot when
// readPercent of every 100 are: it is when the running count of reads,
// i*readPercent/100, steps up (Bresenham's spread), so reads are evenly
// interleaved with pushes rather than bunched.
func isRead(i, readPercent int) bool {
	return readPercent > 0 && (i*readPercent)%100 < readPercent
}

// Seed is the seed's shape: SeedGoroutines goroutines each appending
// user/assistant pairs to one history of capacity 20 (max_turns 10). The
// b.N appends are split evenly among the goroutines (the first b.N %
// SeedGoroutines take one more), so ns/op is wall time per append. Like
// every workload, it starts from a full window, so every timed append
// evicts; the seed's own run starts from an empty manager, which differs
// only in its first 20 appends.
//
// Sub-benchmarks: backend=B/level=L/cap=20/goroutines=10.
func Seed(b *testing.B, cs []Contender) {
	const capacity = 20
	for _, c := range cs {
		b.Run(name(c, capacity)+"/"+Name("goroutines", SeedGoroutines), func(b *testing.B) {
			r := c.New(capacity)
			fill(r, capacity)
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for g := range SeedGoroutines {
				n := b.N / SeedGoroutines
				if g < b.N%SeedGoroutines {
					n++
				}
				wg.Go(func() {
					// Message i of goroutine g alternates user, assistant,
					// as the seed's worker does.
					for i := range n {
						r.Push(pool[(g*2+i)&poolMask])
					}
				})
			}
			wg.Wait()
			reportThroughput(b)
		})
	}
}

func name(c Contender, capacity int) string {
	level := c.Level
	if level == "" {
		level = LevelRing
	}
	return Name("backend", c.Backend, "level", level, "cap", capacity)
}

// reportThroughput adds the ops/s metric: aggregate operations per second of
// all goroutines, the inverse of ns/op.
func reportThroughput(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}

package workload

import (
	"context"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/chatring/chatring"
)

// unsafeSizeofMessage is the size of the Message struct a ring slot holds.
const unsafeSizeofMessage = unsafe.Sizeof(chatring.Message{})

// Conversations are the store sizes the store-level workloads run at: one
// conversation (the store's own overhead over History), a thousand (a
// busy replica) and a million (every session of a large service). With
// -short, the million is left out: filling it takes seconds per backend.
var Conversations = []int{1, 1_000, 1_000_000}

// Distributions of the conversation each operation touches.
const (
	// Uniform picks every conversation with the same probability.
	Uniform = "uniform"
	// Zipf picks conversation k with probability proportional to
	// 1/(k+1)^1.1: a few conversations are busy, most are quiet, as in a
	// chat service where some users are in a long session.
	Zipf = "zipf"
)

// StoreCap is the window of every conversation in the store workloads:
// the default 10 turns.
const StoreCap = 2 * chatring.DefaultMaxTurns

// picks is the length of the table of pre-drawn conversation indices each
// goroutine walks, so that drawing a Zipf variate is not timed.
const picks = 1 << 16

// storeFixture is a MemoryStore with convs conversations, each holding
// one message, and the tables the workloads draw from.
type storeFixture struct {
	s     *chatring.MemoryStore
	names []string
	picks map[string][]int32 // by distribution
}

// newStoreFixture builds the fixture for backend and convs.
func newStoreFixture(backend string, convs int) *storeFixture {
	s, err := chatring.NewMemoryStore(chatring.Config{Backend: backend, MaxConversations: max(convs, chatring.DefaultMaxConversations)})
	if err != nil {
		panic("workload: " + err.Error())
	}
	f := &storeFixture{s: s, names: make([]string, convs)}
	ctx := context.Background()
	for i := range f.names {
		f.names[i] = fmt.Sprintf("user-%d:session", i)
		if _, err := s.Append(ctx, f.names[i], pool[i&poolMask]); err != nil {
			panic("workload: " + err.Error())
		}
	}
	f.picks = newPicks(convs)
	return f
}

// newPicks returns the tables of conversation indices in [0, convs) for
// each distribution, the same for every call with the same convs.
func newPicks(convs int) map[string][]int32 {
	rng := rand.New(rand.NewSource(1))
	uni, zipf := make([]int32, picks), make([]int32, picks)
	if convs > 1 {
		z := rand.NewZipf(rng, 1.1, 1, uint64(convs-1))
		for i := range picks {
			uni[i] = int32(rng.Intn(convs))
			zipf[i] = int32(z.Uint64())
		}
	}
	return map[string][]int32{Uniform: uni, Zipf: zipf}
}

func (f *storeFixture) close() { f.s.Close(context.Background()) }

// StoreOp is an operation of a store workload.
type StoreOp int

// The store workloads' mixes.
const (
	// StoreAppendOnly appends only.
	StoreAppendOnly StoreOp = iota
	// StoreChatMix appends 90% and reads the window (Messages into a dst
	// with room) 10% of the time, as ChatMix does for rings.
	StoreChatMix
	// StoreWindowOnly reads Window with the default budget only.
	StoreWindowOnly
)

// Store runs op on a MemoryStore of each backend, at every size in
// Conversations and both distributions, from one goroutine per P; every
// conversation holds one message before timing starts, so appends find
// their conversation (the cost measured is the steady state, not
// creation). Beside each store of up to HistoryBaselineConvs
// conversations, the same operations run on as many chatring.History
// values in a slice, picked by the same table (level=history): the
// baseline without the store's lookup, with the same memory traffic.
//
// Sub-benchmarks: backend=B/level=L/cap=20/convs=N/dist=D.
func Store(b *testing.B, backends []string, op StoreOp) {
	for _, backend := range backends {
		for _, convs := range Conversations {
			if convs >= 1_000_000 && testing.Short() {
				continue
			}
			var f *storeFixture // built once for both distributions
			var hs []*chatring.History
			for _, dist := range []string{Uniform, Zipf} {
				if convs == 1 && dist == Zipf {
					continue
				}
				if convs <= HistoryBaselineConvs {
					b.Run(Name("backend", backend, "level", LevelHistory, "cap", StoreCap, "convs", convs, "dist", dist), func(b *testing.B) {
						if hs == nil {
							hs = make([]*chatring.History, convs)
							for i := range hs {
								hs[i] = newHistory(backend, StoreCap)
								historyRing{hs[i]}.Push(pool[i&poolMask])
							}
						}
						table := newPicks(convs)
						runStoreOp(b, op, func(ctx context.Context, i int32, m Msg) error {
							_, err := hs[i].Append(ctx, m)
							return err
						}, func(ctx context.Context, i int32, dst []Msg) ([]Msg, error) {
							return hs[i].Messages(ctx, dst)
						}, func(ctx context.Context, i int32) error {
							_, err := hs[i].Window(ctx, 0)
							return err
						}, table[dist])
					})
				}
				b.Run(Name("backend", backend, "level", "store", "cap", StoreCap, "convs", convs, "dist", dist), func(b *testing.B) {
					if f == nil {
						f = newStoreFixture(backend, convs)
					}
					runStoreOp(b, op, func(ctx context.Context, i int32, m Msg) error {
						_, err := f.s.Append(ctx, f.names[i], m)
						return err
					}, func(ctx context.Context, i int32, dst []Msg) ([]Msg, error) {
						return f.s.Messages(ctx, f.names[i], dst)
					}, func(ctx context.Context, i int32) error {
						_, err := f.s.Window(ctx, f.names[i], 0)
						return err
					}, f.picks[dist])
				})
			}
			if f != nil {
				f.close()
			}
			f, hs = nil, nil
			runtime.GC() // let the next size start without this one's garbage
		}
	}
}

// HistoryBaselineConvs is the largest number of conversations the
// level=history baseline of Store runs at.
const HistoryBaselineConvs = 1000

// runStoreOp times op with one goroutine per P; table holds the
// conversation indices to walk.
func runStoreOp(b *testing.B, op StoreOp, add func(context.Context, int32, Msg) error,
	read func(context.Context, int32, []Msg) ([]Msg, error), window func(context.Context, int32) error, table []int32) {
	var goroutine atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		dst := make([]Msg, 0, StoreCap)
		g := int(goroutine.Add(1))
		var err error
		for i := 0; pb.Next(); i++ {
			conv := table[(g*7919+i)&(picks-1)]
			switch {
			case op == StoreWindowOnly:
				err = window(ctx, conv)
			case op == StoreChatMix && isRead(i, ChatMixReadPercent):
				dst, err = read(ctx, conv, dst[:0])
			default:
				err = add(ctx, conv, pool[i&poolMask])
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportThroughput(b)
}

// StoreMemory fills a MemoryStore of each backend with convs
// conversations, each holding a full default window (20 messages of
// PayloadBytes bytes), and reports, from runtime.ReadMemStats after a GC:
//
//   - heap-B/conv: the heap the store holds per conversation;
//   - payload-B/conv: what the conversation holds, 20 Message structs and
//     their contents;
//   - heap/payload: the two divided (the target is at most 2);
//   - estimate/heap: StoreStats.HeldBytes divided by the heap measured;
//   - deleted-B/conv: the heap still held per conversation after Delete of
//     every conversation (what is not reclaimed);
//   - expired-B/conv: the same after every conversation expired (IdleTTL);
//   - evicted-B/held: filling a store bounded at convs/10 with convs
//     conversations, the heap per conversation it still holds.
//
// Sub-benchmarks: backend=B/level=store/cap=20/convs=N. Each iteration
// fills and empties the stores once; run it with -benchtime 1x.
func StoreMemory(b *testing.B, backends []string, convs int) {
	for _, backend := range backends {
		b.Run(Name("backend", backend, "level", "store", "cap", StoreCap, "convs", convs), func(b *testing.B) {
			var m memoryFigures
			for range b.N {
				m = measureMemory(b, backend, convs)
			}
			payload := float64(StoreCap * (int(unsafeSizeofMessage) + PayloadBytes))
			b.ReportMetric(m.heap, "heap-B/conv")
			b.ReportMetric(payload, "payload-B/conv")
			b.ReportMetric(m.heap/payload, "heap/payload")
			b.ReportMetric(m.estimate/m.heap, "estimate/heap")
			b.ReportMetric(m.deleted, "deleted-B/conv")
			b.ReportMetric(m.expired, "expired-B/conv")
			b.ReportMetric(m.evicted, "evicted-B/held")
		})
	}
}

type memoryFigures struct {
	heap, estimate, deleted, expired, evicted float64
}

// heapNow returns the live heap after two collections.
func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// fillStore appends StoreCap messages to each of convs conversations. Each
// message's content is a copy of its own, as a service decoding requests
// would have, so the strings count in the heap.
func fillStore(b *testing.B, s *chatring.MemoryStore, names []string) {
	ctx := context.Background()
	for i, name := range names {
		for j := range StoreCap {
			m := pool[(i+j)&poolMask]
			m.Content = strings.Clone(m.Content)
			if _, err := s.Append(ctx, name, m); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func measureMemory(b *testing.B, backend string, convs int) memoryFigures {
	var f memoryFigures
	names := make([]string, convs)
	for i := range names {
		names[i] = fmt.Sprintf("user-%d:session", i)
	}
	ctx := context.Background()
	newStore := func(cfg chatring.Config) *chatring.MemoryStore {
		cfg.Backend = backend
		s, err := chatring.NewMemoryStore(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}

	// Filled, then deleted.
	base := heapNow()
	s := newStore(chatring.Config{MaxConversations: convs})
	fillStore(b, s, names)
	held := heapNow()
	f.heap = float64(held-base) / float64(convs)
	f.estimate = float64(s.Stats().HeldBytes) / float64(convs)
	for _, name := range names {
		if err := s.Delete(ctx, name); err != nil {
			b.Fatal(err)
		}
	}
	f.deleted = (float64(heapNow()) - float64(base)) / float64(convs)
	s.Close(ctx)

	// Filled, then expired.
	base = heapNow()
	s = newStore(chatring.Config{MaxConversations: convs, IdleTTL: time.Second})
	fillStore(b, s, names)
	deadline := time.Now().Add(30 * time.Second)
	for s.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // otter's clean-up runs every second
	}
	f.expired = (float64(heapNow()) - float64(base)) / float64(convs)
	s.Close(ctx)

	// Bounded at a tenth, filled with all.
	base = heapNow()
	s = newStore(chatring.Config{MaxConversations: max(convs/10, 1)})
	fillStore(b, s, names)
	deadline = time.Now().Add(30 * time.Second)
	for s.Len() > max(convs/10, 1) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	f.evicted = (float64(heapNow()) - float64(base)) / float64(max(s.Len(), 1))
	s.Close(ctx)
	return f
}

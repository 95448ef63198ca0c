package bench_test

import (
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/bench/internal/workload"
)

// The workloads, each defined once in package workload, on chatring's three
// backends at level ring (the bare ringbuf.Buffer) and, where the domain
// layer has the operation, at level history (chatring.History). bench/peers
// runs the ring-level ones on the peers.

// both is every backend at level ring, then at level history.
var both = append(append([]workload.Contender{}, workload.Backends...), workload.Histories...)

func BenchmarkAppend(b *testing.B)     { workload.Append(b, both) }
func BenchmarkWriteHeavy(b *testing.B) { workload.WriteHeavy(b, workload.Backends) }
func BenchmarkChatMix(b *testing.B)    { workload.ChatMix(b, both) }
func BenchmarkReadHeavy(b *testing.B)  { workload.ReadHeavy(b, workload.Backends) }
func BenchmarkSnapshot(b *testing.B)   { workload.Snapshot(b, both) }
func BenchmarkSeed(b *testing.B)       { workload.Seed(b, both) }
func BenchmarkWindow(b *testing.B)     { workload.Window(b, chatring.Backends()) }

// BenchmarkHistoryAppend is issue 13's table: History.Append (default
// clock, a fixed clock and a CoarseClock) beside the bare Push of the same
// backend, for a 64-byte ASCII message, a 64-byte Chinese one and a 2 KiB
// English paragraph. Compare with benchstat -col /level.
func BenchmarkHistoryAppend(b *testing.B) { workload.HistoryAppend(b, workload.Backends) }

// Store-level workloads: chatring.MemoryStore over 1, 1 000 and 1 000 000
// conversations (the million is left out with -short), uniform and
// Zipf-skewed, with as many Histories in a slice as the baseline (up to
// 1 000 conversations).
func BenchmarkStoreAppend(b *testing.B) {
	workload.Store(b, chatring.Backends(), workload.StoreAppendOnly)
}
func BenchmarkStoreChatMix(b *testing.B) {
	workload.Store(b, chatring.Backends(), workload.StoreChatMix)
}
func BenchmarkStoreWindow(b *testing.B) {
	workload.Store(b, chatring.Backends(), workload.StoreWindowOnly)
}

// BenchmarkStoreMemory measures the heap of 100 000 conversations with
// full windows (2 000 with -short, as in make bench-smoke); run it with
// -benchtime 1x.
func BenchmarkStoreMemory(b *testing.B) {
	convs := 100_000
	if testing.Short() {
		convs = 2_000
	}
	workload.StoreMemory(b, chatring.Backends(), convs)
}

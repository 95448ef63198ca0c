package bench_test

import (
	"testing"

	"github.com/chatring/chatring/bench/internal/workload"
)

// The ring-level workloads on chatring's three backends. Each is defined
// once in package workload; bench/peers runs the same ones on the peers.

func BenchmarkAppend(b *testing.B)     { workload.Append(b, workload.Backends) }
func BenchmarkWriteHeavy(b *testing.B) { workload.WriteHeavy(b, workload.Backends) }
func BenchmarkChatMix(b *testing.B)    { workload.ChatMix(b, workload.Backends) }
func BenchmarkReadHeavy(b *testing.B)  { workload.ReadHeavy(b, workload.Backends) }
func BenchmarkSnapshot(b *testing.B)   { workload.Snapshot(b, workload.Backends) }
func BenchmarkSeed(b *testing.B)       { workload.Seed(b, workload.Backends) }

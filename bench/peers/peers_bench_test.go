package peers_test

import (
	"io"
	"log"
	"os"
	"testing"

	"github.com/chatring/chatring/bench/internal/workload"
	"github.com/chatring/chatring/bench/peers"
)

// all is chatring's backends followed by the peers: contenders in the same
// run, so that benchstat's ratios compare like with like.
var all = append(append([]workload.Contender{}, workload.Backends...), peers.Contenders...)

func TestMain(m *testing.M) {
	// go-diodes logs "Diode set collision" through the standard logger when
	// writers lap each other; that is expected under contention here.
	log.SetOutput(io.Discard)
	code := m.Run()
	stopRedis()
	os.Exit(code)
}

func BenchmarkAppend(b *testing.B)     { workload.Append(b, all) }
func BenchmarkWriteHeavy(b *testing.B) { workload.WriteHeavy(b, all) }
func BenchmarkChatMix(b *testing.B)    { workload.ChatMix(b, all) }
func BenchmarkReadHeavy(b *testing.B)  { workload.ReadHeavy(b, all) }
func BenchmarkSnapshot(b *testing.B)   { workload.Snapshot(b, all) }
func BenchmarkSeed(b *testing.B)       { workload.Seed(b, all) }

package ringtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/chatring/chatring/ringbuf"
)

// Operations of a recorded history: the input and output of each call.
type (
	pushInput     struct{ v Item }
	snapshotInput struct{}
	lenInput      struct{}

	snapshotOutput struct {
		items []Item
		last  uint64
	}
)

// specState is the sequential specification's state: how many values were
// pushed and the window. Step never mutates a state; it returns a new one.
type specState struct {
	pushed uint64
	window []Item
}

// spec returns the sequential specification of a Buffer of capacity c, in
// porcupine's terms.
func spec(c int) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return specState{} },
		Step: func(state, input, output any) (bool, any) {
			s := state.(specState)
			switch in := input.(type) {
			case pushInput:
				if output.(uint64) != s.pushed+1 {
					return false, s
				}
				w := append(slices.Clone(s.window), in.v)
				if len(w) > c {
					w = w[1:]
				}
				return true, specState{pushed: s.pushed + 1, window: w}
			case snapshotInput:
				out := output.(snapshotOutput)
				return out.last == s.pushed && slices.Equal(out.items, s.window), s
			case lenInput:
				return output.(int) == len(s.window), s
			}
			panic(fmt.Sprintf("ringtest: unknown input %T", input))
		},
		Equal: func(a, b any) bool {
			x, y := a.(specState), b.(specState)
			return x.pushed == y.pushed && slices.Equal(x.window, y.window)
		},
		DescribeOperation: func(input, output any) string {
			switch in := input.(type) {
			case pushInput:
				return fmt.Sprintf("Push(%v) -> %d", in.v, output)
			case snapshotInput:
				out := output.(snapshotOutput)
				return fmt.Sprintf("Snapshot() -> %v @%d", out.items, out.last)
			default:
				return fmt.Sprintf("Len() -> %d", output)
			}
		},
		DescribeState: func(state any) string {
			s := state.(specState)
			return fmt.Sprintf("%v @%d", s.window, s.pushed)
		},
	}
}

// testLinearizable records many short concurrent histories on tiny buffers
// and checks each with porcupine.
func testLinearizable(t *testing.T, newBuffer NewBuffer) {
	const opsPerGoroutine = 8
	for h := range *histories {
		c := 2 + h%4          // capacities 2..5: the window wraps constantly
		goroutines := 4 + h%5 // 4..8 goroutines
		seed := uint64(h)
		ops := record(newBuffer(c), goroutines, opsPerGoroutine, seed)
		res, info := porcupine.CheckOperationsVerbose(spec(c), ops, 30*time.Second)
		switch res {
		case porcupine.Ok:
			continue
		case porcupine.Unknown:
			t.Fatalf("history %d (cap=%d, goroutines=%d, seed=%d): porcupine could not decide within 30s", h, c, goroutines, seed)
		}
		msg := fmt.Sprintf("history %d (cap=%d, goroutines=%d, seed=%d) is not linearizable", h, c, goroutines, seed)
		if *visDir != "" {
			if f, err := os.CreateTemp(*visDir, "ringtest-history-*.html"); err == nil {
				if porcupine.Visualize(spec(c), info, f) == nil {
					msg += "; visualization: " + f.Name()
				}
				f.Close()
			}
		}
		for _, op := range ops {
			msg += fmt.Sprintf("\n  g%d [%3d,%3d] %s", op.ClientId, op.Call, op.Return, spec(c).DescribeOperation(op.Input, op.Output))
		}
		t.Fatal(msg)
	}
}

// record runs goroutines that each perform n random operations on b and
// returns the history. Time is a logical clock — one atomic counter read at
// every call and every return — so the real-time order porcupine checks
// against is exact, with no clock resolution or skew to hide an overlap.
func record(b ringbuf.Buffer[Item], goroutines, n int, seed uint64) []porcupine.Operation {
	var clock atomic.Int64
	hist := make([][]porcupine.Operation, goroutines)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		rng := rand.New(rand.NewPCG(seed, uint64(g)))
		wg.Go(func() {
			<-start
			for i := range n {
				op := porcupine.Operation{ClientId: g}
				k := rng.IntN(10)
				op.Call = clock.Add(1)
				switch {
				case k < 5:
					v := MakeItem(g, i)
					op.Input = pushInput{v}
					op.Output = b.Push(v)
				case k < 9:
					items, last := b.Snapshot(nil)
					op.Input, op.Output = snapshotInput{}, snapshotOutput{items, last}
				default:
					op.Input, op.Output = lenInput{}, b.Len()
				}
				op.Return = clock.Add(1)
				hist[g] = append(hist[g], op)
				if rng.IntN(3) == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	close(start)
	wg.Wait()
	return slices.Concat(hist...)
}

package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/chatring/chatring"
)

// Operations of a recorded history, each on one conversation.
type (
	opKind int

	linInput struct {
		conv    string
		kind    opKind
		content string // appendOp
		// before (clearOp) holds the contents of the Appends on conv
		// that returned before the Clear was called: it must clear
		// those; a message appended concurrently it may leave.
		before map[string]bool
	}

	// linOutput is what a call returned: the Seq of an Append, the window
	// of a Messages ("seq:content" each), or nothing.
	linOutput struct {
		seq    uint64
		window []string
	}

	// linState is the specification's state of one conversation. Step
	// never mutates a state; it returns a new one.
	linState struct {
		last   uint64
		window []string // "seq:content", oldest first
	}
)

const (
	appendOp opKind = iota
	messagesOp
	clearOp
	deleteOp
)

// linSpec returns the sequential specification of one conversation with a
// window of c messages, partitioned by conversation.
//
// Clear is History.Clear's, as the Store interface says: it clears at
// least every message appended before it was called, and a message
// appended concurrently may or may not be cleared, even one a read saw
// before the Clear took effect. History.Clear reads the ring's newest Seq
// and then raises its watermark to it, and a message pushed in between
// survives. So at its linearization point a Clear drops a prefix of the
// window: at least up to the newest message of in.before in it, at most
// all of it.
func linSpec(c int) porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			byConv := map[string][]porcupine.Operation{}
			var order []string
			for _, op := range history {
				conv := op.Input.(linInput).conv
				if _, ok := byConv[conv]; !ok {
					order = append(order, conv)
				}
				byConv[conv] = append(byConv[conv], op)
			}
			out := make([][]porcupine.Operation, 0, len(order))
			for _, conv := range order {
				out = append(out, byConv[conv])
			}
			return out
		},
		Init: func() []any { return []any{linState{}} },
		Step: func(state, input, output any) []any {
			s, in, out := state.(linState), input.(linInput), output.(linOutput)
			switch in.kind {
			case appendOp:
				if out.seq != s.last+1 {
					return nil
				}
				w := append(slices.Clone(s.window), fmt.Sprintf("%d:%s", out.seq, in.content))
				if len(w) > c {
					w = w[1:]
				}
				return []any{linState{last: out.seq, window: w}}
			case messagesOp:
				if !slices.Equal(out.window, s.window) {
					return nil
				}
				return []any{s}
			case clearOp:
				least := 0 // messages the Clear must drop
				for i, m := range s.window {
					if _, content, _ := strings.Cut(m, ":"); in.before[content] {
						least = i + 1
					}
				}
				next := make([]any, 0, len(s.window)-least+1)
				for k := least; k <= len(s.window); k++ {
					next = append(next, linState{last: s.last, window: s.window[k:]})
				}
				return next
			case deleteOp:
				return []any{linState{}}
			}
			panic(fmt.Sprintf("storetest: unknown operation %d", in.kind))
		},
		Equal: func(a, b any) bool {
			x, y := a.(linState), b.(linState)
			return x.last == y.last && slices.Equal(x.window, y.window)
		},
		DescribeOperation: func(input, output any) string {
			in, out := input.(linInput), output.(linOutput)
			switch in.kind {
			case appendOp:
				return fmt.Sprintf("%s: Append(%s) -> %d", in.conv, in.content, out.seq)
			case messagesOp:
				return fmt.Sprintf("%s: Messages() -> [%s]", in.conv, strings.Join(out.window, " "))
			case clearOp:
				return in.conv + ": Clear()"
			default:
				return in.conv + ": Delete()"
			}
		},
		DescribeState: func(state any) string {
			s := state.(linState)
			return fmt.Sprintf("[%s] @%d", strings.Join(s.window, " "), s.last)
		},
	}
	return nm.ToModel()
}

// testLinearizable records many short concurrent histories over three
// conversations with tiny windows and checks each with porcupine.
func testLinearizable(t *testing.T, newStore NewStore) {
	const opsPerGoroutine = 8
	for maxTurns := 1; maxTurns <= 2; maxTurns++ {
		s := open(t, newStore, chatring.Config{MaxTurns: maxTurns})
		c := 2 * maxTurns
		for h := range *histories / 2 {
			goroutines := 4 + h%4
			seed := uint64(h)
			prefix := fmt.Sprintf("lin-%d-%d-", maxTurns, h)
			ops, err := recordStore(s, prefix, goroutines, opsPerGoroutine, seed)
			if err != nil {
				t.Fatalf("history %d: %v", h, err)
			}
			res, _ := porcupine.CheckOperationsVerbose(linSpec(c), ops, 30*time.Second)
			switch res {
			case porcupine.Ok:
				continue
			case porcupine.Unknown:
				t.Fatalf("history %d (window %d, goroutines %d, seed %d): porcupine could not decide within 30s", h, c, goroutines, seed)
			}
			msg := fmt.Sprintf("history %d (window %d, goroutines %d, seed %d) is not linearizable:", h, c, goroutines, seed)
			for _, op := range ops {
				msg += fmt.Sprintf("\n  g%d [%3d,%3d] %s", op.ClientId, op.Call, op.Return, linSpec(c).DescribeOperation(op.Input, op.Output))
			}
			t.Fatal(msg)
		}
	}
}

// recordStore runs goroutines that each perform n random operations on
// three conversations of s and returns the history. Time is a logical
// clock, one atomic counter read at every call and every return.
func recordStore(s chatring.Store, prefix string, goroutines, n int, seed uint64) ([]porcupine.Operation, error) {
	var clock atomic.Int64
	hist := make([][]porcupine.Operation, goroutines)
	errs := make([]error, goroutines)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		rng := rand.New(rand.NewPCG(seed, uint64(g)))
		wg.Go(func() {
			ctx := context.Background()
			<-start
			for i := range n {
				in := linInput{conv: fmt.Sprint(prefix, rng.IntN(3))}
				var out linOutput
				var err error
				call := clock.Add(1)
				switch k := rng.IntN(20); {
				case k < 10:
					in.kind, in.content = appendOp, fmt.Sprintf("g%d.%d", g, i)
					var m chatring.Message
					m, err = s.Append(ctx, in.conv, chatring.Message{Role: chatring.User, Content: in.content})
					out.seq = m.Seq
				case k < 18:
					in.kind = messagesOp
					var win []chatring.Message
					win, err = s.Messages(ctx, in.conv, nil)
					for _, m := range win {
						out.window = append(out.window, fmt.Sprintf("%d:%s", m.Seq, m.Content))
					}
				case k < 19:
					in.kind = clearOp
					err = s.Clear(ctx, in.conv)
				default:
					in.kind = deleteOp
					err = s.Delete(ctx, in.conv)
				}
				ret := clock.Add(1)
				if err != nil {
					errs[g] = err
					return
				}
				hist[g] = append(hist[g], porcupine.Operation{ClientId: g, Input: in, Output: out, Call: call, Return: ret})
				if rng.IntN(3) == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	ops := slices.Concat(hist...)
	addBefore(ops)
	return ops, nil
}

// addBefore fills in the before set of every Clear in ops: the contents
// of the Appends on its conversation that returned before it was called.
func addBefore(ops []porcupine.Operation) {
	for i, op := range ops {
		in := op.Input.(linInput)
		if in.kind != clearOp {
			continue
		}
		in.before = map[string]bool{}
		for _, a := range ops {
			if ai := a.Input.(linInput); ai.kind == appendOp && ai.conv == in.conv && a.Return < op.Call {
				in.before[ai.content] = true
			}
		}
		ops[i].Input = in
	}
}

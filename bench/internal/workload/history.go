package workload

import (
	"context"
	"fmt"
	"testing"

	"github.com/chatring/chatring"
)

// Histories are chatring.History on each of the three backends, at level
// history: Push is History.Append (validation, token count, metrics) and
// Snapshot is History.Messages. A History of capacity c has MaxTurns c/2.
var Histories = []Contender{
	{Backend: chatring.BackendMutex, Level: LevelHistory, New: newHistoryRing(chatring.BackendMutex)},
	{Backend: chatring.BackendLockFree, Level: LevelHistory, New: newHistoryRing(chatring.BackendLockFree)},
	{Backend: chatring.BackendSharded, Level: LevelHistory, New: newHistoryRing(chatring.BackendSharded)},
}

// historyRing is a chatring.History behind the Ring interface.
type historyRing struct{ h *chatring.History }

func newHistoryRing(backend string) func(capacity int) Ring {
	return func(capacity int) Ring { return historyRing{newHistory(backend, capacity)} }
}

// newHistory returns a History of capacity messages (capacity/2 turns) on
// backend, with the default tokenizer, no logger output and opts.
func newHistory(backend string, capacity int, opts ...chatring.Option) *chatring.History {
	h, err := chatring.New(chatring.Config{Backend: backend, MaxTurns: capacity / 2}, opts...)
	if err != nil {
		panic("workload: " + err.Error())
	}
	return h
}

func (r historyRing) Push(m Msg) uint64 {
	out, err := r.h.Append(context.Background(), m)
	if err != nil {
		panic("workload: " + err.Error())
	}
	return out.Seq
}

func (r historyRing) Snapshot(dst []Msg) ([]Msg, uint64) {
	dst, err := r.h.Messages(context.Background(), dst)
	if err != nil {
		panic("workload: " + err.Error())
	}
	var last uint64
	if len(dst) > 0 {
		last = dst[len(dst)-1].Seq
	}
	return dst, last
}

// WindowBudgetPercent is the token budget of the Window workload, as a
// share of the tokens in the full window: the budget cuts the window about
// in half, so Window walks back through half of it and drops the rest.
const WindowBudgetPercent = 50

// Window is the domain-level read: History.Window with a token budget of
// WindowBudgetPercent of the full window's tokens, on a full history, from
// one goroutine per P. It allocates the slice it returns (Window has no dst).
//
// Sub-benchmarks: backend=B/level=history/cap=C/budget=50%.
func Window(b *testing.B, backends []string) {
	ctx := context.Background()
	for _, backend := range backends {
		for _, capacity := range Caps {
			c := Contender{Backend: backend, Level: LevelHistory}
			b.Run(name(c, capacity)+"/"+Name("budget", fmt.Sprintf("%d%%", WindowBudgetPercent)), func(b *testing.B) {
				h := newHistory(backend, capacity)
				r := historyRing{h}
				fill(r, capacity)
				full, err := h.Window(ctx, chatring.MaxMaxTokens)
				if err != nil {
					b.Fatal(err)
				}
				total := 0
				for _, m := range full {
					total += m.Tokens
				}
				budget := max(total*WindowBudgetPercent/100, 1)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := h.Window(ctx, budget); err != nil {
							b.Error(err)
							return
						}
					}
				})
				reportThroughput(b)
			})
		}
	}
}

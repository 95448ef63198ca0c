package storetest

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestLinSpec checks linSpec on histories written by hand, each on one
// conversation with a window of 2.
func TestLinSpec(t *testing.T) {
	type op struct {
		g         int
		call, ret int64
		kind      opKind
		content   string
		seq       uint64
		window    []string
	}
	app := func(g int, call, ret int64, content string, seq uint64) op {
		return op{g: g, call: call, ret: ret, kind: appendOp, content: content, seq: seq}
	}
	msgs := func(g int, call, ret int64, window ...string) op {
		return op{g: g, call: call, ret: ret, kind: messagesOp, window: window}
	}
	clr := func(g int, call, ret int64) op { return op{g: g, call: call, ret: ret, kind: clearOp} }
	del := func(g int, call, ret int64) op { return op{g: g, call: call, ret: ret, kind: deleteOp} }
	for _, tc := range []struct {
		name string
		ok   bool
		ops  []op
	}{
		// A MemoryStore's Clear read the ring at 1, then an Append of 2
		// returned and a read saw 1 and 2, then the Clear raised its
		// watermark to 1: 2 survives. History.Clear allows it (a
		// concurrent Append may or may not be cleared); the model used to
		// reject it, clearing everything at the Clear's instant.
		{"concurrent_append_survives_a_clear_after_a_read_saw_it", true, []op{
			app(0, 1, 2, "a", 1),
			clr(1, 3, 12),
			app(0, 4, 5, "b", 2),
			msgs(0, 6, 7, "1:a", "2:b"),
			msgs(0, 13, 14, "2:b"),
		}},
		{"concurrent_append_cleared", true, []op{
			app(0, 1, 2, "a", 1),
			clr(1, 3, 12),
			app(0, 4, 5, "b", 2),
			msgs(0, 13, 14),
		}},
		// A message acknowledged before the Clear was called must go.
		{"append_before_the_clear_survives", false, []op{
			app(0, 1, 2, "a", 1),
			app(0, 3, 4, "b", 2),
			clr(1, 5, 6),
			msgs(0, 7, 8, "2:b"),
		}},
		// Nor may anything older than a cleared message survive.
		{"older_than_a_cleared_message_survives", false, []op{
			app(0, 1, 2, "a", 1),
			app(1, 3, 10, "b", 2),
			app(0, 4, 5, "c", 3),
			clr(0, 6, 7),
			msgs(0, 11, 12, "2:b"),
		}},
		// A Clear that returned while the conversation was still readable,
		// as a MemoryStore's did while Delete was removing it.
		{"clear_during_delete_returns_early", false, []op{
			app(0, 1, 2, "a", 1),
			del(1, 3, 10),
			clr(2, 4, 5),
			msgs(2, 6, 7, "1:a"),
		}},
		{"delete_then_new_conversation", true, []op{
			app(0, 1, 2, "a", 1),
			del(1, 3, 10),
			app(2, 4, 11, "b", 1),
			clr(0, 5, 6),
			msgs(0, 12, 13, "1:b"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ops []porcupine.Operation
			for _, o := range tc.ops {
				ops = append(ops, porcupine.Operation{
					ClientId: o.g, Call: o.call, Return: o.ret,
					Input:  linInput{conv: "c", kind: o.kind, content: o.content},
					Output: linOutput{seq: o.seq, window: o.window},
				})
			}
			addBefore(ops)
			res := porcupine.CheckOperationsTimeout(linSpec(2), ops, 10*time.Second)
			if got := res == porcupine.Ok; got != tc.ok {
				t.Errorf("linearizable = %v (%v), want %v", got, res, tc.ok)
			}
		})
	}
}

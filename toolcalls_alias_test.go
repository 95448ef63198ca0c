package chatring_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// aliasTarget is what the ToolCalls aliasing tests drive: a History or
// one conversation of a MemoryStore.
type aliasTarget struct {
	append   func(chatring.Message) (chatring.Message, error)
	messages func() ([]chatring.Message, error)
	window   func() ([]chatring.Message, error)
	stats    func() any
}

func historyTarget(h *chatring.History) aliasTarget {
	ctx := context.Background()
	return aliasTarget{
		append:   func(m chatring.Message) (chatring.Message, error) { return h.Append(ctx, m) },
		messages: func() ([]chatring.Message, error) { return h.Messages(ctx, nil) },
		window:   func() ([]chatring.Message, error) { return h.Window(ctx, 0) },
		stats:    func() any { return h.Stats() },
	}
}

func storeTarget(s *chatring.MemoryStore) aliasTarget {
	ctx := context.Background()
	const conv = "conv-1"
	return aliasTarget{
		append:   func(m chatring.Message) (chatring.Message, error) { return s.Append(ctx, conv, m) },
		messages: func() ([]chatring.Message, error) { return s.Messages(ctx, conv, nil) },
		window:   func() ([]chatring.Message, error) { return s.Window(ctx, conv, 0) },
		stats:    func() any { return s.Stats() },
	}
}

// feedToolCalls appends four tool exchanges and then two messages more,
// evicting the first exchange (see the end). With reuse set it changes its
// ToolCalls slices after each Append the ways a caller may: an element's
// fields overwritten with values that would fail validation, an element
// appended into the slice's spare capacity, and the slice reused for the
// next Append. Without reuse every Append gets a slice of its own, so
// the two runs append the same messages.
func feedToolCalls(t *testing.T, x aliasTarget, reuse bool) {
	t.Helper()
	appendOK := func(m chatring.Message) {
		t.Helper()
		if _, err := x.append(m); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	call := func(id string) chatring.ToolCall {
		return chatring.ToolCall{ID: id, Name: "get_weather", Arguments: `{"city":"` + id + `"}`}
	}
	exchange := func(calls []chatring.ToolCall) {
		t.Helper()
		appendOK(chatring.Message{Role: chatring.Assistant, ToolCalls: calls})
		for _, c := range calls {
			appendOK(chatring.Message{Role: chatring.Tool, Content: "sunny", ToolCallID: c.ID})
		}
	}
	appendOK(chatring.Message{Role: chatring.User, Content: "Weather in Rome, Paris and Oslo?"})

	// An element's fields changed after Append.
	calls := []chatring.ToolCall{call("rome")}
	exchange(calls)
	if reuse {
		calls[0].Name = "not a valid name"
		calls[0].Arguments = "not JSON " + strings.Repeat("x", 1000)
	}

	// An element appended into spare capacity.
	spare := make([]chatring.ToolCall, 1, 4)
	spare[0] = call("paris")
	exchange(spare)
	if reuse {
		_ = append(spare, call("spare"))
	}

	// One slice reused for the next Append.
	buf := make([]chatring.ToolCall, 0, 4)
	for _, id := range []string{"oslo", "bergen"} {
		if !reuse {
			buf = make([]chatring.ToolCall, 0, 4)
		}
		buf = append(buf[:0], call(id))
		exchange(buf)
	}
	if reuse {
		buf[0] = chatring.ToolCall{ID: "x", Name: "y", Arguments: `{"long":"` + strings.Repeat("z", 500) + `"}`}
	}
	// 11 messages: with MaxTurns 4 the oldest three, the first exchange
	// among them, are evicted.
	appendOK(chatring.Message{Role: chatring.User, Content: "Thanks."})
	appendOK(chatring.Message{Role: chatring.Assistant, Content: "You're welcome."})
}

// TestToolCallsCopiedOnAppend checks that a caller changing or reusing
// its ToolCalls slice after Append changes neither the stored messages
// nor the counters, and that the messages read back share no spare
// capacity: each run is compared with one whose caller never touches a
// slice again.
func TestToolCallsCopiedOnAppend(t *testing.T) {
	type kind struct {
		name string
		make func(t *testing.T, backend string) aliasTarget
	}
	cfg := func(backend string) chatring.Config { return chatring.Config{Backend: backend, MaxTurns: 4} }
	for _, k := range []kind{
		{"History", func(t *testing.T, backend string) aliasTarget {
			return historyTarget(newHistory(t, cfg(backend)))
		}},
		{"MemoryStore", func(t *testing.T, backend string) aliasTarget {
			s, err := chatring.NewMemoryStore(cfg(backend))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close(context.Background()) })
			return storeTarget(s)
		}},
	} {
		for _, backend := range chatring.Backends() {
			t.Run(k.name+"/"+backend, func(t *testing.T) {
				got, want := k.make(t, backend), k.make(t, backend)
				feedToolCalls(t, got, true)
				feedToolCalls(t, want, false)
				compareTargets(t, got, want)
			})
		}
	}
}

// compareTargets fails the test unless got and want hold the same
// window and counters, and got's messages have no spare capacity in
// their ToolCalls.
func compareTargets(t *testing.T, got, want aliasTarget) {
	t.Helper()
	ignore := cmp.Options{
		cmpopts.IgnoreFields(chatring.Message{}, "Time"),
		cmpopts.IgnoreFields(chatring.Stats{}, "Uptime"),
		cmpopts.IgnoreFields(chatring.StoreStats{}, "Uptime"),
	}
	for _, read := range []struct {
		name string
		f    func(aliasTarget) ([]chatring.Message, error)
	}{
		{"Messages", func(x aliasTarget) ([]chatring.Message, error) { return x.messages() }},
		{"Window", func(x aliasTarget) ([]chatring.Message, error) { return x.window() }},
	} {
		g, err := read.f(got)
		if err != nil {
			t.Fatal(err)
		}
		w, err := read.f(want)
		if err != nil {
			t.Fatal(err)
		}
		if len(w) == 0 {
			t.Fatalf("%s: empty window", read.name)
		}
		if d := cmp.Diff(w, g, ignore); d != "" {
			t.Errorf("%s after the caller changed its ToolCalls (-want +got):\n%s", read.name, d)
		}
		for _, m := range g {
			if c := m.ToolCalls; cap(c) != len(c) {
				t.Errorf("%s: Seq %d has ToolCalls of length %d, capacity %d: %v beyond its length", read.name, m.Seq, len(c), cap(c), c[len(c):cap(c)])
			}
		}
	}
	if d := cmp.Diff(want.stats(), got.stats(), ignore); d != "" {
		t.Errorf("Stats after the caller changed its ToolCalls (-want +got):\n%s", d)
	}
}

// TestToolCallsReuseConcurrent has a writer that reuses one ToolCalls
// slice for every Append while readers read Messages and Window and the
// calls in them: under -race it fails if a reader can reach the
// writer's slice. Each reader also checks that every call it reads is
// the one appended with that message.
func TestToolCallsReuseConcurrent(t *testing.T) {
	ctx := context.Background()
	for _, backend := range chatring.Backends() {
		t.Run(backend, func(t *testing.T) {
			h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: 4})
			const n = 300
			var wg sync.WaitGroup
			done := make(chan struct{})
			errs := make(chan error, 3)
			// The writer's i-th assistant message (from 0) has Seq 2i+1
			// and calls call_i.
			check := func(msgs []chatring.Message) error {
				for _, m := range msgs {
					i := (m.Seq - 1) / 2
					want := chatring.ToolCall{ID: fmt.Sprint("call_", i), Name: "f", Arguments: fmt.Sprintf(`{"n":%d}`, i)}
					for _, c := range m.ToolCalls {
						if c != want {
							return fmt.Errorf("Seq %d holds call %+v, want %+v", m.Seq, c, want)
						}
					}
				}
				return nil
			}
			for range 2 {
				wg.Go(func() {
					var dst []chatring.Message
					for {
						select {
						case <-done:
							return
						default:
						}
						var err error
						if dst, err = h.Messages(ctx, dst[:0]); err == nil {
							err = check(dst)
						}
						if err == nil {
							var w []chatring.Message
							if w, err = h.Window(ctx, 0); err == nil {
								err = check(w)
							}
						}
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}
			calls := make([]chatring.ToolCall, 0, 2)
			for i := range n {
				calls = append(calls[:0], chatring.ToolCall{ID: fmt.Sprint("call_", i), Name: "f", Arguments: fmt.Sprintf(`{"n":%d}`, i)})
				if _, err := h.Append(ctx, chatring.Message{Role: chatring.Assistant, ToolCalls: calls}); err != nil {
					t.Fatal(err)
				}
				if _, err := h.Append(ctx, chatring.Message{Role: chatring.Tool, Content: "ok", ToolCallID: calls[0].ID}); err != nil {
					t.Fatal(err)
				}
			}
			close(done)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestToolCallsCopyAllocations checks the cost of the copy: one
// allocation per Append of a message with tool calls, none for reads of
// a window holding such messages (they share the stored copy).
func TestToolCallsCopyAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector; run without -race")
	}
	ctx := context.Background()
	calls := []chatring.ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Rome"}`}}
	msgs := []chatring.Message{
		{Role: chatring.Assistant, ToolCalls: calls},
		{Role: chatring.Tool, Content: "25C, sunny", ToolCallID: "call_1"},
	}
	for _, backend := range chatring.Backends() {
		t.Run(backend, func(t *testing.T) {
			h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: 10})
			ring := 0.0
			if backend == chatring.BackendLockFree {
				ring = 1 // the ring's entry
			}
			for i := range 30 {
				if _, err := h.Append(ctx, msgs[i%2]); err != nil {
					t.Fatal(err)
				}
			}
			for i, m := range msgs {
				if n := testing.AllocsPerRun(200, func() {
					if _, err := h.Append(ctx, m); err != nil {
						t.Fatal(err)
					}
				}); n != ring+float64(1-i) {
					t.Errorf("Append of a %s message with %d tool calls allocated %v times, want %v", m.Role, len(m.ToolCalls), n, ring+float64(1-i))
				}
			}
			if n := messagesAllocs(t, h, 20); n != 0 {
				t.Errorf("Messages of a window with tool calls allocated %v times, want 0", n)
			}
		})
	}
}

// TestMessageClone: a clone's ToolCalls are its own (changing the
// original's elements or appending into their spare capacity changes
// nothing in it), of capacity equal to their length; nil stays nil and
// empty stays empty, without allocating.
func TestMessageClone(t *testing.T) {
	calls := make([]chatring.ToolCall, 1, 4)
	calls[0] = chatring.ToolCall{ID: "call_1", Name: "lookup", Arguments: `{}`}
	m := chatring.Message{Role: chatring.Assistant, Content: "c", ToolCalls: calls}
	c := m.Clone()
	calls[0].Name = "changed"
	_ = append(calls, chatring.ToolCall{ID: "call_2"})
	want := []chatring.ToolCall{{ID: "call_1", Name: "lookup", Arguments: `{}`}}
	if diff := cmp.Diff(want, c.ToolCalls); diff != "" || cap(c.ToolCalls) != 1 {
		t.Errorf("clone's ToolCalls after the original changed (cap %d, want 1) (-want +got):\n%s", cap(c.ToolCalls), diff)
	}
	if c.Role != m.Role || c.Content != m.Content {
		t.Errorf("clone %+v lost the other fields of %+v", c, m)
	}
	for _, tc := range []struct {
		name  string
		calls []chatring.ToolCall
	}{{"nil", nil}, {"empty", make([]chatring.ToolCall, 0, 4)}} {
		m := chatring.Message{Role: chatring.User, Content: "x", ToolCalls: tc.calls}
		var c chatring.Message
		if allocs := testing.AllocsPerRun(100, func() { c = m.Clone() }); allocs != 0 {
			t.Errorf("%s: Clone allocated %v times, want 0", tc.name, allocs)
		}
		if (c.ToolCalls == nil) != (tc.calls == nil) || len(c.ToolCalls) != 0 || cap(c.ToolCalls) != 0 {
			t.Errorf("%s: clone's ToolCalls %#v (cap %d), want %s of capacity 0", tc.name, c.ToolCalls, cap(c.ToolCalls), tc.name)
		}
	}
}

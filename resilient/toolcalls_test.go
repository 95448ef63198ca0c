package resilient_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
	"github.com/google/go-cmp/cmp"
)

// weather is the tool call the tests below append, and spoil the value a
// caller overwrites it with after Append: not a valid name, not JSON.
var (
	weather = chatring.ToolCall{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Rome"}`}
	spoil   = chatring.ToolCall{ID: "call 2", Name: "not valid", Arguments: "not JSON " + strings.Repeat("x", 100)}
)

// callsOf returns the ToolCalls of msgs' assistant messages, in order.
func callsOf(msgs []chatring.Message) [][]chatring.ToolCall {
	var out [][]chatring.ToolCall
	for _, m := range msgs {
		if m.Role == chatring.Assistant {
			out = append(out, m.ToolCalls)
		}
	}
	return out
}

// appendReused appends an assistant message calling weather to conv, from
// a slice with spare capacity, and then changes that slice as a caller
// reusing it would: the element overwritten, an element appended into
// the spare capacity. It returns Append's result.
func appendReused(r *rig, conv string) (chatring.Message, error) {
	calls := make([]chatring.ToolCall, 1, 4)
	calls[0] = weather
	got, err := r.Append(context.Background(), conv, chatring.Message{Role: chatring.Assistant, ToolCalls: calls})
	calls[0] = spoil
	_ = append(calls, spoil)
	return got, err
}

// wantCalls fails t unless msgs hold one assistant message, calling
// weather, with no spare capacity in its ToolCalls.
func wantCalls(t *testing.T, what string, msgs []chatring.Message) {
	t.Helper()
	got := callsOf(msgs)
	if d := cmp.Diff([][]chatring.ToolCall{{weather}}, got); d != "" {
		t.Errorf("%s after the caller changed its slice (-want +got):\n%s", what, d)
		return
	}
	if c := got[0]; cap(c) != len(c) {
		t.Errorf("%s: ToolCalls of length %d, capacity %d: %v beyond its length", what, len(c), cap(c), c[len(c):cap(c)])
	}
}

// TestToolCallsCopiedDurable: after a durable Append, a caller changing
// its ToolCalls slice changes neither the primary's copy nor the
// mirror's (read while the primary is down).
func TestToolCallsCopiedDurable(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt)
	ctx := context.Background()
	if _, err := appendReused(r, "c"); err != nil {
		t.Fatal(err)
	}
	msgs, err := r.Messages(ctx, "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, "Messages", msgs)
	r.down()
	if msgs, err = r.Messages(ctx, "c", nil); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, "degraded Messages", msgs)
}

// TestToolCallsCopiedBuffered: a buffered Append keeps the calls that
// were validated, whatever the caller does with its slice afterwards:
// degraded reads show them, and the replay stores them (a replay of the
// changed calls would be rejected by the primary, and the message lost).
func TestToolCallsCopiedBuffered(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt, resilient.WithOutbox(10), resilient.WithFlushInterval(time.Millisecond))
	ctx := context.Background()
	r.down()
	if _, err := appendReused(r, "c"); !errors.Is(err, resilient.ErrBuffered) {
		t.Fatalf("Append while down: %v, want ErrBuffered", err)
	}
	msgs, err := r.Messages(ctx, "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, "degraded Messages", msgs)
	r.faults.SetPolicy(nil)
	eventually(t, "the outbox drains", func() bool { return r.Stats().Outbox == 0 })
	if st := r.Stats(); st.Replayed != 1 {
		t.Errorf("Replayed %d, want 1 (stats %+v)", st.Replayed, st)
	}
	if msgs, err = r.mem.Messages(ctx, "c", nil); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, "the primary's Messages", msgs)
}

// TestToolCallsReuseConcurrent: a writer reusing one ToolCalls slice for
// every Append while readers read, degraded (from the mirror) and not:
// race-free under -race, and every call read is the one appended with
// its message.
func TestToolCallsReuseConcurrent(t *testing.T) {
	r := newRig(t, chatring.Config{MaxTurns: 4}, oneAttempt)
	ctx := context.Background()
	done := make(chan struct{})
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				msgs, err := r.Messages(ctx, "c", nil)
				if errors.Is(err, chatring.ErrUnavailable) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				for _, m := range msgs {
					for _, c := range m.ToolCalls {
						if c.ID != m.Content {
							errs <- errors.New("message " + m.Content + " holds call " + c.ID)
							return
						}
					}
				}
			}
		})
	}
	calls := make([]chatring.ToolCall, 0, 2)
	for i := range 200 {
		// Every other batch of appends, Messages fails on the primary
		// and reads fall back on the mirror.
		if i%40 == 20 {
			r.faults.SetPolicy(faultstore.Always(faultstore.Messages, faultstore.Before))
		} else if i%40 == 0 {
			r.faults.SetPolicy(nil)
		}
		id := "call_" + strings.Repeat("x", i%7) + string(rune('a'+i%26))
		calls = append(calls[:0], chatring.ToolCall{ID: id, Name: "f", Arguments: "{}"})
		if _, err := r.Append(ctx, "c", chatring.Message{Role: chatring.Assistant, Content: id, ToolCalls: calls}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestToolCallsEmptyBuffered: a buffered Append of a message whose
// ToolCalls is empty but has spare capacity keeps none of the caller's
// array: the returned message's and the degraded read's ToolCalls have
// capacity 0, so that appending to them (which Message.ToolCalls says
// always allocates) cannot write into the caller's slice, as chatring's
// Append does with such a slice.
func TestToolCallsEmptyBuffered(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt, resilient.WithOutbox(10))
	ctx := context.Background()
	r.down()
	calls := make([]chatring.ToolCall, 0, 4)
	got, err := r.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "hi", ToolCalls: calls})
	if !errors.Is(err, resilient.ErrBuffered) {
		t.Fatalf("Append while down: %v, want ErrBuffered", err)
	}
	if c := cap(got.ToolCalls); c != 0 {
		t.Errorf("the buffered message's ToolCalls: capacity %d, want 0", c)
	}
	_ = append(got.ToolCalls, spoil)
	if calls[:1][0] == spoil {
		t.Errorf("appending to the returned ToolCalls wrote into the caller's array")
	}
	msgs, err := r.Messages(ctx, "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("degraded Messages: %d messages, want 1", len(msgs))
	}
	if c := cap(msgs[0].ToolCalls); c != 0 {
		t.Errorf("degraded Messages: ToolCalls of capacity %d, want 0", c)
	}
}

// TestBufferedTokensCountToolFields: an append the outbox buffers carries
// the Tokens a durable one would (Message.Tokens: content and tool fields),
// in its ack and in degraded reads, as the primary counts it after the
// replay: a budget means the same before and after.
func TestBufferedTokensCountToolFields(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt, resilient.WithOutbox(10), resilient.WithFlushInterval(time.Millisecond))
	ctx := context.Background()
	m := chatring.Message{Role: chatring.Assistant, Content: "Let me look.",
		ToolCalls: []chatring.ToolCall{{ID: "call_1", Name: "lookup", Arguments: `{"q": "weather in Paris"}`}}}
	want := chatring.CountTokens(nil, m)
	if content := (chatring.ApproxTokenizer{}).Count(m.Content); want <= content {
		t.Fatalf("the message's tokens %d do not exceed its content's %d: the test proves nothing", want, content)
	}
	r.down()
	ack, err := r.Append(ctx, "c", m)
	if !errors.Is(err, resilient.ErrBuffered) {
		t.Fatalf("Append while down: %v, want ErrBuffered", err)
	}
	if ack.Tokens != want {
		t.Errorf("buffered ack: Tokens %d, want %d", ack.Tokens, want)
	}
	msgs, err := r.Messages(ctx, "c", nil)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("degraded Messages: %v, %v", msgs, err)
	}
	if msgs[0].Tokens != want {
		t.Errorf("degraded Messages: Tokens %d, want %d", msgs[0].Tokens, want)
	}
	r.faults.SetPolicy(nil)
	eventually(t, "the outbox drains", func() bool { return r.Stats().Outbox == 0 })
	if msgs, err = r.mem.Messages(ctx, "c", nil); err != nil || len(msgs) != 1 {
		t.Fatalf("the primary's Messages: %v, %v", msgs, err)
	}
	if msgs[0].Tokens != want {
		t.Errorf("the primary stored Tokens %d, want %d", msgs[0].Tokens, want)
	}
}

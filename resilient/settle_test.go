package resilient_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
)

// backlog returns a rig whose conversation "c" has n appends buffered in
// the outbox, with a primary that is back but answers every call after
// latency, and a flusher that never runs by itself: replaying the queue
// takes at least n × latency, which is far beyond the bound of one call.
func backlog(t *testing.T, n int, latency time.Duration, p resilient.RetryPolicy) *rig {
	t.Helper()
	r := newRig(t, chatring.Config{MaxTurns: n}, resilient.WithOutbox(n+10),
		resilient.WithRetry(p), resilient.WithFlushInterval(time.Hour))
	r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	for i := range n {
		_, err := r.Append(context.Background(), "c", chatring.Message{Role: chatring.User, Content: fmt.Sprint(i)})
		if !errors.Is(err, resilient.ErrBuffered) {
			t.Fatalf("append %d during the outage: %v, want ErrBuffered", i, err)
		}
	}
	r.faults.SetPolicy(nil)
	r.faults.SetLatency(latency)
	return r
}

// settlePolicy gives a call a bound (2 × MaxElapsed: its conversation's
// replay, then its own attempts) far below the replay of the backlog.
var settlePolicy = resilient.RetryPolicy{BaseDelay: 100 * time.Microsecond, MaxDelay: time.Millisecond,
	AttemptTimeout: 50 * time.Millisecond, MaxElapsed: 100 * time.Millisecond}

const (
	backlogLen     = 100
	backlogLatency = 10 * time.Millisecond // replaying the backlog takes ≥ 1 s
)

// callBound is what a call may take under settlePolicy: MaxElapsed for
// its conversation's replay, MaxElapsed for its own attempts, and slack
// for a loaded machine. The backlog's replay takes at least 1 s.
const callBound = 2*100*time.Millisecond + 300*time.Millisecond

// TestReadDoesNotReplayWholeBacklog: a read of a conversation with a
// long outbox queue, once the primary is back, replays only what fits in
// its bound and then answers; it does not replay the whole queue first.
func TestReadDoesNotReplayWholeBacklog(t *testing.T) {
	for _, op := range []string{"messages", "window"} {
		t.Run(op, func(t *testing.T) {
			r := backlog(t, backlogLen, backlogLatency, settlePolicy)
			start := time.Now()
			var msgs []chatring.Message
			var err error
			if op == "messages" {
				msgs, err = r.Messages(context.Background(), "c", nil)
			} else {
				msgs, err = r.Window(context.Background(), "c", 1<<20)
			}
			d := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			// Read-your-writes: replayed or still buffered, all are there.
			if len(msgs) != backlogLen {
				t.Errorf("read %d messages, want %d", len(msgs), backlogLen)
			}
			// The primary answers no call in under backlogLatency, so
			// within its budget the read replays at most MaxElapsed /
			// backlogLatency of them, whatever the machine's load.
			left := r.Stats().Outbox
			if most := int(settlePolicy.MaxElapsed / backlogLatency); backlogLen-left > most {
				t.Errorf("the read replayed %d buffered appends, more than the %d its MaxElapsed allows", backlogLen-left, most)
			}
			if d > callBound {
				t.Errorf("the read took %v, more than its bound %v", d, callBound)
			}
			t.Logf("read took %v; %d of %d still buffered", d, left, backlogLen)
			r.faults.SetLatency(0) // for a quick Close
		})
	}
}

// TestAppendBehindReplay: an Append that replays its conversation's
// long outbox queue gives up after its budget and is buffered behind the
// queue; an Append that finds another call replaying the queue waits for
// it within its own budget only, not for the whole queue, and is
// buffered behind it too. Every message reaches the primary once, in
// order.
func TestAppendBehindReplay(t *testing.T) {
	r := backlog(t, backlogLen, backlogLatency, settlePolicy)
	type result struct {
		d   time.Duration
		err error
	}
	first := make(chan result, 1)
	go func() {
		start := time.Now()
		_, err := r.Append(context.Background(), "c", chatring.Message{Role: chatring.User, Content: "first"})
		first <- result{time.Since(start), err}
	}()
	// Wait until the first Append is replaying the queue.
	calls := r.faults.Calls(faultstore.Append)
	eventually(t, "the replay starts", func() bool { return r.faults.Calls(faultstore.Append) > calls })
	start := time.Now()
	_, err := r.Append(context.Background(), "c", chatring.Message{Role: chatring.User, Content: "second"})
	second := result{time.Since(start), err}
	f := <-first
	for name, res := range map[string]result{"first": f, "second": second} {
		if !errors.Is(res.err, resilient.ErrBuffered) {
			t.Errorf("%s Append: %v, want ErrBuffered behind the queue", name, res.err)
		}
		if res.d > callBound {
			t.Errorf("%s Append took %v, more than its bound %v", name, res.d, callBound)
		}
		t.Logf("%s Append took %v", name, res.d)
	}
	// Close drains the rest in order, each once.
	r.faults.SetLatency(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err := r.mem.Messages(context.Background(), "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != backlogLen+2 {
		t.Fatalf("stored %d messages, want %d", len(msgs), backlogLen+2)
	}
	// The backlog in order, then the two Appends (concurrent calls: in
	// either order).
	for i, m := range msgs[:backlogLen] {
		if m.Content != fmt.Sprint(i) {
			t.Fatalf("stored %q at %d, want %q: %q", m.Content, i, fmt.Sprint(i), brief(msgs))
		}
	}
	if a, b := msgs[backlogLen].Content, msgs[backlogLen+1].Content; !(a == "first" && b == "second" || a == "second" && b == "first") {
		t.Errorf("stored %q, %q after the backlog, want first and second", a, b)
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i].Seq != msgs[i-1].Seq+1 {
			t.Errorf("Seq %d after %d", msgs[i].Seq, msgs[i-1].Seq)
		}
	}
}

// TestEraseWaitsForReplayWithinBound: a Clear of a conversation whose
// outbox queue another call is replaying waits for it only within its
// budget, then fails with ErrUnavailable (it is never buffered), and
// clears nothing.
func TestEraseWaitsForReplayWithinBound(t *testing.T) {
	r := backlog(t, backlogLen, backlogLatency, settlePolicy)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = r.Messages(context.Background(), "c", nil) // replays for its budget
	}()
	calls := r.faults.Calls(faultstore.Append)
	eventually(t, "the replay starts", func() bool { return r.faults.Calls(faultstore.Append) > calls })
	start := time.Now()
	err := r.Clear(context.Background(), "c")
	d := time.Since(start)
	<-done
	if !errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("Clear: %v, want ErrUnavailable", err)
	}
	if r.faults.Calls(faultstore.Clear) != 0 {
		t.Errorf("Clear reached the primary before the queue was replayed")
	}
	if d > callBound {
		t.Errorf("Clear took %v, more than its bound %v", d, callBound)
	}
	t.Logf("Clear took %v", d)
	r.faults.SetLatency(0)
}

// early is a primary whose Appends, while on, answer a call with a
// deadline with DeadlineExceeded 2 ms before it, as redisstore's socket
// deadline may, before the ctx's own timer fires.
type early struct {
	chatring.Store
	on atomic.Bool
}

func (e *early) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	if d, ok := ctx.Deadline(); ok && e.on.Load() {
		time.Sleep(time.Until(d) - 2*time.Millisecond)
		return chatring.Message{}, fmt.Errorf("early: i/o timeout: %w", context.DeadlineExceeded)
	}
	return e.Store.Append(ctx, conv, m)
}

// TestSettleBudgetReportedEarly: when the primary reports the end of a
// call's replay budget as its own DeadlineExceeded a moment before the
// budget's ctx notices, the call still treats it as its budget ending:
// the read is served from the mirror, the Append is buffered, Clear
// fails with ErrUnavailable — none returns the bare deadline error.
func TestSettleBudgetReportedEarly(t *testing.T) {
	cfg := chatring.Config{MaxTurns: 10}
	mem, err := chatring.NewMemoryStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	faults := faultstore.New(mem)
	e := &early{Store: faults}
	s, err := resilient.New(e, resilient.WithConfig(cfg), resilient.WithOutbox(100), resilient.WithRetry(settlePolicy),
		resilient.WithBreaker(lazyBreaker), resilient.WithFlushInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		e.on.Store(false)
		if err := s.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	ctx := context.Background()
	faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "buffered"}); !errors.Is(err, resilient.ErrBuffered) {
		t.Fatalf("append during the outage: %v, want ErrBuffered", err)
	}
	faults.SetPolicy(nil)
	e.on.Store(true)
	if msgs, err := s.Messages(ctx, "c", nil); err != nil || len(msgs) != 1 {
		t.Errorf("Messages: %d messages, %v; want the buffered one from the mirror", len(msgs), err)
	}
	if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "next"}); !errors.Is(err, resilient.ErrBuffered) {
		t.Errorf("Append: %v, want ErrBuffered", err)
	}
	if err := s.Clear(ctx, "c"); !errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("Clear: %v, want ErrUnavailable", err)
	}
}

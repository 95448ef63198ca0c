package resilient_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/acks"
	"github.com/chatring/chatring/resilient/internal/faultstore"
)

// TestFaultSchedule runs writers and readers over several conversations
// while the primary goes through outages, lost replies and hangs, with
// the outbox on; then, with the primary back, Close flushes everything
// and the primary's windows must hold every acknowledged append — durable
// ones at the Seq they were given — exactly once, contiguous in Seq, in
// each writer's order per conversation. Windows are large enough that
// nothing is evicted, so nothing can excuse a missing message.
func TestFaultSchedule(t *testing.T) {
	const (
		convs   = 8
		writers = 6
		appends = 250 // per writer, at least
		readers = 2
	)
	r := newRig(t, chatring.Config{MaxTurns: 1000},
		resilient.WithOutbox(writers*appends),
		resilient.WithFlushInterval(2*time.Millisecond),
		resilient.WithRetry(resilient.RetryPolicy{Attempts: 3, BaseDelay: 100 * time.Microsecond, MaxDelay: time.Millisecond,
			AttemptTimeout: 10 * time.Millisecond, MaxElapsed: 50 * time.Millisecond}),
		resilient.WithBreaker(resilient.BreakerPolicy{Failures: 10, FailureRatio: 0.5, Window: 50 * time.Millisecond, OpenFor: 10 * time.Millisecond}))

	phases := []faultstore.Policy{
		nil,
		faultstore.Always(faultstore.Any, faultstore.Before), // outage
		nil,
		faultstore.Every(faultstore.Append, faultstore.After, 2), // lost replies
		faultstore.Every(faultstore.Any, faultstore.Hang, 3),     // a frozen server, now and then
		faultstore.Always(faultstore.Any, faultstore.Hang),       // frozen
		nil,
		faultstore.Every(faultstore.Any, faultstore.Before, 2),
	}
	var stop atomic.Bool
	var cycles atomic.Int64 // full passes through the phases
	var schedule sync.WaitGroup
	schedule.Go(func() {
		for i := 0; !stop.Load(); i++ {
			r.faults.SetPolicy(phases[i%len(phases)])
			time.Sleep(25 * time.Millisecond)
			if i%len(phases) == len(phases)-1 {
				cycles.Add(1)
			}
		}
		r.faults.SetPolicy(nil)
	})

	// exercised reports whether every phase has run once and the
	// breaker has opened and the outbox buffered: on a fast machine the
	// appends alone may end first, on a loaded one an outage phase may
	// see too few calls to open the breaker the first time round.
	var done atomic.Bool
	exercised := func() bool {
		if done.Load() {
			return true
		}
		st := r.Stats()
		ok := cycles.Load() >= 1 && st.BreakerTransitions["open"] > 0 && st.Buffered > 0
		if ok {
			done.Store(true)
		}
		return ok
	}
	acked := make([][]acks.Ack, writers)
	var work sync.WaitGroup
	for w := range writers {
		work.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			// At least appends each, and on until the schedule has been
			// exercised (see exercised), but no more than the windows
			// hold without eviction.
			for n := 0; n < 4*appends && (n < appends || n%16 != 0 || !exercised()); n++ {
				a := acks.Ack{Writer: w, N: n, Conv: fmt.Sprint("conv-", rng.IntN(convs)), Content: fmt.Sprintf("w%d-%d", w, n)}
				m := chatring.Message{Role: chatring.User, Content: a.Content}
				if n%3 == 0 {
					m.ID = fmt.Sprintf("id-%d-%d", w, n)
				}
				got, err := r.Append(context.Background(), a.Conv, m)
				if a, err = acks.Record(a, got, err); err != nil {
					t.Error(err)
					return
				}
				acked[w] = append(acked[w], a)
			}
		})
	}
	var reads atomic.Int64
	var reading sync.WaitGroup
	for rd := range readers {
		reading.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(rd), 8))
			for !stop.Load() {
				conv := fmt.Sprint("conv-", rng.IntN(convs))
				msgs, err := r.Messages(context.Background(), conv, nil)
				if errors.Is(err, chatring.ErrUnavailable) {
					continue
				}
				if err != nil {
					t.Errorf("Messages: %v", err)
					return
				}
				if err := acks.CheckRead(msgs); err != nil {
					t.Errorf("%s: %v", conv, err)
					return
				}
				reads.Add(1)
			}
		})
	}
	work.Wait()
	stop.Store(true)
	reading.Wait()
	schedule.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close with the primary back: %v", err)
	}
	st := r.Stats()
	windows := map[string][]chatring.Message{}
	for c := range convs {
		conv := fmt.Sprint("conv-", c)
		var err error
		if windows[conv], err = r.mem.Messages(context.Background(), conv, nil); err != nil {
			t.Fatal(err)
		}
	}
	n, errs := acks.Check(windows, acked)
	for _, err := range errs {
		t.Error(err)
	}
	t.Logf("appends: %d durable, %d buffered, %d failed; %d reads", n.Durable, n.Buffered, n.Failed, reads.Load())
	t.Logf("stats: attempts %d, retries %d, failed fast %d, degraded reads %d (misses %d), buffered %d, replayed %d, outbox high water %d, breaker transitions %v",
		st.Attempts, st.Retries, st.FailedFast, st.DegradedReads, st.DegradedMisses, st.Buffered, st.Replayed, st.OutboxHighWater, st.BreakerTransitions)
	if n.Buffered == 0 || n.Durable == 0 || st.BreakerTransitions["open"] == 0 || st.Replayed == 0 {
		t.Errorf("the schedule did not exercise the outbox, the breaker and the replay (%+v, %v, %d replayed)",
			n, st.BreakerTransitions, st.Replayed)
	}
}

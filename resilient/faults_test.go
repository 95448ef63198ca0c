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
	"github.com/chatring/chatring/resilient/internal/faultstore"
)

// ack is how one Append of the fault schedule was acknowledged.
type ack struct {
	writer, n int
	conv      string
	content   string
	durable   bool   // nil error
	buffered  bool   // ErrBuffered
	seq       uint64 // the Seq a durable ack returned
}

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
		appends = 250 // per writer
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
	var schedule sync.WaitGroup
	schedule.Go(func() {
		for i := 0; !stop.Load(); i++ {
			r.faults.SetPolicy(phases[i%len(phases)])
			time.Sleep(25 * time.Millisecond)
		}
		r.faults.SetPolicy(nil)
	})

	acks := make([][]ack, writers)
	var work sync.WaitGroup
	for w := range writers {
		work.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for n := range appends {
				a := ack{writer: w, n: n, conv: fmt.Sprint("conv-", rng.IntN(convs)), content: fmt.Sprintf("w%d-%d", w, n)}
				m := chatring.Message{Role: chatring.User, Content: a.content}
				if n%3 == 0 {
					m.ID = fmt.Sprintf("id-%d-%d", w, n)
				}
				got, err := r.Append(context.Background(), a.conv, m)
				switch {
				case err == nil:
					a.durable, a.seq = true, got.Seq
				case errors.Is(err, resilient.ErrBuffered):
					a.buffered = true
				case errors.Is(err, chatring.ErrUnavailable):
					// not acknowledged: may or may not be stored, at most once
				default:
					t.Errorf("Append: %v", err)
					return
				}
				acks[w] = append(acks[w], a)
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
				if err := checkWindow(msgs); err != nil {
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
	var nDurable, nBuffered, nFailed int
	stored := map[string]map[string]uint64{} // conv -> content -> Seq
	for c := range convs {
		conv := fmt.Sprint("conv-", c)
		msgs, err := r.mem.Messages(context.Background(), conv, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkWindow(msgs); err != nil {
			t.Errorf("%s, final: %v", conv, err)
		}
		if len(msgs) > 0 && msgs[0].Seq != 1 {
			t.Errorf("%s: the window starts at Seq %d, but nothing was evicted", conv, msgs[0].Seq)
		}
		stored[conv] = map[string]uint64{}
		for _, m := range msgs {
			stored[conv][m.Content] = m.Seq
		}
	}
	for w := range writers {
		lastSeq := map[string]uint64{}
		for _, a := range acks[w] {
			seq, ok := stored[a.conv][a.content]
			switch {
			case a.durable:
				nDurable++
				if !ok || seq != a.seq {
					t.Errorf("durable ack %s (Seq %d) is stored at %d (found: %v)", a.content, a.seq, seq, ok)
				}
			case a.buffered:
				nBuffered++
				if !ok {
					t.Errorf("buffered ack %s was never stored, yet Close reported nothing unflushed", a.content)
				}
			default:
				nFailed++
			}
			if ok {
				if seq < lastSeq[a.conv] {
					t.Errorf("writer %d's %s (Seq %d) landed before its earlier append at Seq %d", w, a.content, seq, lastSeq[a.conv])
				}
				lastSeq[a.conv] = seq
			}
		}
	}
	t.Logf("appends: %d durable, %d buffered, %d failed; %d reads", nDurable, nBuffered, nFailed, reads.Load())
	t.Logf("stats: attempts %d, retries %d, failed fast %d, degraded reads %d (misses %d), buffered %d, replayed %d, outbox high water %d, breaker transitions %v",
		st.Attempts, st.Retries, st.FailedFast, st.DegradedReads, st.DegradedMisses, st.Buffered, st.Replayed, st.OutboxHighWater, st.BreakerTransitions)
	if nBuffered == 0 || nDurable == 0 || st.BreakerTransitions["open"] == 0 || st.Replayed == 0 {
		t.Errorf("the schedule did not exercise the outbox, the breaker and the replay (%d buffered, %d durable, %v, %d replayed)",
			nBuffered, nDurable, st.BreakerTransitions, st.Replayed)
	}
}

// checkWindow reports a window that is not contiguous in Seq or holds a
// content twice.
func checkWindow(msgs []chatring.Message) error {
	seen := map[string]uint64{}
	for i, m := range msgs {
		if i > 0 && m.Seq != msgs[i-1].Seq+1 {
			return fmt.Errorf("not contiguous: Seq %d after %d", m.Seq, msgs[i-1].Seq)
		}
		if prev, dup := seen[m.Content]; dup {
			return fmt.Errorf("%s stored twice, at Seq %d and %d", m.Content, prev, m.Seq)
		}
		seen[m.Content] = m.Seq
	}
	return nil
}

package promresilient_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/promexport"
	"github.com/chatring/chatring/promexport/internal/promtest"
	"github.com/chatring/chatring/promexport/promresilient"
	"github.com/chatring/chatring/resilient"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixed is a Source that reports fixed Stats.
type fixed resilient.Stats

func (f fixed) Stats() resilient.Stats { return resilient.Stats(f) }

// TestExposition pins the whole exposition of a Stats with a distinct
// value in every field.
func TestExposition(t *testing.T) {
	src := fixed{
		Attempts: 100, Retries: 7, FailedFast: 40,
		DegradedReads: 12, DegradedMisses: 3,
		Buffered: 30, OutboxFull: 4, Replayed: 25, Discarded: 1, Unflushed: 2,
		Outbox: 5, OutboxConversations: 2, OutboxHighWater: 9, OutboxCapacity: 50,
		Breaker:            "half-open",
		BreakerTransitions: map[string]uint64{"closed": 1, "open": 3, "half-open": 3},
		BreakerChanges: []resilient.BreakerChange{
			{From: "closed", To: "open", Count: 1},
			{From: "open", To: "half-open", Count: 3},
			{From: "half-open", To: "closed", Count: 1},
			{From: "half-open", To: "open", Count: 2},
		},
	}
	c := promresilient.New(src, promexport.WithConstLabels(prometheus.Labels{"store": "sessions"}))
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

const want = `
# HELP chatring_breaker_failed_fast_total Attempts the open circuit breaker refused without calling the primary store.
# TYPE chatring_breaker_failed_fast_total counter
chatring_breaker_failed_fast_total{store="sessions"} 40
# HELP chatring_breaker_state 1 for the circuit breaker's state (closed, open or half-open), 0 for the others.
# TYPE chatring_breaker_state gauge
chatring_breaker_state{state="closed",store="sessions"} 0
chatring_breaker_state{state="half-open",store="sessions"} 1
chatring_breaker_state{state="open",store="sessions"} 0
# HELP chatring_breaker_transitions_total State changes of the circuit breaker, by the state left and the state entered.
# TYPE chatring_breaker_transitions_total counter
chatring_breaker_transitions_total{from="closed",store="sessions",to="open"} 1
chatring_breaker_transitions_total{from="half-open",store="sessions",to="closed"} 1
chatring_breaker_transitions_total{from="half-open",store="sessions",to="open"} 2
chatring_breaker_transitions_total{from="open",store="sessions",to="half-open"} 3
# HELP chatring_degraded_read_misses_total Reads the primary store could not serve and the local mirror could not answer.
# TYPE chatring_degraded_read_misses_total counter
chatring_degraded_read_misses_total{store="sessions"} 3
# HELP chatring_degraded_reads_total Reads answered from the local mirror because the primary store was unavailable.
# TYPE chatring_degraded_reads_total counter
chatring_degraded_reads_total{store="sessions"} 12
# HELP chatring_outbox_buffered_total Appends buffered in the outbox while the primary store was unavailable.
# TYPE chatring_outbox_buffered_total counter
chatring_outbox_buffered_total{store="sessions"} 30
# HELP chatring_outbox_capacity_messages The outbox's bound on buffered appends; 0 when there is no outbox.
# TYPE chatring_outbox_capacity_messages gauge
chatring_outbox_capacity_messages{store="sessions"} 50
# HELP chatring_outbox_conversations Conversations with appends buffered in the outbox.
# TYPE chatring_outbox_conversations gauge
chatring_outbox_conversations{store="sessions"} 2
# HELP chatring_outbox_discarded_total Buffered appends the primary store rejected as invalid on replay.
# TYPE chatring_outbox_discarded_total counter
chatring_outbox_discarded_total{store="sessions"} 1
# HELP chatring_outbox_high_water_messages The most appends the outbox has held at once.
# TYPE chatring_outbox_high_water_messages gauge
chatring_outbox_high_water_messages{store="sessions"} 9
# HELP chatring_outbox_messages Appends buffered in the outbox now, not yet stored by the primary.
# TYPE chatring_outbox_messages gauge
chatring_outbox_messages{store="sessions"} 5
# HELP chatring_outbox_refused_total Appends refused because the outbox was full.
# TYPE chatring_outbox_refused_total counter
chatring_outbox_refused_total{store="sessions"} 4
# HELP chatring_outbox_replayed_total Buffered appends the primary store then stored.
# TYPE chatring_outbox_replayed_total counter
chatring_outbox_replayed_total{store="sessions"} 25
# HELP chatring_outbox_unflushed_total Buffered appends Close could not replay before its deadline: lost with the process.
# TYPE chatring_outbox_unflushed_total counter
chatring_outbox_unflushed_total{store="sessions"} 2
# HELP chatring_primary_attempts_total Attempts that reached the primary store, retries and outbox replays included.
# TYPE chatring_primary_attempts_total counter
chatring_primary_attempts_total{store="sessions"} 100
# HELP chatring_primary_retries_total Attempts after a call's first, each after a backoff wait.
# TYPE chatring_primary_retries_total counter
chatring_primary_retries_total{store="sessions"} 7
`

// flaky is a primary store that fails every call with ErrUnavailable
// while down is set.
type flaky struct {
	*chatring.MemoryStore
	down atomic.Bool
}

func (f *flaky) err() error {
	if f.down.Load() {
		return fmt.Errorf("flaky: %w", chatring.ErrUnavailable)
	}
	return nil
}

func (f *flaky) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	if err := f.err(); err != nil {
		return chatring.Message{}, err
	}
	return f.MemoryStore.Append(ctx, conv, m)
}

func (f *flaky) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	if err := f.err(); err != nil {
		return dst, err
	}
	return f.MemoryStore.Messages(ctx, conv, dst)
}

// newStore returns a resilient Store with an outbox of 3 on a flaky
// primary; one failure in 10ms (and no fewer than half the outcomes)
// opens its breaker for openFor, and it makes two attempts per call.
func newStore(t *testing.T, openFor time.Duration) (*resilient.Store, *flaky) {
	t.Helper()
	mem, err := chatring.NewMemoryStore(chatring.Config{MaxTurns: 4})
	if err != nil {
		t.Fatal(err)
	}
	p := &flaky{MemoryStore: mem}
	s, err := resilient.New(p, resilient.WithOutbox(3), resilient.WithFlushInterval(time.Millisecond),
		resilient.WithRetry(resilient.RetryPolicy{Attempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}),
		resilient.WithBreaker(resilient.BreakerPolicy{Failures: 1, Window: 10 * time.Millisecond, OpenFor: openFor}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.down.Store(false)
		s.Close(ctx)
	})
	return s, p
}

// TestCounts checks the exported values against what a real Store did:
// an outage opens the breaker, appends are buffered and then refused,
// reads are degraded, and after it the breaker closes and the outbox is
// flushed.
func TestCounts(t *testing.T) {
	s, p := newStore(t, 20*time.Millisecond)
	c := promresilient.New(s)
	ctx := t.Context()
	user := func(content string) chatring.Message { return chatring.Message{Role: chatring.User, Content: content} }
	if _, err := s.Append(ctx, "c", user("stored")); err != nil {
		t.Fatal(err)
	}
	check := func(when string, want map[string]float64) {
		t.Helper()
		for name, v := range want {
			labels := map[string]string{}
			if i := strings.IndexByte(name, '{'); i >= 0 {
				for kv := range strings.SplitSeq(name[i+1:len(name)-1], ",") {
					k, v, _ := strings.Cut(kv, "=")
					labels[k] = v
				}
				name = name[:i]
			}
			if got := promtest.Sample(t, c, name, labels); got != v {
				t.Errorf("%s: %s%v = %v, want %v", when, name, labels, got, v)
			}
		}
	}
	check("before the outage", map[string]float64{
		"chatring_breaker_state{state=closed}": 1, "chatring_breaker_state{state=open}": 0,
		"chatring_primary_attempts_total": 1, "chatring_outbox_capacity_messages": 3, "chatring_outbox_messages": 0,
	})

	p.down.Store(true)
	for i := range 4 { // three buffered, the fourth refused
		_, err := s.Append(ctx, "c", user(fmt.Sprint("during ", i)))
		want := resilient.ErrBuffered
		if i == 3 {
			want = resilient.ErrOutboxFull
		}
		if !errors.Is(err, want) {
			t.Fatalf("append %d during the outage: %v, want %v", i, err, want)
		}
	}
	if _, err := s.Messages(ctx, "c", nil); err != nil { // from the mirror
		t.Fatalf("degraded read: %v", err)
	}
	if _, err := s.Messages(ctx, "never seen", nil); err == nil {
		t.Fatal("read of a conversation the mirror lacks succeeded during the outage")
	}
	check("during the outage", map[string]float64{
		"chatring_breaker_state{state=closed}":                    0,
		"chatring_breaker_transitions_total{from=closed,to=open}": 1,
		"chatring_outbox_messages":                                3,
		"chatring_outbox_conversations":                           1,
		"chatring_outbox_high_water_messages":                     3,
		"chatring_outbox_buffered_total":                          3,
		"chatring_outbox_refused_total":                           1,
		"chatring_degraded_reads_total":                           1,
		"chatring_degraded_read_misses_total":                     1,
	})
	if n := promtest.Sample(t, c, "chatring_primary_retries_total", nil); n < 1 {
		t.Errorf("chatring_primary_retries_total = %v during the outage, want at least 1: the first append's second attempt", n)
	}
	if n := promtest.Sample(t, c, "chatring_breaker_failed_fast_total", nil); n < 4 {
		t.Errorf("chatring_breaker_failed_fast_total = %v during the outage, want at least 4: the retry of the first append, and each later call's attempt", n)
	}

	p.down.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Outbox != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	check("after the outage", map[string]float64{
		"chatring_breaker_state{state=closed}":                         1,
		"chatring_breaker_transitions_total{from=half-open,to=closed}": 1,
		"chatring_outbox_messages":                                     0,
		"chatring_outbox_replayed_total":                               3,
		"chatring_outbox_unflushed_total":                              0,
	})
	if msgs, err := s.Messages(ctx, "c", nil); err != nil || len(msgs) != 4 {
		t.Errorf("after the outage: %d messages, %v; want the 4 stored", len(msgs), err)
	}
}

// TestLint runs promlint over the exposition of a Store with an outbox.
func TestLint(t *testing.T) {
	s, _ := newStore(t, time.Second)
	promtest.Lint(t, promresilient.New(s))
}

// TestScrapeDuringOutages scrapes while appends and reads run and the
// primary goes down and up (under -race in make test), and checks that no
// counter ever decreases and that the number of series stays 21.
func TestScrapeDuringOutages(t *testing.T) {
	s, p := newStore(t, 5*time.Millisecond)
	c := promresilient.New(s)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				conv := fmt.Sprintf("w%d-%d", w, i%3)
				s.Append(context.Background(), conv, chatring.Message{Role: chatring.User, Content: "hi"})
				s.Messages(context.Background(), conv, nil)
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond): // longer than the breaker's window: outages open it
				p.down.Store(!p.down.Load())
			}
		}
	})
	last := promtest.Counters(t, c)
	for range 200 {
		now := promtest.Counters(t, c)
		promtest.Monotonic(t, last, now)
		last = now
		if n := testutil.CollectAndCount(c); n != 21 {
			t.Fatalf("%d series, want 21", n)
		}
		if st, n, _ := breakerState(t, c); n != 1 {
			t.Fatalf("chatring_breaker_state: %d series at 1 (state %q), want exactly one", n, st)
		}
	}
	close(stop)
	wg.Wait()

	// With the primary back, the flusher empties the outbox and closes
	// the breaker; once it is quiet, the transitions counted lead from
	// closed to the state the gauge shows, every state left having been
	// entered first.
	p.down.Store(false)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if st := s.Stats(); st.Outbox == 0 && st.Breaker == "closed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the breaker did not close and the outbox did not empty with the primary up: %+v", s.Stats())
		}
		s.Messages(context.Background(), "w0-0", nil) // a probe for a half-open breaker
	}
	state, ones, tr := breakerState(t, c)
	if ones != 1 {
		t.Fatalf("chatring_breaker_state: %d series at 1, want exactly one", ones)
	}
	co, oh, hc, ho := tr["closed open"], tr["open half-open"], tr["half-open closed"], tr["half-open open"]
	in := map[string]float64{"closed": 1 + hc, "open": co + ho, "half-open": oh} // closed: the start
	out := map[string]float64{"closed": co, "open": oh, "half-open": hc + ho}
	for st := range in {
		want := 0.0
		if st == state {
			want = 1
		}
		if in[st]-out[st] != want {
			t.Errorf("state %s entered %v times and left %v times, the gauge says %s: transitions %v %v %v %v (co oh hc ho)",
				st, in[st], out[st], state, co, oh, hc, ho)
		}
	}
	for _, name := range []string{"chatring_breaker_transitions_total", "chatring_outbox_buffered_total", "chatring_degraded_reads_total"} {
		total := 0.0
		for k, v := range last {
			if strings.HasPrefix(k, name) {
				total += v
			}
		}
		if total == 0 {
			t.Errorf("%s stayed 0: the outages did not exercise it", name)
		}
	}
}

// breakerState returns, from one collection of c, the state whose
// chatring_breaker_state series is 1, how many are, and the transitions
// counted, keyed "from to".
func breakerState(t *testing.T, c prometheus.Collector) (state string, ones int, transitions map[string]float64) {
	t.Helper()
	transitions = map[string]float64{}
	for _, f := range promtest.Gather(t, c) {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "chatring_breaker_state":
				if m.GetGauge().GetValue() == 1 {
					state, ones = promtest.LabelValue(m, "state"), ones+1
				}
			case "chatring_breaker_transitions_total":
				transitions[promtest.LabelValue(m, "from")+" "+promtest.LabelValue(m, "to")] = m.GetCounter().GetValue()
			}
		}
	}
	return state, ones, transitions
}

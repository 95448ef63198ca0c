// Package promresilient exports the statistics of a resilient.Store (the
// wrapper with retries, a circuit breaker, degraded reads and an outbox)
// to Prometheus.
//
// It is a package of its own, beside promexport, so that the users of
// promexport's other collectors never compile the resilience libraries:
//
//	store, err := resilient.New(primary, resilient.WithOutbox(10_000))
//	reg.MustRegister(promresilient.New(store))
//
// Register the primary's collector too (promexport's for a MemoryStore,
// promredis's for a redisstore.Store): their metric names differ from
// these. The writes the wrapper refuses itself (Stats.RejectedByReason)
// are not exported here: they never reach the primary, and
// promexport.WithRejectionsOf(store) on the primary's collector adds them
// to its chatring_messages_rejected_total, which a second collector could
// not export beside it in one registry.
//
// # Metrics
//
//	chatring_breaker_state{state}                 gauge    1 for the breaker's state (closed, open, half-open), 0 for the others
//	chatring_breaker_transitions_total{from,to}   counter  state changes: closed→open, open→half-open, half-open→closed, half-open→open
//	chatring_breaker_failed_fast_total            counter  attempts the open breaker refused without calling the primary
//	chatring_primary_attempts_total               counter  attempts that reached the primary, retries and replays included
//	chatring_primary_retries_total                counter  attempts after a call's first
//	chatring_degraded_reads_total                 counter  reads answered from the local mirror while the primary was unavailable
//	chatring_degraded_read_misses_total           counter  reads the mirror could not answer: they returned the primary's error
//	chatring_outbox_messages                      gauge    appends buffered now
//	chatring_outbox_conversations                 gauge    conversations with buffered appends
//	chatring_outbox_capacity_messages             gauge    the outbox's bound (resilient.WithOutbox; 0: no outbox)
//	chatring_outbox_high_water_messages           gauge    the most appends buffered at once
//	chatring_outbox_buffered_total                counter  appends buffered (acknowledged with ErrBuffered)
//	chatring_outbox_refused_total                 counter  appends refused because the outbox was full (ErrOutboxFull)
//	chatring_outbox_replayed_total                counter  buffered appends the primary then stored (flushed)
//	chatring_outbox_discarded_total               counter  buffered appends the primary rejected as invalid on replay
//	chatring_outbox_unflushed_total               counter  buffered appends Close could not replay: lost with the process
//
// Every series is exported from the start; there are 21, whatever the
// number of conversations, and no label holds a conversation ID.
//
// # Cost
//
// The collector computes everything at scrape time from one call to
// Stats, which reads the Store's atomic counters, takes the breaker's and
// the outbox's locks briefly and allocates a small map and slice; it adds
// nothing to Append or to any other call.
package promresilient

import (
	"github.com/chatring/chatring/promexport"
	"github.com/chatring/chatring/promexport/internal/collect"
	"github.com/chatring/chatring/resilient"
	"github.com/prometheus/client_golang/prometheus"
)

// Source is what New reads: *resilient.Store, or anything else that
// reports its Stats.
type Source interface {
	Stats() resilient.Stats
}

// breakerStates are the values of chatring_breaker_state's state label,
// all exported.
var breakerStates = []string{"closed", "open", "half-open"}

type collector struct {
	d   collect.Describer
	src Source

	state, transitions, failedFast               collect.Metric
	attempts, retries                            collect.Metric
	degradedReads, degradedMisses                collect.Metric
	outbox, outboxConvs, outboxCap, outboxHigh   collect.Metric
	buffered, refused, replayed, discarded, lost collect.Metric
}

// New returns a prometheus.Collector that exports s's Stats as the
// metrics listed in the package documentation. Of the options, only
// promexport.WithConstLabels applies. It is safe for concurrent use.
func New(s Source, opts ...promexport.Option) prometheus.Collector {
	c := &collector{d: collect.Describer{ConstLabels: collect.Apply(opts).ConstLabels}, src: s}
	d := &c.d
	c.state = d.Gauge("breaker_state",
		"1 for the circuit breaker's state (closed, open or half-open), 0 for the others.", "state")
	c.transitions = d.Counter("breaker_transitions_total",
		"State changes of the circuit breaker, by the state left and the state entered.", "from", "to")
	c.failedFast = d.Counter("breaker_failed_fast_total",
		"Attempts the open circuit breaker refused without calling the primary store.")
	c.attempts = d.Counter("primary_attempts_total",
		"Attempts that reached the primary store, retries and outbox replays included.")
	c.retries = d.Counter("primary_retries_total",
		"Attempts after a call's first, each after a backoff wait.")
	c.degradedReads = d.Counter("degraded_reads_total",
		"Reads answered from the local mirror because the primary store was unavailable.")
	c.degradedMisses = d.Counter("degraded_read_misses_total",
		"Reads the primary store could not serve and the local mirror could not answer.")
	c.outbox = d.Gauge("outbox_messages",
		"Appends buffered in the outbox now, not yet stored by the primary.")
	c.outboxConvs = d.Gauge("outbox_conversations",
		"Conversations with appends buffered in the outbox.")
	c.outboxCap = d.Gauge("outbox_capacity_messages",
		"The outbox's bound on buffered appends; 0 when there is no outbox.")
	c.outboxHigh = d.Gauge("outbox_high_water_messages",
		"The most appends the outbox has held at once.")
	c.buffered = d.Counter("outbox_buffered_total",
		"Appends buffered in the outbox while the primary store was unavailable.")
	c.refused = d.Counter("outbox_refused_total",
		"Appends refused because the outbox was full.")
	c.replayed = d.Counter("outbox_replayed_total",
		"Buffered appends the primary store then stored.")
	c.discarded = d.Counter("outbox_discarded_total",
		"Buffered appends the primary store rejected as invalid on replay.")
	c.lost = d.Counter("outbox_unflushed_total",
		"Buffered appends Close could not replay before its deadline: lost with the process.")
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) { c.d.Describe(ch) }

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	for _, st := range breakerStates {
		collect.Emit(ch, c.state, collect.Bool(s.Breaker == st), st)
	}
	for _, t := range s.BreakerChanges {
		collect.Emit(ch, c.transitions, float64(t.Count), t.From, t.To)
	}
	collect.Emit(ch, c.failedFast, float64(s.FailedFast))
	collect.Emit(ch, c.attempts, float64(s.Attempts))
	collect.Emit(ch, c.retries, float64(s.Retries))
	collect.Emit(ch, c.degradedReads, float64(s.DegradedReads))
	collect.Emit(ch, c.degradedMisses, float64(s.DegradedMisses))
	collect.Emit(ch, c.outbox, float64(s.Outbox))
	collect.Emit(ch, c.outboxConvs, float64(s.OutboxConversations))
	collect.Emit(ch, c.outboxCap, float64(s.OutboxCapacity))
	collect.Emit(ch, c.outboxHigh, float64(s.OutboxHighWater))
	collect.Emit(ch, c.buffered, float64(s.Buffered))
	collect.Emit(ch, c.refused, float64(s.OutboxFull))
	collect.Emit(ch, c.replayed, float64(s.Replayed))
	collect.Emit(ch, c.discarded, float64(s.Discarded))
	collect.Emit(ch, c.lost, float64(s.Unflushed))
}

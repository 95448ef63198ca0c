// Package promredis exports the operations of a redisstore.Store to
// Prometheus: how long they take and how they fail.
//
// It is a package of its own, beside promexport, so that the users of
// promexport's other collectors never compile the Redis client:
//
//	c := promredis.New()
//	store, err := redisstore.New(client, cfg, redisstore.WithObserver(c))
//	reg.MustRegister(c)
//
// # Metrics
//
//	chatring_redis_operation_duration_seconds{op}  histogram  duration of the operations sent to Redis, failed ones included
//	chatring_redis_errors_total{op,kind}           counter    the failed ones, by kind: canceled, timeout, unavailable, format, other
//
// op is one of redisstore.Ops(): append, append_batch, messages, window,
// set_system_prompt, clear, delete. kind is one of redisstore.ErrorKinds():
// canceled (the caller's ctx was canceled: the caller went away, not
// Redis's fault), timeout (the ctx's deadline passed: Redis did not
// answer in the time the caller, or the resilient wrapper's
// AttemptTimeout, gave it), unavailable (chatring.ErrUnavailable: Redis
// down, loading, failing over, or the client's pool exhausted), format
// (redisstore.ErrFormat) and other. Every op, and every op and kind, is
// exported from the start, at 0: 119 series for the histogram (14
// buckets, +Inf, _sum and _count for each of the 7 ops) and 35 for the
// errors, whatever the number of conversations. Calls
// that the store rejects before sending them (invalid input, writes after
// Close) are not operations on Redis: the store's Stats counts them.
//
// NewStatsCollector exports the store's Stats, what this process's store
// did, under the message metrics of promexport's MemoryStore collector
// (same names, types, labels and help texts, so that the same alerts read
// a service on either store): chatring_messages_appended_total{role},
// chatring_messages_deduplicated_total,
// chatring_messages_rejected_total{reason}, chatring_appended_bytes_total,
// chatring_appended_tokens_total, chatring_window_capacity_messages and
// chatring_closed, 18 series. Register it beside the Observer:
//
//	c := promredis.New()
//	store, err := redisstore.New(client, cfg, redisstore.WithObserver(c))
//	reg.MustRegister(c, promredis.NewStatsCollector(store))
//
// Behind the resilient wrapper, give the wrapper to NewStatsCollector
// with promexport.WithRejectionsOf: it refuses invalid writes before they
// reach the store, and chatring_messages_rejected_total then counts them
// too (see the Example).
//
// # Cost
//
// Unlike promexport's collectors, which read Stats at scrape time, this
// one is fed as the operations happen: redisstore reads the clock twice
// per operation and calls Observe, which makes one histogram observation
// (a few atomic operations, no lock, no allocation) and, for a failed
// operation, one counter increment. A store without an Observer does not
// read the clock. A scrape costs the same whatever the traffic.
package promredis

import (
	"time"

	"github.com/chatring/chatring/promexport"
	"github.com/chatring/chatring/promexport/internal/collect"
	"github.com/chatring/chatring/redisstore"
	"github.com/prometheus/client_golang/prometheus"
)

// Buckets are the upper bounds, in seconds, of the duration histogram's
// buckets: from 100µs (a round trip on a local network) to 2.5s (past the
// resilient wrapper's default attempt timeout of 500ms, so that attempts
// that time out land in a bucket of their own).
var Buckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// Collector is a redisstore.Observer that exports what it observes as the
// metrics listed in the package documentation. It is a
// prometheus.Collector: register it. All its methods are safe for
// concurrent use.
type Collector struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	// ops holds the series of each op of redisstore.Ops(), made by New
	// and only read after.
	ops map[string]opSeries
}

// opSeries are the series of one op.
type opSeries struct {
	duration prometheus.Observer
	errors   map[redisstore.ErrorKind]prometheus.Counter
}

var (
	_ redisstore.Observer  = (*Collector)(nil)
	_ prometheus.Collector = (*Collector)(nil)
)

// New returns a Collector; give it to redisstore.New with
// redisstore.WithObserver, and register it. Of the options, only
// promexport.WithConstLabels applies. One Collector may observe several
// stores: it sums their operations.
func New(opts ...promexport.Option) *Collector {
	o := collect.Apply(opts)
	c := &Collector{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace:   collect.Namespace,
			Name:        "redis_operation_duration_seconds",
			Help:        "Duration of the operations the store sent to Redis, by op, failed ones included.",
			Buckets:     Buckets,
			ConstLabels: o.ConstLabels,
		}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace:   collect.Namespace,
			Name:        "redis_errors_total",
			Help:        "Operations sent to Redis that failed, by op and kind (canceled, timeout, unavailable, format, other).",
			ConstLabels: o.ConstLabels,
		}, []string{"op", "kind"}),
		ops: make(map[string]opSeries),
	}
	for _, op := range redisstore.Ops() {
		c.ops[op] = c.newOpSeries(op)
	}
	return c
}

func (c *Collector) newOpSeries(op string) opSeries {
	s := opSeries{duration: c.duration.WithLabelValues(op), errors: make(map[redisstore.ErrorKind]prometheus.Counter)}
	for _, k := range redisstore.ErrorKinds() {
		s.errors[k] = c.errors.WithLabelValues(op, k.String())
	}
	return s
}

// Observe implements redisstore.Observer.
func (c *Collector) Observe(op string, d time.Duration, kind redisstore.ErrorKind) {
	s, ok := c.ops[op]
	if !ok { // an op this package does not know of yet: exported from its first occurrence
		s = c.newOpSeries(op)
	}
	s.duration.Observe(d.Seconds())
	if kind != redisstore.KindNone {
		e, ok := s.errors[kind]
		if !ok {
			e = c.errors.WithLabelValues(op, kind.String())
		}
		e.Inc()
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.duration.Describe(ch)
	c.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.duration.Collect(ch)
	c.errors.Collect(ch)
}

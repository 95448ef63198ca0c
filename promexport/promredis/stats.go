package promredis

import (
	"github.com/chatring/chatring/promexport"
	"github.com/chatring/chatring/promexport/internal/collect"
	"github.com/chatring/chatring/redisstore"
	"github.com/prometheus/client_golang/prometheus"
)

// StatsSource is what NewStatsCollector reads: *redisstore.Store, or
// anything else that reports a redisstore.Stats.
type StatsSource interface {
	Stats() redisstore.Stats
}

// statsCollector exports a Redis store's Stats.
type statsCollector struct {
	d   collect.Describer
	msg collect.Messages
	src StatsSource
}

// NewStatsCollector returns a prometheus.Collector that exports s's
// Stats, what this process's store did, under the names, types, labels
// and help texts of promexport's MemoryStore and History collectors, so
// that the same queries and alerts (deploy/alerts.yml's
// ChatringRejectionSpike) read a service on either store:
//
//	chatring_window_capacity_messages           gauge    messages a window keeps: 2 x max_turns
//	chatring_messages_appended_total{role}      counter  messages Redis stored, by role
//	chatring_messages_deduplicated_total        counter  appends Redis found by their idempotency key: nothing stored
//	chatring_messages_rejected_total{reason}    counter  writes refused before being sent, by reason (promexport.RejectionReasons())
//	chatring_appended_bytes_total               counter  content, name and tool bytes stored
//	chatring_appended_tokens_total              counter  tokens stored
//	chatring_closed                             gauge    1 once Close was called
//
// The counts are per process, not the conversations' global state (which
// is in Redis, written by every replica): sum them over the replicas
// (sum by (job)). Every role and reason is exported from the start, at 0.
// Each scrape calls s.Stats once (a few atomic loads, two small maps); the
// collector adds nothing to any call of the store, whose counters cost
// one atomic add per event whether or not anything exports them.
//
// A store behind the resilient wrapper sees no write the wrapper refuses
// (it validates messages before calling the store): give the wrapper with
// promexport.WithRejectionsOf, and chatring_messages_rejected_total
// counts the writes either refused.
//
// It is a collector of its own, beside the Observer New returns, because
// the two read different things (Stats at scrape time; operations as they
// happen) and a store has only one Observer. Of the options,
// promexport.WithConstLabels and promexport.WithRejectionsOf apply. It is
// safe for concurrent use.
func NewStatsCollector(s StatsSource, opts ...promexport.Option) prometheus.Collector {
	o := collect.Apply(opts)
	c := &statsCollector{d: collect.Describer{ConstLabels: o.ConstLabels}, src: s}
	c.msg = collect.NewMessages(&c.d, o.Rejections)
	return c
}

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) { c.d.Describe(ch) }

// Collect implements prometheus.Collector.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	c.msg.Collect(ch, collect.MessageCounts{
		Capacity:         s.Capacity,
		ByRole:           s.ByRole,
		Deduplicated:     s.Deduplicated,
		RejectedByReason: s.RejectedByReason,
		AppendedBytes:    s.AppendedBytes,
		AppendedTokens:   s.AppendedTokens,
		Closed:           s.Closed,
	})
}

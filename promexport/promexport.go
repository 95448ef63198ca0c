package promexport

import (
	"maps"
	"slices"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/promexport/internal/collect"
	"github.com/prometheus/client_golang/prometheus"
)

// Namespace is the prefix of every metric name this package and its
// subpackages export.
const Namespace = collect.Namespace

// HistorySource is what NewHistoryCollector reads: *chatring.History, or
// anything else that reports a History's Stats.
type HistorySource interface {
	Stats() chatring.Stats
}

// MemoryStoreSource is what NewMemoryStoreCollector reads:
// *chatring.MemoryStore, or anything else that reports StoreStats.
type MemoryStoreSource interface {
	Stats() chatring.StoreStats
}

// Option configures a collector, of this package or of its subpackages.
type Option func(*collect.Options)

// WithConstLabels adds labels with fixed values to every metric of the
// collector, e.g. {"store": "sessions"} to register the collectors of two
// stores in one registry (their metric names are the same, so without
// distinct labels the registry rejects the second; it also rejects
// collectors whose label names differ, so give each the same names with
// different values). Keep the values
// low-cardinality: never a conversation or user ID.
func WithConstLabels(l prometheus.Labels) Option {
	return func(o *collect.Options) { o.ConstLabels = maps.Clone(l) }
}

// RejectionSource is a store in front of the one a collector reads, that
// refuses some writes itself before they reach it: *resilient.Store
// (github.com/chatring/chatring/resilient), whose RejectedByReason
// counts the writes it refused without calling its primary, by
// chatring.RejectionReason.
type RejectionSource interface {
	RejectedByReason() map[string]uint64
}

// WithRejectionsOf adds the rejections of front, a store wrapping the
// collected one, to the collector's chatring_messages_rejected_total, by
// reason, so that the one series counts every write refused by either
// and the alerts on it (deploy/alerts.yml's ChatringRejectionSpike) read
// a wrapped store as they read a bare one. With the resilient wrapper in
// front of the Redis store:
//
//	promredis.NewStatsCollector(primary, promexport.WithRejectionsOf(store))
//
// A second collector exporting the wrapper's rejections could not be
// registered beside this one (a registry refuses two collectors of the
// same series), and under another name the alerts would have to sum
// both. front must count only the writes it refused itself, never one
// that the collected store refused too, as resilient.Store does: the sum
// then counts each refused write once. Each scrape calls
// front.RejectedByReason once; the option may be given several times,
// for several fronts.
func WithRejectionsOf(front RejectionSource) Option {
	return func(o *collect.Options) { o.Rejections = append(o.Rejections, front.RejectedByReason) }
}

// collector is what both collectors share: the Descs of their metrics,
// for Describe, and the metrics of the message counters.
type collector struct {
	d    collect.Describer
	info collect.Metric
	msg  collect.Messages
}

func newCollector(opts []Option) collector {
	o := collect.Apply(opts)
	c := collector{d: collect.Describer{ConstLabels: o.ConstLabels}}
	c.info = c.d.Gauge("backend_info",
		"Always 1; the backend label names the ring that holds each window.", "backend")
	c.msg = collect.NewMessages(&c.d, o.Rejections)
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) { c.d.Describe(ch) }

// RejectionReasons returns the values of the reason label of
// chatring_messages_rejected_total that are always exported, with 0 until
// the first such rejection, so that rate() and increase() see the first
// one. They are the reasons chatring.Stats.RejectedByReason documents; a
// reason missing here is still exported from its first occurrence. The
// slice is a new copy on every call.
func RejectionReasons() []string { return slices.Clone(collect.RejectionReasons) }

// collectMessages sends the metrics of the fields that History's Stats
// and MemoryStore's StoreStats share: backend_info and collect.Messages.
func (c *collector) collectMessages(ch chan<- prometheus.Metric, backend string, mc collect.MessageCounts) {
	collect.Emit(ch, c.info, 1, backend)
	c.msg.Collect(ch, mc)
}

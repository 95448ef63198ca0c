package promexport

import (
	"maps"
	"slices"

	"github.com/chatring/chatring"
	"github.com/prometheus/client_golang/prometheus"
)

// Namespace is the prefix of every metric name this package exports.
const Namespace = "chatring"

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

// Option configures a collector.
type Option func(*options)

type options struct {
	constLabels prometheus.Labels
}

// WithConstLabels adds labels with fixed values to every metric of the
// collector, e.g. {"store": "sessions"} to register the collectors of two
// stores in one registry (their metric names are the same, so without
// distinct labels the registry rejects the second; it also rejects
// collectors whose label names differ, so give each the same names with
// different values). Keep the values
// low-cardinality: never a conversation or user ID.
func WithConstLabels(l prometheus.Labels) Option {
	return func(o *options) { o.constLabels = maps.Clone(l) }
}

// collector is what both collectors share: the Descs of their metrics,
// for Describe, and the metrics of messageMetrics.
type collector struct {
	d   describer
	msg messageMetrics
}

func newCollector(opts []Option) collector {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	c := collector{d: describer{constLabels: o.constLabels}}
	c.msg = newMessageMetrics(&c.d)
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) { c.d.describe(ch) }

// RejectionReasons returns the values of the reason label of
// chatring_messages_rejected_total that are always exported, with 0 until
// the first such rejection, so that rate() and increase() see the first
// one. They are the reasons chatring.Stats.RejectedByReason documents; a
// reason missing here is still exported from its first occurrence. The
// slice is a new copy on every call.
func RejectionReasons() []string { return slices.Clone(rejectionReasons) }

var rejectionReasons = []string{
	"invalid_role", "empty_content", "message_too_large", "invalid_content",
	"invalid_tool_call", "invalid_conversation", "closed", "canceled", "other",
}

// metric is one exported series family: its Desc and its value type.
type metric struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
}

// describer builds metrics with the collector's constant labels and keeps
// their Descs for Describe.
type describer struct {
	constLabels prometheus.Labels
	all         []*prometheus.Desc
}

func (d *describer) counter(name, help string, labels ...string) metric {
	return d.new(name, help, prometheus.CounterValue, labels)
}

func (d *describer) gauge(name, help string, labels ...string) metric {
	return d.new(name, help, prometheus.GaugeValue, labels)
}

func (d *describer) new(name, help string, typ prometheus.ValueType, labels []string) metric {
	desc := prometheus.NewDesc(Namespace+"_"+name, help, labels, d.constLabels)
	d.all = append(d.all, desc)
	return metric{desc, typ}
}

func (d *describer) describe(ch chan<- *prometheus.Desc) {
	for _, desc := range d.all {
		ch <- desc
	}
}

// emit sends one sample of m.
func emit(ch chan<- prometheus.Metric, m metric, v float64, labelValues ...string) {
	ch <- prometheus.MustNewConstMetric(m.desc, m.typ, v, labelValues...)
}

// emitMap sends one sample of m per key of values, labelled with the key:
// first the keys in always (0 when absent from values), then the other
// keys of values in sorted order.
func emitMap[K ~string](ch chan<- prometheus.Metric, m metric, values map[K]uint64, always []K) {
	for _, k := range always {
		emit(ch, m, float64(values[k]), string(k))
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if !slices.Contains(always, k) {
			emit(ch, m, float64(values[k]), string(k))
		}
	}
}

// messageMetrics are the metrics of the fields that History's Stats and
// MemoryStore's StoreStats share: the ring, and the message counters. Their
// names and help texts are the same in every collector, so that one
// registry can hold a History's and a store's collectors (with distinct
// constant labels).
type messageMetrics struct {
	info, capacity                metric
	appended, deduplicated        metric
	rejected                      metric
	appendedBytes, appendedTokens metric
	closed                        metric
}

// messageCounts are the values of messageMetrics, from either Stats type.
type messageCounts struct {
	backend                       string
	capacity                      int
	byRole                        map[chatring.Role]uint64
	deduplicated                  uint64
	rejectedByReason              map[string]uint64
	appendedBytes, appendedTokens uint64
	closed                        bool
}

// roles are the values of the role label, always exported.
var roles = []chatring.Role{chatring.System, chatring.User, chatring.Assistant, chatring.Tool}

func newMessageMetrics(d *describer) messageMetrics {
	return messageMetrics{
		info: d.gauge("backend_info",
			"Always 1; the backend label names the ring that holds each window.", "backend"),
		capacity: d.gauge("window_capacity_messages",
			"Messages a window keeps: 2 x max_turns."),
		appended: d.counter("messages_appended_total",
			"Messages accepted by Append, by role.", "role"),
		deduplicated: d.counter("messages_deduplicated_total",
			"Appends that stored nothing because a message with their ID was in the window."),
		rejected: d.counter("messages_rejected_total",
			"Rejected writes (invalid input, writes after Close, canceled contexts), by reason.", "reason"),
		appendedBytes: d.counter("appended_bytes_total",
			"Content, name and tool call bytes of the messages accepted by Append."),
		appendedTokens: d.counter("appended_tokens_total",
			"Tokens of the messages accepted by Append."),
		closed: d.gauge("closed",
			"1 once Close was called, else 0."),
	}
}

func (m *messageMetrics) collect(ch chan<- prometheus.Metric, c messageCounts) {
	emit(ch, m.info, 1, c.backend)
	emit(ch, m.capacity, float64(c.capacity))
	emitMap(ch, m.appended, c.byRole, roles)
	emit(ch, m.deduplicated, float64(c.deduplicated))
	emitMap(ch, m.rejected, c.rejectedByReason, rejectionReasons)
	emit(ch, m.appendedBytes, float64(c.appendedBytes))
	emit(ch, m.appendedTokens, float64(c.appendedTokens))
	emit(ch, m.closed, boolValue(c.closed))
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

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

// collector is what both collectors share: the Descs of their metrics,
// for Describe, and the metrics of messageMetrics.
type collector struct {
	d   collect.Describer
	msg messageMetrics
}

func newCollector(opts []Option) collector {
	c := collector{d: collect.Describer{ConstLabels: collect.Apply(opts).ConstLabels}}
	c.msg = newMessageMetrics(&c.d)
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
func RejectionReasons() []string { return slices.Clone(rejectionReasons) }

var rejectionReasons = []string{
	"invalid_role", "empty_content", "message_too_large", "invalid_content",
	"invalid_tool_call", "invalid_conversation", "closed", "canceled", "other",
}

// messageMetrics are the metrics of the fields that History's Stats and
// MemoryStore's StoreStats share: the ring, and the message counters. Their
// names and help texts are the same in every collector, so that one
// registry can hold a History's and a store's collectors (with distinct
// constant labels).
type messageMetrics struct {
	info, capacity                collect.Metric
	appended, deduplicated        collect.Metric
	rejected                      collect.Metric
	appendedBytes, appendedTokens collect.Metric
	closed                        collect.Metric
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

func newMessageMetrics(d *collect.Describer) messageMetrics {
	return messageMetrics{
		info: d.Gauge("backend_info",
			"Always 1; the backend label names the ring that holds each window.", "backend"),
		capacity: d.Gauge("window_capacity_messages",
			"Messages a window keeps: 2 x max_turns."),
		appended: d.Counter("messages_appended_total",
			"Messages accepted by Append, by role.", "role"),
		deduplicated: d.Counter("messages_deduplicated_total",
			"Appends that stored nothing because a message with their ID was in the window."),
		rejected: d.Counter("messages_rejected_total",
			"Rejected writes (invalid input, writes after Close, canceled contexts), by reason.", "reason"),
		appendedBytes: d.Counter("appended_bytes_total",
			"Content, name and tool call bytes of the messages accepted by Append."),
		appendedTokens: d.Counter("appended_tokens_total",
			"Tokens of the messages accepted by Append."),
		closed: d.Gauge("closed",
			"1 once Close was called, else 0."),
	}
}

func (m *messageMetrics) collect(ch chan<- prometheus.Metric, c messageCounts) {
	collect.Emit(ch, m.info, 1, c.backend)
	collect.Emit(ch, m.capacity, float64(c.capacity))
	collect.EmitMap(ch, m.appended, c.byRole, roles)
	collect.Emit(ch, m.deduplicated, float64(c.deduplicated))
	collect.EmitMap(ch, m.rejected, c.rejectedByReason, rejectionReasons)
	collect.Emit(ch, m.appendedBytes, float64(c.appendedBytes))
	collect.Emit(ch, m.appendedTokens, float64(c.appendedTokens))
	collect.Emit(ch, m.closed, collect.Bool(c.closed))
}

package promexport

import (
	"github.com/prometheus/client_golang/prometheus"
)

// historyCollector exports one History's Stats.
type historyCollector struct {
	collector
	src HistorySource

	evicted, cleared                      metric
	windowMessages, windowBytes           metric
	windowTokens                          metric
	systemPromptBytes, systemPromptTokens metric
}

// NewHistoryCollector returns a prometheus.Collector that exports h's Stats
// as the metrics listed in the package documentation. Each scrape calls
// h.Stats once (O(window), see chatring.History.Stats); the collector adds
// nothing to Append or any other call. It is safe for concurrent use.
func NewHistoryCollector(h HistorySource, opts ...Option) prometheus.Collector {
	c := &historyCollector{collector: newCollector(opts), src: h}
	d := &c.d
	c.evicted = d.counter("messages_evicted_total",
		"Messages pushed out of the window by newer ones.")
	c.cleared = d.counter("messages_cleared_total",
		"Messages removed from the window by Clear.")
	c.windowMessages = d.gauge("window_messages",
		"Messages in the window, without the pinned system prompt.")
	c.windowBytes = d.gauge("window_bytes",
		"Content, name and tool call bytes of the messages in the window.")
	c.windowTokens = d.gauge("window_tokens",
		"Tokens of the messages in the window.")
	c.systemPromptBytes = d.gauge("system_prompt_bytes",
		"Bytes of the pinned system prompt, 0 when none is set.")
	c.systemPromptTokens = d.gauge("system_prompt_tokens",
		"Tokens of the pinned system prompt, 0 when none is set.")
	return c
}

// Collect implements prometheus.Collector.
func (c *historyCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	c.msg.collect(ch, messageCounts{
		backend:          s.Backend,
		capacity:         s.Capacity,
		byRole:           s.ByRole,
		deduplicated:     s.Deduplicated,
		rejectedByReason: s.RejectedByReason,
		appendedBytes:    s.AppendedBytes,
		appendedTokens:   s.AppendedTokens,
		closed:           s.Closed,
	})
	emit(ch, c.evicted, float64(s.Evicted))
	emit(ch, c.cleared, float64(s.Cleared))
	emit(ch, c.windowMessages, float64(s.WindowMessages))
	emit(ch, c.windowBytes, float64(s.WindowBytes))
	emit(ch, c.windowTokens, float64(s.WindowTokens))
	emit(ch, c.systemPromptBytes, float64(s.SystemPromptBytes))
	emit(ch, c.systemPromptTokens, float64(s.SystemPromptTokens))
}

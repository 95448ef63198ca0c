package promexport

import (
	"github.com/chatring/chatring/promexport/internal/collect"
	"github.com/prometheus/client_golang/prometheus"
)

// historyCollector exports one History's Stats.
type historyCollector struct {
	collector
	src HistorySource

	evicted, cleared                      collect.Metric
	windowMessages, windowBytes           collect.Metric
	windowTokens                          collect.Metric
	systemPromptBytes, systemPromptTokens collect.Metric
}

// NewHistoryCollector returns a prometheus.Collector that exports h's Stats
// as the metrics listed in the package documentation. Each scrape calls
// h.Stats once (O(window), see chatring.History.Stats); the collector adds
// nothing to Append or any other call. It is safe for concurrent use.
func NewHistoryCollector(h HistorySource, opts ...Option) prometheus.Collector {
	c := &historyCollector{collector: newCollector(opts), src: h}
	d := &c.d
	c.evicted = d.Counter("messages_evicted_total",
		"Messages pushed out of the window by newer ones.")
	c.cleared = d.Counter("messages_cleared_total",
		"Messages removed from the window by Clear.")
	c.windowMessages = d.Gauge("window_messages",
		"Messages in the window, without the pinned system prompt.")
	c.windowBytes = d.Gauge("window_bytes",
		"Content, name and tool call bytes of the messages in the window.")
	c.windowTokens = d.Gauge("window_tokens",
		"Tokens of the messages in the window.")
	c.systemPromptBytes = d.Gauge("system_prompt_bytes",
		"Bytes of the pinned system prompt, 0 when none is set.")
	c.systemPromptTokens = d.Gauge("system_prompt_tokens",
		"Tokens of the pinned system prompt, 0 when none is set.")
	return c
}

// Collect implements prometheus.Collector.
func (c *historyCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	c.collectMessages(ch, s.Backend, collect.MessageCounts{
		Capacity:         s.Capacity,
		ByRole:           s.ByRole,
		Deduplicated:     s.Deduplicated,
		RejectedByReason: s.RejectedByReason,
		AppendedBytes:    s.AppendedBytes,
		AppendedTokens:   s.AppendedTokens,
		Closed:           s.Closed,
	})
	collect.Emit(ch, c.evicted, float64(s.Evicted))
	collect.Emit(ch, c.cleared, float64(s.Cleared))
	collect.Emit(ch, c.windowMessages, float64(s.WindowMessages))
	collect.Emit(ch, c.windowBytes, float64(s.WindowBytes))
	collect.Emit(ch, c.windowTokens, float64(s.WindowTokens))
	collect.Emit(ch, c.systemPromptBytes, float64(s.SystemPromptBytes))
	collect.Emit(ch, c.systemPromptTokens, float64(s.SystemPromptTokens))
}

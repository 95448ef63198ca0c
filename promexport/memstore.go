package promexport

import (
	"github.com/chatring/chatring/promexport/internal/collect"
	"github.com/prometheus/client_golang/prometheus"
)

// memoryStoreCollector exports a MemoryStore's StoreStats.
type memoryStoreCollector struct {
	collector
	src MemoryStoreSource

	conversations, maxConversations collect.Metric
	created, deleted, evicted       collect.Metric
	clears, heldBytes               collect.Metric
}

// evictionReasons are the values of the reason label of
// chatring_conversations_evicted_total, always exported.
var evictionReasons = []string{"capacity", "idle"}

// NewMemoryStoreCollector returns a prometheus.Collector that exports s's
// StoreStats as the metrics listed in the package documentation. Each
// scrape calls s.Stats once, which reads counters whatever the number of
// conversations (see chatring.MemoryStore.Stats); the collector adds
// nothing to Append or any other call. The number of series
// does not depend on the number of conversations. It is safe for concurrent
// use.
func NewMemoryStoreCollector(s MemoryStoreSource, opts ...Option) prometheus.Collector {
	c := &memoryStoreCollector{collector: newCollector(opts), src: s}
	d := &c.d
	c.conversations = d.Gauge("conversations",
		"Conversations the store holds.")
	c.maxConversations = d.Gauge("max_conversations",
		"The store's bound on conversations (max_conversations); beyond it the store evicts one.")
	c.created = d.Counter("conversations_created_total",
		"Conversations created by a first write.")
	c.deleted = d.Counter("conversations_deleted_total",
		"Conversations removed by Delete.")
	c.evicted = d.Counter("conversations_evicted_total",
		"Conversations removed by the store itself: reason capacity (max_conversations) or idle (idle_ttl).", "reason")
	c.clears = d.Counter("clears_total",
		"Clear calls on existing conversations.")
	c.heldBytes = d.Gauge("held_bytes",
		"Estimated heap bytes the conversations hold (rings, message strings, bookkeeping).")
	return c
}

// Collect implements prometheus.Collector.
func (c *memoryStoreCollector) Collect(ch chan<- prometheus.Metric) {
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
	collect.Emit(ch, c.conversations, float64(s.Conversations))
	collect.Emit(ch, c.maxConversations, float64(s.MaxConversations))
	collect.Emit(ch, c.created, float64(s.Created))
	collect.Emit(ch, c.deleted, float64(s.Deleted))
	collect.EmitMap(ch, c.evicted, s.EvictedByReason, evictionReasons)
	collect.Emit(ch, c.clears, float64(s.Clears))
	collect.Emit(ch, c.heldBytes, float64(s.HeldBytes))
}

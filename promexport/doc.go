// Package promexport exports chatring's statistics to Prometheus: a
// prometheus.Collector for a chatring.History and one for a
// chatring.MemoryStore. Its subpackages promredis (the Redis store's
// operations: latency histograms and errors by kind) and promresilient
// (the resilient wrapper: breaker, retries, degraded reads, outbox) are
// separate packages so that importing this one compiles neither the Redis
// client nor the resilience libraries; their metrics are listed in their
// documentation.
//
// It is a module of its own, github.com/chatring/chatring/promexport, so that
// the importers of chatring never download the Prometheus client. Its name
// does not clash with client_golang's package prometheus, which it is meant
// to be used beside:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(promexport.NewMemoryStoreCollector(store))
//	http.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// # Cost
//
// The collectors compute everything at scrape time from one call to the
// source's Stats method; they add no work to Append or to any other call
// (the counters Stats reads cost one atomic add per event, in chatring,
// whether or not anything exports them). A History's Stats costs
// O(window); a MemoryStore's reads counters (its held bytes are a running
// total), so a scrape costs the same at any number of conversations:
// BenchmarkScrape measures it at 1 000 and 100 000. The number of series is fixed: it depends on
// no conversation, message or user, and no label ever holds a conversation
// ID.
//
// # Metrics
//
// Both collectors export (with the same names and help texts, so that one
// registry can hold both, given WithConstLabels with the same label names
// and distinct values):
//
//	chatring_backend_info{backend}              gauge    always 1; backend is "mutex", "lockfree" or "sharded"
//	chatring_window_capacity_messages           gauge    messages a window keeps: 2 x max_turns
//	chatring_messages_appended_total{role}      counter  messages accepted, by role (system, user, assistant, tool)
//	chatring_messages_deduplicated_total        counter  Appends whose Message.ID was in the window: nothing stored
//	chatring_messages_rejected_total{reason}    counter  rejected writes, by reason (RejectionReasons())
//	chatring_appended_bytes_total               counter  content and name bytes accepted
//	chatring_appended_tokens_total              counter  tokens accepted
//	chatring_closed                             gauge    1 once Close was called
//
// The History collector adds the window of its one conversation:
//
//	chatring_messages_evicted_total             counter  messages pushed out of the window by newer ones
//	chatring_messages_cleared_total             counter  messages removed by Clear
//	chatring_window_messages                    gauge    messages in the window (without the system prompt)
//	chatring_window_bytes                       gauge    their content and name bytes
//	chatring_window_tokens                      gauge    their tokens
//	chatring_system_prompt_bytes                gauge    the pinned system prompt's bytes (0 if none)
//	chatring_system_prompt_tokens               gauge    and its tokens
//
// The MemoryStore collector adds the conversations:
//
//	chatring_conversations                      gauge    conversations held
//	chatring_max_conversations                  gauge    the bound (Config.MaxConversations)
//	chatring_conversations_created_total        counter  conversations created by a first write
//	chatring_conversations_deleted_total        counter  conversations removed by Delete
//	chatring_conversations_evicted_total{reason} counter removed by the store: capacity (max_conversations) or idle (idle_ttl)
//	chatring_clears_total                       counter  Clear calls on existing conversations
//	chatring_held_bytes                         gauge    estimated heap the conversations hold (StoreStats.HeldBytes)
//
// Every value of a label that a counter can take is exported from the
// start, at 0, so that rate() and increase() see the first event. Counters
// are chatring's monotonic counters, so they never decrease while the
// process runs. A store's message counters sum every conversation it ever
// held, deleted and evicted ones included; a store does not count the
// messages evicted from or cleared in each conversation (that would cost a
// snapshot of every window per scrape), only its Clear calls.
//
// A store behind a wrapper that refuses some writes itself (the
// resilient wrapper validates messages before calling its primary) is
// given the wrapper with WithRejectionsOf, so that
// chatring_messages_rejected_total counts the writes either refused.
//
// The deploy/alerts.yml file at the repository's root holds alerting rules
// on these metrics, unit-tested with promtool.
package promexport

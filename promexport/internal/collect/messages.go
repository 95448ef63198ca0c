package collect

import (
	"maps"

	"github.com/chatring/chatring"
	"github.com/prometheus/client_golang/prometheus"
)

// RejectionReasons are the values of the reason label of
// chatring_messages_rejected_total that are always exported
// (promexport.RejectionReasons).
var RejectionReasons = []string{
	"invalid_role", "empty_content", "message_too_large", "invalid_content",
	"invalid_tool_call", "invalid_conversation", "closed", "canceled", "other",
}

// Roles are the values of the role label, always exported.
var Roles = []chatring.Role{chatring.System, chatring.User, chatring.Assistant, chatring.Tool}

// Messages are the metrics of the message counters that every store's
// collector exports (promexport's History and MemoryStore collectors,
// promredis's Stats collector), with the same names, types, labels and
// help texts in all of them, so that the same queries and alerts read
// any store and one registry can hold several (with distinct constant
// labels).
type Messages struct {
	capacity                      Metric
	appended, deduplicated        Metric
	rejected                      Metric
	appendedBytes, appendedTokens Metric
	closed                        Metric
	front                         []func() map[string]uint64 // Options.Rejections
}

// MessageCounts are the values of Messages, from any store's statistics.
type MessageCounts struct {
	Capacity                      int
	ByRole                        map[chatring.Role]uint64
	Deduplicated                  uint64
	RejectedByReason              map[string]uint64
	AppendedBytes, AppendedTokens uint64
	Closed                        bool
}

// NewMessages builds the Messages metrics with d; the rejections that
// front reports are added to the collected store's (Options.Rejections).
func NewMessages(d *Describer, front []func() map[string]uint64) Messages {
	return Messages{
		front: front,
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

// Collect sends the samples of m with the values c.
func (m *Messages) Collect(ch chan<- prometheus.Metric, c MessageCounts) {
	Emit(ch, m.capacity, float64(c.Capacity))
	EmitMap(ch, m.appended, c.ByRole, Roles)
	Emit(ch, m.deduplicated, float64(c.Deduplicated))
	rejected := c.RejectedByReason
	if len(m.front) > 0 {
		rejected = maps.Clone(rejected)
		if rejected == nil {
			rejected = map[string]uint64{}
		}
		for _, f := range m.front {
			for reason, n := range f() {
				rejected[reason] += n
			}
		}
	}
	EmitMap(ch, m.rejected, rejected, RejectionReasons)
	Emit(ch, m.appendedBytes, float64(c.AppendedBytes))
	Emit(ch, m.appendedTokens, float64(c.AppendedTokens))
	Emit(ch, m.closed, Bool(c.Closed))
}

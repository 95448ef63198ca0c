package promexport_test

import (
	"context"
	"fmt"
	"log"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/promexport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// A service registers the store's collector beside the Go runtime's and
// serves the registry with promhttp.HandlerFor on /metrics. Here the
// exposition is printed instead, for two of the metrics.
func ExampleNewMemoryStoreCollector() {
	ctx := context.Background()
	store, err := chatring.NewMemoryStore(chatring.Config{MaxConversations: 1000})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close(ctx)
	reg := prometheus.NewRegistry()
	reg.MustRegister(promexport.NewMemoryStoreCollector(store))

	store.Append(ctx, "alice", chatring.Message{Role: chatring.User, Content: "Hello!"})
	store.Append(ctx, "bob", chatring.Message{Role: chatring.User, Content: "Hi!"})
	store.Append(ctx, "bob", chatring.Message{Role: "robot", Content: "beep"}) // rejected

	text, err := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain,
		"chatring_conversations", "chatring_messages_rejected_total")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(text))
	// Output:
	// # HELP chatring_conversations Conversations the store holds.
	// # TYPE chatring_conversations gauge
	// chatring_conversations 2
	// # HELP chatring_messages_rejected_total Rejected writes (invalid input, writes after Close, canceled contexts), by reason.
	// # TYPE chatring_messages_rejected_total counter
	// chatring_messages_rejected_total{reason="canceled"} 0
	// chatring_messages_rejected_total{reason="closed"} 0
	// chatring_messages_rejected_total{reason="empty_content"} 0
	// chatring_messages_rejected_total{reason="invalid_content"} 0
	// chatring_messages_rejected_total{reason="invalid_conversation"} 0
	// chatring_messages_rejected_total{reason="invalid_role"} 1
	// chatring_messages_rejected_total{reason="invalid_tool_call"} 0
	// chatring_messages_rejected_total{reason="message_too_large"} 0
	// chatring_messages_rejected_total{reason="other"} 0
}

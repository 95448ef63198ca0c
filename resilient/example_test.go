package resilient_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
)

// flaky is a primary that can be taken down: while down, every call
// fails with chatring.ErrUnavailable, as a Redis store does when the
// server is unreachable.
type flaky struct {
	*chatring.MemoryStore
	down atomic.Bool
}

func (f *flaky) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	if f.down.Load() {
		return chatring.Message{}, fmt.Errorf("%w: connection refused", chatring.ErrUnavailable)
	}
	return f.MemoryStore.Append(ctx, conv, m)
}

func (f *flaky) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	if f.down.Load() {
		return dst, fmt.Errorf("%w: connection refused", chatring.ErrUnavailable)
	}
	return f.MemoryStore.Messages(ctx, conv, dst)
}

// Example: a Store with an outbox, through an outage of its primary.
// Append's error tells a durable acknowledgment from a buffered one;
// reads are served from the mirror meanwhile; the outbox replays the
// buffered append when the primary is back.
func Example() {
	ctx := context.Background()
	mem, _ := chatring.NewMemoryStore(chatring.Config{MaxTurns: 10})
	primary := &flaky{MemoryStore: mem}
	store, err := resilient.New(primary, resilient.WithOutbox(1000),
		resilient.WithRetry(resilient.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err != nil {
		panic(err)
	}

	ack := func(m chatring.Message, err error) {
		switch {
		case err == nil:
			fmt.Printf("%q: durable, Seq %d\n", m.Content, m.Seq)
		case errors.Is(err, resilient.ErrBuffered):
			fmt.Printf("%q: buffered, provisional Seq %d\n", m.Content, m.Seq)
		default:
			fmt.Printf("%q: failed: %v\n", m.Content, err)
		}
	}
	ack(store.Append(ctx, "conv", chatring.Message{Role: chatring.User, Content: "Hi"}))

	primary.down.Store(true)
	ack(store.Append(ctx, "conv", chatring.Message{Role: chatring.User, Content: "Still there?"}))
	window, err := store.Messages(ctx, "conv", nil) // degraded: from the mirror
	fmt.Println("degraded read:", len(window), "messages,", err)

	primary.down.Store(false)
	for store.Stats().Outbox > 0 { // the flusher replays within DefaultFlushInterval
		time.Sleep(10 * time.Millisecond)
	}
	stored, _ := mem.Messages(ctx, "conv", nil)
	for _, m := range stored {
		fmt.Printf("primary: %d %s\n", m.Seq, m.Content)
	}
	fmt.Println("close:", store.Close(ctx))
	// Output:
	// "Hi": durable, Seq 1
	// "Still there?": buffered, provisional Seq 2
	// degraded read: 2 messages, <nil>
	// primary: 1 Hi
	// primary: 2 Still there?
	// close: <nil>
}

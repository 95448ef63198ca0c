package chatring_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/chatring/chatring"
)

// model stands in for a call to an LLM: it answers with what it was sent.
func model(_ context.Context, window []chatring.Message) (string, error) {
	var roles []string
	for _, m := range window {
		roles = append(roles, string(m.Role))
	}
	return fmt.Sprintf("(answer to %d messages: %s)", len(window), strings.Join(roles, ", ")), nil
}

// chat is the body of a chat service's handler: append the user's message,
// send the window to the model, append the reply. requestID comes from the
// client, so a request the client retries (its first attempt timed out,
// say) stores neither message twice.
func chat(ctx context.Context, store chatring.Store, conv, requestID, text string) (string, error) {
	q := chatring.Message{Role: chatring.User, Content: text, ID: requestID + "/q"}
	if _, err := store.Append(ctx, conv, q); err != nil {
		// Validation errors (errors.As(err, new(*chatring.ValidationError)))
		// are the client's, answer 400 and do not retry, except ErrClosed:
		// the service is shutting down (503). ErrUnavailable (a Store
		// backed by another service) may be retried as is.
		return "", err
	}
	window, err := store.Window(ctx, conv, 0) // the prompt and what fits max_tokens
	if err != nil {
		return "", err
	}
	answer, err := model(ctx, window)
	if err != nil {
		return "", err
	}
	a := chatring.Message{Role: chatring.Assistant, Content: answer, ID: requestID + "/a"}
	stored, err := store.Append(ctx, conv, a)
	if err != nil {
		return "", err
	}
	return stored.Content, nil // on a retry, the answer stored the first time
}

// ExampleMemoryStore keeps the conversations of a chat service in memory:
// one per user session, created on the first message, gone after an hour
// without use or when 10 000 newer sessions push it out.
func ExampleMemoryStore() {
	store, err := chatring.NewMemoryStore(chatring.Config{
		MaxTurns:         10,
		IdleTTL:          time.Hour,
		MaxConversations: 10_000,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close(context.Background())
	ctx := context.Background()

	if err := store.SetSystemPrompt(ctx, "user-42", "You are a helpful assistant."); err != nil {
		log.Fatal(err)
	}
	fmt.Println(chat(ctx, store, "user-42", "req-1", "What is a ring buffer?"))
	// The client did not see the reply and sends req-1 again: neither
	// message is stored twice, and it gets the answer stored the first time.
	fmt.Println(chat(ctx, store, "user-42", "req-1", "What is a ring buffer?"))
	fmt.Println(chat(ctx, store, "user-42", "req-2", "And a deque?"))

	msgs, _ := store.Messages(ctx, "user-42", nil)
	for _, m := range msgs {
		fmt.Println(m.Seq, m.Role, m.Content)
	}
	_, err = store.Append(ctx, "user-42", chatring.Message{Role: "robot", Content: "hi"})
	fmt.Println(errors.Is(err, chatring.ErrInvalidRole))
	_, err = store.Append(ctx, "", chatring.Message{Role: chatring.User, Content: "hi"})
	fmt.Println(errors.Is(err, chatring.ErrInvalidConversation))
	// Output:
	// (answer to 2 messages: system, user) <nil>
	// (answer to 2 messages: system, user) <nil>
	// (answer to 4 messages: system, user, assistant, user) <nil>
	// 1 user What is a ring buffer?
	// 2 assistant (answer to 2 messages: system, user)
	// 3 user And a deque?
	// 4 assistant (answer to 4 messages: system, user, assistant, user)
	// true
	// true
}

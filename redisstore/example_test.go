package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/redis/go-redis/v9"
)

// ExampleNew uses the store with the redis.UniversalClient a service
// already has: one address gives a *redis.Client, several a
// *redis.ClusterClient, MasterName a Sentinel failover client. (It is
// compiled, not run: it needs a Redis at that address.)
func ExampleNew() {
	ctx := context.Background()
	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"}})
	defer client.Close() // the store does not close the client

	store, err := redisstore.New(client, chatring.Config{MaxTurns: 10, IdleTTL: 24 * time.Hour},
		redisstore.WithPrefix("myapp:chat:"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close(ctx)

	// The request's ID makes a retry safe: stored once, however often sent.
	_, err = store.Append(ctx, "user-42", chatring.Message{Role: chatring.User, Content: "hello", ID: "req-1/q"})
	switch {
	case errors.Is(err, chatring.ErrUnavailable):
		log.Print("Redis is unavailable: retry the same call later") // with the same ID
	case err != nil:
		log.Fatal(err) // permanent: a *chatring.ValidationError, ErrFormat, ...
	}
	window, err := store.Window(ctx, "user-42", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(window))
}

package redisstore_test

import (
	"errors"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// The ambiguous failure: the request reaches Redis and runs, and the reply
// is lost with the connection (redistest.Proxy drops it). The client cannot
// tell whether the message was stored.

// TestAmbiguousFailureGoRedisRetry: go-redis sends the script again by
// itself after the lost reply (its default MaxRetries). An Append without
// a Message.ID is stored once, because the store gave it an idempotency
// key before the first send.
func TestAmbiguousFailureGoRedisRetry(t *testing.T) {
	_, server := singleNode(t)
	proxy := redistest.StartProxy(t, server.Addr)
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr}) // default retries
	t.Cleanup(func() { client.Close() })
	s := newStore(t, client, chatring.Config{})
	ctx := t.Context()
	mustAppend(t, s, "warm-up", "the scripts are cached now") // so the dropped request is the script run, not NOSCRIPT

	msgsKey, _, _ := s.Keys("lost-reply")
	proxy.DropReplyTo([]byte(msgsKey))
	m, err := s.Append(ctx, "lost-reply", chatring.Message{Role: chatring.User, Content: "sent once"})
	if err != nil {
		t.Fatalf("Append through a lost reply, go-redis retrying: %v", err)
	}
	if proxy.Dropped() != 1 {
		t.Fatalf("the proxy dropped %d replies, want 1: the test did not test anything", proxy.Dropped())
	}
	if m.Seq != 1 {
		t.Errorf("Append returned Seq %d, want 1", m.Seq)
	}
	got := brief(messagesOf(t, s, "lost-reply"))
	if diff := cmp.Diff([]string{"1:user:sent once"}, got); diff != "" {
		t.Errorf("window after a lost reply and go-redis's resend (-want +got):\n%s", diff)
	}
}

// TestAmbiguousFailureCallerRetry: without go-redis's retries the caller
// sees ErrUnavailable; the message was stored all the same (the server
// ran the script), and the caller's retry with the same Message.ID
// returns it instead of storing it again.
func TestAmbiguousFailureCallerRetry(t *testing.T) {
	_, server := singleNode(t)
	proxy := redistest.StartProxy(t, server.Addr)
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	s := newStore(t, client, chatring.Config{})
	ctx := t.Context()
	mustAppend(t, s, "warm-up", "the scripts are cached now")

	msgsKey, _, _ := s.Keys("lost-reply")
	in := chatring.Message{Role: chatring.User, Content: "sent once", ID: "req-7"}
	proxy.DropReplyTo([]byte(msgsKey))
	_, err := s.Append(ctx, "lost-reply", in)
	if !errors.Is(err, chatring.ErrUnavailable) {
		t.Fatalf("Append whose reply was lost: error %v, want ErrUnavailable", err)
	}
	if proxy.Dropped() != 1 {
		t.Fatalf("the proxy dropped %d replies, want 1", proxy.Dropped())
	}
	before := messagesOf(t, s, "lost-reply")
	if len(before) != 1 {
		t.Fatalf("after the lost reply the window holds %v: the server did not run the script, so nothing was ambiguous", brief(before))
	}
	again, err := s.Append(ctx, "lost-reply", in)
	if err != nil {
		t.Fatalf("retry with the same ID: %v", err)
	}
	if diff := cmp.Diff(before[0], again); diff != "" {
		t.Errorf("the retry did not return the stored message (-stored +returned):\n%s", diff)
	}
	if got := brief(messagesOf(t, s, "lost-reply")); !cmp.Equal(got, []string{"1:user:sent once"}) {
		t.Errorf("window after the retry = %v, want the message once", got)
	}
	if m := mustAppend(t, s, "lost-reply", "next"); m.Seq != 2 {
		t.Errorf("the next Append got Seq %d, want 2", m.Seq)
	}
}

// TestAmbiguousFailureNaive is the control: the naive RPUSH a service
// would write, through the same proxy and the same go-redis defaults,
// stores the message twice. It shows that the lost reply above is real and
// that go-redis does resend (go-redis issue #2339).
func TestAmbiguousFailureNaive(t *testing.T) {
	_, server := singleNode(t)
	proxy := redistest.StartProxy(t, server.Addr)
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr})
	t.Cleanup(func() { client.Close() })
	ctx := t.Context()
	key := newPrefix() + "naive"
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	proxy.DropReplyTo([]byte(key))
	if err := client.RPush(ctx, key, "sent once").Err(); err != nil {
		t.Fatalf("RPUSH through a lost reply: %v", err)
	}
	if n := client.LLen(ctx, key).Val(); n != 2 || proxy.Dropped() != 1 {
		t.Errorf("the naive list holds %d copies after %d lost replies; want 2 after 1: the control shows no duplicate", n, proxy.Dropped())
	}
}

package redisstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/storetest"
	"github.com/redis/go-redis/v9"
)

// TestConformance runs the Store conformance suite against a real
// redis-server and against a real three-master Redis Cluster.
func TestConformance(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		client, _ := singleNode(t)
		storetest.Run(t, func(t *testing.T, cfg chatring.Config) chatring.Store {
			return newStore(t, client, cfg)
		})
	})
	t.Run("cluster", func(t *testing.T) {
		client, _ := cluster(t)
		storetest.Run(t, func(t *testing.T, cfg chatring.Config) chatring.Store {
			return newStore(t, client, cfg)
		})
	})
}

// TestHashTag: on the cluster, the three keys of every conversation are in
// one slot, whatever braces the ID holds; with the raw ID as the hash tag
// they would not be (FORMAT.md explains why the ID is encoded).
func TestHashTag(t *testing.T) {
	client, _ := cluster(t)
	ctx := t.Context()
	s := newStore(t, client, chatring.Config{})
	slot := func(key string) int64 {
		n, err := client.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, conv := range []string{"a", "}x", "{}", "{a}", "a}b{c", "{", "}", "日本語", strings.Repeat("}", 256)} {
		msgs, meta, ids := s.Keys(conv)
		if a, b, c := slot(msgs), slot(meta), slot(ids); a != b || a != c {
			t.Errorf("conversation %q: keys in slots %d %d %d", conv, a, b, c)
		}
	}
	// The counterexample: a raw tag "{}" is empty, so each whole key is hashed.
	if slot("chatring:{}x}:messages") == slot("chatring:{}x}:meta") {
		t.Errorf("raw-tag keys of conversation }x share a slot: FORMAT.md's reason to encode the ID is wrong")
	}
}

func TestNewRejects(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never contacted
	defer client.Close()
	if _, err := redisstore.New(nil, chatring.Config{}); err == nil {
		t.Error("New(nil client) succeeded")
	}
	for _, p := range []string{"a{", "}", "x{y}"} {
		if _, err := redisstore.New(client, chatring.Config{}, redisstore.WithPrefix(p)); !errors.Is(err, chatring.ErrInvalidConfig) {
			t.Errorf("New with prefix %q succeeded; braces would change the hash tag", p)
		}
	}
	if _, err := redisstore.New(client, chatring.Config{MaxTurns: -1}); !errors.Is(err, chatring.ErrInvalidConfig) {
		t.Errorf("New with MaxTurns -1: %v, want ErrInvalidConfig", err)
	}
}

package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// The servers most tests share: one redis-server and one three-master
// cluster, started on first use and stopped by TestMain. Each test's
// stores write under a key prefix of their own (newPrefix), so they never
// see each other's conversations.
var shared struct {
	mu            sync.Mutex
	server        *redistest.Server
	cluster       *redistest.Cluster
	single, multi redis.UniversalClient
}

func TestMain(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	for _, c := range []redis.UniversalClient{shared.single, shared.multi} {
		if c != nil {
			c.Close()
		}
	}
	if shared.server != nil {
		shared.server.Stop()
	}
	if shared.cluster != nil {
		shared.cluster.Stop()
	}
	shared.mu.Unlock()
	if code == 0 {
		// Every client a test made is closed by now, and with it its
		// goroutines.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// singleNode returns a client of the shared redis-server and its address.
func singleNode(t testing.TB) (redis.UniversalClient, *redistest.Server) {
	t.Helper()
	redistest.Require(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.server == nil {
		s, err := redistest.StartServer(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		shared.server = s
		shared.single = redis.NewClient(&redis.Options{Addr: s.Addr})
	}
	return shared.single, shared.server
}

// cluster returns a client of the shared three-master cluster.
func cluster(t testing.TB) (redis.UniversalClient, *redistest.Cluster) {
	t.Helper()
	redistest.Require(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster == nil {
		c, err := redistest.StartCluster(context.Background(), 3, 0)
		if err != nil {
			t.Fatal(err)
		}
		shared.cluster = c
		shared.multi = redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	}
	return shared.multi, shared.cluster
}

var prefixes atomic.Int64

// newPrefix returns a key prefix no other store of this test binary uses.
func newPrefix() string { return fmt.Sprintf("test%d:", prefixes.Add(1)) }

// newStore returns a store on client under a fresh prefix.
func newStore(t testing.TB, client redis.UniversalClient, cfg chatring.Config, opts ...redisstore.Option) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(client, cfg, append([]redisstore.Option{redisstore.WithPrefix(newPrefix())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustAppend appends a user message or fails the test.
func mustAppend(t testing.TB, s chatring.Store, conv, content string) chatring.Message {
	t.Helper()
	m, err := s.Append(context.Background(), conv, chatring.Message{Role: chatring.User, Content: content})
	if err != nil {
		t.Fatalf("Append(%q): %v", conv, err)
	}
	return m
}

// messagesOf returns conv's window or fails the test.
func messagesOf(t testing.TB, s chatring.Store, conv string) []chatring.Message {
	t.Helper()
	msgs, err := s.Messages(context.Background(), conv, nil)
	if err != nil {
		t.Fatalf("Messages(%q): %v", conv, err)
	}
	return msgs
}

// brief renders messages as "seq:role:content".
func brief(msgs []chatring.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = fmt.Sprintf("%d:%s:%s", m.Seq, m.Role, m.Content)
	}
	return out
}

package redisstore_test

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/chatring/chatring/storetest"
	"github.com/redis/go-redis/v9"
)

// sentinelSetup starts a master, a replica of it and a Sentinel that
// monitors them (all redis-server processes on 127.0.0.1), waits until the
// Sentinel knows the replica, and returns a failover client (through the
// Sentinel), a client of the Sentinel, and the master's and the replica's
// addresses.
func sentinelSetup(t *testing.T) (client *redis.Client, sentinel *redis.SentinelClient, masterAddr, replicaAddr string) {
	t.Helper()
	const name = "chatring"
	master := redistest.NewServer(t)
	host, port, err := net.SplitHostPort(master.Addr)
	if err != nil {
		t.Fatal(err)
	}
	replica := redistest.NewServer(t, "--replicaof", host, port)
	sent, err := redistest.StartSentinel(t.Context(), name, master.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sent.Stop() })
	sentinel = redis.NewSentinelClient(&redis.Options{Addr: sent.Addr})
	t.Cleanup(func() { sentinel.Close() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		replicas, err := sentinel.Replicas(t.Context(), name).Result()
		if err == nil && slices.ContainsFunc(replicas, func(r map[string]string) bool {
			return net.JoinHostPort(r["ip"], r["port"]) == replica.Addr && r["flags"] == "slave"
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Sentinel does not know the replica %s: %v, %v", replica.Addr, replicas, err)
		}
	}
	client = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: name, SentinelAddrs: []string{sent.Addr}})
	t.Cleanup(func() { client.Close() })
	return client, sentinel, master.Addr, replica.Addr
}

// TestSentinel: behind Sentinel, through go-redis's failover client, the
// store passes the conformance suite; and after a failover (SENTINEL
// FAILOVER: the replica is promoted) the conversation written before it
// is there and Append goes on with the next Seq.
func TestSentinel(t *testing.T) {
	client, sentinel, masterAddr, replicaAddr := sentinelSetup(t)
	t.Run("conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, cfg chatring.Config) chatring.Store {
			return newStore(t, client, cfg)
		})
	})
	t.Run("failover", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t, client, chatring.Config{})
		for i := range 3 {
			mustAppend(t, s, "c", fmt.Sprint(i))
		}
		// Every write has reached the replica before it is promoted.
		if n, err := client.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
			t.Fatalf("WAIT 1 = %d, %v", n, err)
		}
		if err := sentinel.Failover(ctx, "chatring").Err(); err != nil {
			t.Fatal(err)
		}
		// Wait until the old master is a replica: from then on a write that
		// reaches it is refused (READONLY), not accepted and lost, so the
		// test does not depend on how fast the client follows.
		old := redis.NewClient(&redis.Options{Addr: masterAddr})
		defer old.Close()
		// Under load a forced failover can outrun failover-timeout and be
		// aborted, and Sentinel does not try again by itself (the master
		// is not down): ask again every 5 s while Sentinel still names the
		// old master (INPROG while one is under way).
		again := time.Now().Add(5 * time.Second)
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			role, err := old.Do(ctx, "ROLE").Slice()
			addr, aerr := sentinel.GetMasterAddrByName(ctx, "chatring").Result()
			promoted := aerr == nil && net.JoinHostPort(addr[0], addr[1]) == replicaAddr
			if err == nil && len(role) > 0 && role[0] == "slave" && promoted {
				break
			}
			if !promoted && time.Now().After(again) {
				sentinel.Failover(ctx, "chatring") // INPROG while one runs: nothing to do
				again = time.Now().Add(5 * time.Second)
			}
			if time.Now().After(deadline) {
				t.Fatalf("no failover within 60 s: old master's role %v, %v; Sentinel's master %v, %v", role, err, addr, aerr)
			}
		}
		var m chatring.Message
		var err error
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			m, err = s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "after", ID: "after-failover"})
			if err == nil {
				break
			}
			if !errors.Is(err, chatring.ErrUnavailable) {
				t.Fatalf("Append during the failover: %v, want success or ErrUnavailable", err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("no Append after the failover within 30 s: %v", err)
			}
		}
		if m.Seq != 4 {
			t.Errorf("the Append after the failover has Seq %d, want 4", m.Seq)
		}
		if got := brief(messagesOf(t, s, "c")); !slices.Equal(got, []string{"1:user:0", "2:user:1", "3:user:2", "4:user:after"}) {
			t.Errorf("after the failover the conversation is %v", got)
		}
	})
}

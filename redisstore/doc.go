// Package redisstore is a chatring.Store on Redis: the conversations of a
// chat service shared by all its replicas and kept across restarts, on a
// single Redis server, behind Sentinel or on Redis Cluster, through a
// github.com/redis/go-redis/v9 client the service already has.
//
//	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs})
//	store, err := redisstore.New(client, chatring.Config{MaxTurns: 10, IdleTTL: 24 * time.Hour})
//
// It passes the Store conformance suite (package storetest) against a
// real redis-server, a real three-master Redis Cluster and a master with a
// replica behind a real Sentinel (through go-redis's failover client, and
// across a failover). FORMAT.md in
// this directory documents what it stores, so that a service in another
// language can read a conversation.
//
// # Prior art
//
// The design follows centrifugal/centrifuge's Redis history (its
// internal/redis_lua/broker_history_add_list.lua and
// broker_history_list.lua), the best Go prior art. Taken from it: one
// script per append that bumps an offset kept in a meta hash,
// writes that number into the stored payload inside the script (there a
// "__p1:offset:epoch__" prefix, here the "seq" member of the JSON), pushes,
// trims and sets the TTL; an idempotency check in the same script; a
// history read that returns the meta with the list in one round trip; and
// keys that share a {channel} hash tag on a cluster. Done differently:
// the idempotency tokens (22 bytes each) live in a field of the meta hash,
// in list order and trimmed with the window, so an ID deduplicates exactly
// while its message is in the window (centrifuge keeps a result key per idempotency key, with its own
// expiry); the hash tag is the base64url of the ID, not the raw ID, which
// may hold braces; every key of a conversation shares one idle TTL
// (centrifuge's meta outlives its list, to keep the offset and epoch);
// there is no epoch, since the Store contract restarts Seq at 1 after
// Delete; reads are a MULTI/EXEC, not a script; Clear deletes the messages
// and keeps the counter, so a read needs no watermark. The naive client
// this store is measured against (bench/peers.RedisNaive) is LangChain's
// RedisChatMessageHistory pattern: a push and a separate EXPIRE per
// message and full LRANGE reads.
//
// # Cost of large windows
//
// An Append reads, searches and rewrites the meta hash's ids field, 22
// bytes per message of the window, so its cost on the Redis server grows
// with the window, and Redis serves no other client meanwhile. Measured
// on the shared 2-core machine (server time per Append from INFO
// commandstats, one run each, full windows): 12.5 µs at MaxTurns 10,
// about 0.5 ms at MaxTurns 1 000, about 2.8 ms at 3 000 and about 6 ms at
// 10 000, where the earlier sorted-set layout took 15-22 µs at every
// size. Keep MaxTurns at the hundreds or below with this store; a layout
// that stays O(1) per Append at large windows is future work (issue 11's
// note).
//
// AppendBatch appends several messages to one conversation in one round
// trip (a MULTI/EXEC holding one run of the append script per message), each as Append
// would and idempotent by its ID; with appendfsync always, Redis fsyncs
// once per batch instead of once per message. The resilient wrapper's
// outbox replays a backlog through it (resilient.BatchAppender).
//
// WithObserver reports the duration and the error kind of every operation
// sent to Redis but AppendBatch's (Ops has no name for a batch yet);
// package github.com/chatring/chatring/promexport/promredis exports them
// to Prometheus.
//
// This is a module of its own, so that importers of chatring never
// download a Redis client.
package redisstore

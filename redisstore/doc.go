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
// the idempotency tokens (22 bytes each) live in one sorted set per
// conversation, scored by Seq and trimmed to the newest appends (at least
// the window, 128 by default: WithIdempotencyHorizon), so an ID keeps
// deduplicating after its message left the window, and Delete can remove
// them all (centrifuge keeps a result key per idempotency key, with its
// own expiry, which Delete could not find); the hash tag is the base64url of the ID, not the raw ID, which
// may hold braces; every key of a conversation shares one idle TTL
// (centrifuge's meta outlives its list, to keep the offset and epoch);
// there is no epoch, since the Store contract restarts Seq at 1 after
// Delete; reads are a MULTI/EXEC, not a script; Clear deletes the messages
// and keeps the counter, so a read needs no watermark. The naive client
// this store is measured against (bench/peers.RedisNaive) is LangChain's
// RedisChatMessageHistory pattern: a push and a separate EXPIRE per
// message and full LRANGE reads.
//
// # Cost per Append
//
// An Append is one script of eight to ten Redis calls; each operation on
// the idempotency tokens is O(log n) in the horizon (O(n) over at most 128
// entries while the sorted set is a listpack), so its cost on the server
// does not grow with the window. BenchmarkAppendFullWindow (full windows,
// server time per call from INFO commandstats, 10 runs each, benchstat, on
// the shared 2-core machine) measured 20.5 µs at MaxTurns 10, 16.0 µs at
// 1 000 and 16.6 µs at 10 000, where the previous layout (the window's
// tokens as one string in meta, rewritten by every Append) took 14.5 µs,
// 227 µs and 2.1 ms: the small window pays about 6 µs more for the
// tokens that outlive it, scanned as a 128-entry listpack.
//
// AppendBatch appends several messages to one conversation in one round
// trip (a MULTI/EXEC holding one run of the append script per message), each as Append
// would and idempotent by its ID; with appendfsync always, Redis fsyncs
// once per batch instead of once per message. The resilient wrapper's
// outbox replays a backlog through it (resilient.BatchAppender).
//
// WithObserver reports the duration and the error kind of every operation
// sent to Redis (a batch as one "append_batch"); package github.com/chatring/chatring/promexport/promredis exports them
// to Prometheus.
//
// This is a module of its own, so that importers of chatring never
// download a Redis client.
package redisstore

// Package redisstore is a chatring.Store on Redis: the conversations of a
// chat service shared by all its replicas and kept across restarts, on a
// single Redis server, behind Sentinel or on Redis Cluster, through a
// github.com/redis/go-redis/v9 client the service already has.
//
//	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs})
//	store, err := redisstore.New(client, chatring.Config{MaxTurns: 10, IdleTTL: 24 * time.Hour})
//
// It passes the Store conformance suite (package storetest) against a
// real redis-server and a real three-master Redis Cluster. FORMAT.md in
// this directory documents what it stores, so that a service in another
// language can read a conversation.
//
// This is a module of its own, so that importers of chatring never
// download a Redis client.
package redisstore

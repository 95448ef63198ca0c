// Package redisfault proves the resilient Store on a real redis-server:
// its tests load a resilient Store over a redisstore.Store with writers
// and readers over many conversations while the server is frozen
// (SIGSTOP, then SIGCONT), killed and restarted with appendonly yes and
// appendfsync always, paused for writes (CLIENT PAUSE WRITE), or behind a
// proxy that drops replies after the server ran the command. After each,
// with the server back, Close must flush the outbox, and what Redis holds
// is checked: every durable acknowledgment at the Seq it was given, every
// buffered one stored, nothing twice, every window contiguous, each
// writer's order kept per conversation. The windows are large enough that
// nothing is evicted, so nothing can excuse a missing message.
//
// It is a module of its own so that neither the resilient module nor the
// redisstore module depends on the other. BenchmarkRedisAppend compares an
// Append through the resilient Store with one on the bare Redis store.
//
// The 5-second freeze of the target runs with
// go test -run TestFreeze -freeze 5s -v (make test freezes for 1.5 s); it
// logs how long the outbox took to drain after the breaker closed.
package redisfault

// Package peers adapts other ways of keeping a bounded chat history to the
// workload.Ring interface, so that bench/peers runs chatring's workloads on
// them beside chatring's own backends, in the same run:
//
//   - SliceRing, backend=slicering: the baseline, a mutex-guarded circular
//     buffer over a slice, what a Go user writes by hand (the seed's
//     deque(maxlen) plus a lock).
//   - LangchainWindow, backend=langchaingo: github.com/tmc/langchaingo's
//     memory.ConversationWindowBuffer, behind a mutex because its in-memory
//     history is not safe for concurrent use.
//   - Diode, backend=diodes: code.cloudfoundry.org/go-diodes' ManyToOne, a
//     lock-free ring for many writers and one draining reader. It has no
//     snapshot of the window, so it runs the append-only workloads only.
//
// And beside github.com/chatring/chatring/redisstore, in the Redis
// benchmarks (BenchmarkRedisAppend, BenchmarkRedisWindow,
// BenchmarkRedisMemory; `make bench-redis`):
//
//   - RedisNaive, backend=naive: the Redis history services write by hand,
//     as LangChain's RedisChatMessageHistory does (RPUSH, LTRIM and PEXPIRE
//     as three commands, LRANGE to read); backend=naive-pipelined sends the
//     three in one MULTI/EXEC.
//
// This is a module of its own (bench/peers/go.mod) so that the peers'
// dependencies never reach chatring's importers.
package peers

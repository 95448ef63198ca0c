// Package ringbuf defines [Buffer], the interface every history backend of
// chatring implements, and [Ring], the mutex ring: the reference
// implementation.
//
// A Buffer keeps the last Cap() values pushed into it, numbered by sequence
// (1, 2, 3, ... across all goroutines), and hands out consistent snapshots
// of that window. Three implementations ship with this module:
//
//   - ringbuf.Ring, a fixed array under one sync.Mutex. Pick it by
//     default: it is the simplest, allocates nothing, and in this module's
//     benchmarks (bench/RESULTS.md, 2 cores) the fastest or close to it in
//     most workloads. It blocks: a goroutine preempted while holding the
//     lock stalls every other caller.
//   - lockfree.Ring, atomic pointers to immutable entries. Pick it when no
//     operation may wait for another goroutine. Each Push allocates one
//     small entry, which makes it slower than the mutex ring in most
//     workloads with pushes (read-heavy at capacity 20 included) and its
//     p99.9 latencies worse; its clear win is snapshots alone at 4 and 8
//     goroutines (about 2×).
//   - sharded.Ring, several mutex rings merged by sequence number. Built
//     for many concurrent writers: it appends faster than the mutex ring
//     through chatring.History at 4 and 8 goroutines and in the stress
//     CLI's 8 writers and 8 readers, but not as a bare ring under pushes
//     alone (0.47–0.88× in the write-heavy benchmark) nor with 10%
//     snapshots (0.33–0.86× in the chat-mix one). Its snapshots cost the
//     most, and it holds shards × capacity values.
//
// All three are linearizable, memory-safe under the race detector and
// bounded; package [github.com/chatring/chatring/ringbuf/ringtest] is the
// conformance suite that checks it.
package ringbuf

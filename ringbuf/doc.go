// Package ringbuf defines [Buffer], the interface every history backend of
// chatring implements, and [Ring], the mutex ring: the reference
// implementation.
//
// A Buffer keeps the last Cap() values pushed into it, numbered by sequence
// (1, 2, 3, ... across all goroutines), and hands out consistent snapshots
// of that window. Three implementations ship with this module:
//
//   - ringbuf.Ring, a fixed array under one sync.Mutex. Pick it by
//     default: it is the simplest, allocates nothing, and is the fastest
//     when few goroutines contend. It blocks: a goroutine preempted while
//     holding the lock stalls every other caller.
//   - lockfree.Ring, atomic pointers to immutable entries. Pick it for
//     read-heavy use, or when goroutines outnumber cores and tail latency
//     matters: no operation ever waits for another goroutine. Each Push
//     allocates one small entry.
//   - sharded.Ring, several mutex rings merged by sequence number. Pick it
//     for write-heavy use with many writers; its snapshots cost the most,
//     and it holds shards × capacity values.
//
// All three are linearizable, memory-safe under the race detector and
// bounded; package [github.com/chatring/chatring/ringbuf/ringtest] is the
// conformance suite that checks it.
package ringbuf

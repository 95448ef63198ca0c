// Package lockfree provides [Ring], a lock-free implementation of
// [github.com/chatring/chatring/ringbuf.Buffer].
//
// Pick it when no operation may wait for another goroutine: no Push or
// Snapshot ever does, so a goroutine preempted in the middle of one delays
// nobody, where a mutex ring's waiters would sit out its whole scheduler
// quantum. Under contention that shows in the bulk of the latency
// distribution: in the stress CLI (8 writers, 8 readers, 2 cores) its
// append p99 is 0.2-0.85x the mutex ring's, and its snapshot p99 about the
// same or lower. Snapshots
// alone scale with readers (up to 2x the mutex ring at 4 and 8 Ps). The
// price is one small allocation per Push (the immutable entry that makes
// torn reads impossible) and, under write contention, retried
// CompareAndSwaps; with steady appends the allocation's garbage collection
// makes its throughput and its p99.9 latency worse than the mutex ring's
// (bench/RESULTS.md). With one or two goroutines the mutex ring in package
// ringbuf is faster.
//
// Tuning: the allocation per Push is what costs most under load, not the
// atomics: it drives garbage-collection cycles, whose write barriers slow
// every reader's copy and whose pauses set the p99.9 latency. In this
// module's read-heavy benchmark (90% snapshots, 2 cores) the ring is about
// half as fast as the mutex ring at the default GOGC (bench/RESULTS.md)
// and at par with it with the collector off (GOGC=off: 67-75 ns/op against
// the mutex ring's 69-72 at -cpu 2, one run of go test -bench ReadHeavy
// -count 2); a larger GOGC, or GOMEMLIMIT with GOGC=off, moves it between
// the two.
//
// The algorithm, its invariant and its happens-before edges are described
// at the top of ring.go.
package lockfree

// Package lockfree provides [Ring], a lock-free implementation of
// [github.com/chatring/chatring/ringbuf.Buffer].
//
// Pick it when reads dominate, or when goroutines outnumber cores: no Push
// or Snapshot ever waits for another goroutine, so a goroutine preempted in
// the middle of an operation delays nobody, and tail latency stays low where
// a mutex ring's would include a whole scheduler quantum. The price is one
// small allocation per Push (the immutable entry that makes torn reads
// impossible) and, under heavy write contention, retried CompareAndSwaps.
// With one or two goroutines the mutex ring in package ringbuf is usually
// faster.
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

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
// The algorithm, its invariant and its happens-before edges are described
// at the top of ring.go.
package lockfree

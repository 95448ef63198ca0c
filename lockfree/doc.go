// Package lockfree provides [Ring], a lock-free implementation of
// [github.com/chatring/chatring/ringbuf.Buffer].
//
// Pick it when reads dominate, or when goroutines outnumber cores: no Push
// or Snapshot ever waits for another goroutine, so a goroutine preempted in
// the middle of an operation delays nobody, and tail latency stays low where
// a mutex ring's would include a whole scheduler quantum. Values live in
// entries that are never written while readable, so reads never tear;
// entries of evicted values are recycled through epoch-based reclamation, so
// Push allocates nothing in the steady state. The price: two atomic adds per
// operation on a per-goroutine stripe, retried CompareAndSwaps under heavy
// write contention, and, while a goroutine is descheduled in the middle of
// an operation, entries cannot be recycled and Push allocates fresh ones.
//
// The algorithm, its invariant and its happens-before edges are described
// at the top of ring.go.
package lockfree

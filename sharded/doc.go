// Package sharded provides [Ring], a sharded implementation of
// [github.com/chatring/chatring/ringbuf.Buffer].
//
// Pick it for write-heavy workloads with many concurrent writers: pushes
// spread over several independently locked shards (by default one per
// GOMAXPROCS, up to 64), so writers rarely wait for each other, and the
// only state they all touch is one atomic sequence counter. Snapshots cost
// more than on the other backends — they lock and scan every shard — and
// the ring holds shards × capacity values, because each shard keeps the
// full capacity so that a skewed load never loses part of the window.
//
// The algorithm, modelled on the Linux ftrace per-CPU ring buffer, is
// described at the top of ring.go.
package sharded

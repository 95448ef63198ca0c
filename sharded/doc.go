// Package sharded provides [Ring], a sharded implementation of
// [github.com/chatring/chatring/ringbuf.Buffer].
//
// It is built for many concurrent writers: pushes spread over several
// independently locked shards (by default one per GOMAXPROCS, up to 64), so
// writers rarely wait for each other, and the only state they all touch is
// one atomic sequence counter. Snapshots cost more than on the other
// backends — they lock and scan every shard — and the ring holds shards ×
// capacity values, because each shard keeps the full capacity so that a
// skewed load never loses part of the window.
//
// Measured (bench/RESULTS.md, 2 cores), as ratios of speed to the mutex
// ring's: in the stress CLI's 8 writers and 8 readers it appends 2.5-13x
// as fast (its snapshots there run at 0.06-0.22x), and appends alone
// through chatring.History up to 1.5x at 4 and 8 goroutines. With 10%
// snapshots (the chat-mix benchmark) it is slower: 0.33-0.86x as a bare
// ring, 0.38-0.77x through chatring.History but for 1.2x at capacity 20
// and 2 goroutines. As a bare ring under pushes alone it is mostly not
// faster: 0.47-0.88x in the write-heavy benchmark (1% snapshots) and
// 0.39-2.18x in the append-only one (faster only at capacity 1024 and 8
// goroutines), where the global counter's cache line moves between the
// cores on every push while a mutex's line can stay with one core for
// several pushes in a row (sync.Mutex lets a running goroutine take it
// ahead of a woken waiter). Its snapshots run at 0.23-0.42x. It is built
// for more cores than that; we have not measured more than 2.
//
// The algorithm, modelled on the Linux ftrace per-CPU ring buffer, is
// described at the top of ring.go.
package sharded

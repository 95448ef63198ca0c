package ringbuf

// Buffer keeps the most recent Cap() values pushed into it.
//
// Every implementation in this module is safe for concurrent use by any
// number of goroutines and is linearizable: each Push and Snapshot takes
// effect atomically at some instant between its call and its return, and the
// sequence numbers give that order. The conformance suite in package
// ringtest checks these rules for any implementation.
type Buffer[T any] interface {
	// Push stores v and returns its sequence number: 1 for the first push,
	// then 2, 3, ... with no gaps and no repeats across all goroutines.
	Push(v T) uint64
	// Snapshot appends the current window — the last min(pushed, Cap())
	// values, oldest first — to dst and returns it, with the sequence number
	// of the newest value in it (0 when empty). The elements already in dst
	// are kept. Snapshot allocates only when dst lacks room for the window.
	Snapshot(dst []T) ([]T, uint64)
	// Len reports how many values the window holds: min(pushed, Cap()).
	Len() int
	// Cap reports the capacity the buffer was created with.
	Cap() int
}

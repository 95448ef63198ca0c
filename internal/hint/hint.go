// Package hint gives a goroutine a cheap, stable number, so that data
// structures can spread goroutines over stripes or shards without shared
// state.
package hint

import "unsafe"

// Goroutine returns a number that is the same on every call from one
// goroutine and usually differs between goroutines: a hash of the address
// of a variable on the caller's stack, which is the goroutine's own memory.
// It costs a few instructions and touches no shared state, so a goroutine
// that works on a striped structure keeps to one stripe, whose cache lines
// stay in its CPU's cache. Two goroutines may get the same number, and a
// goroutine whose stack grows (and is copied) may get a new one: callers
// must use it only to choose where to try first, never for correctness.
//
//go:nosplit
func Goroutine() uint64 {
	var onStack byte
	addr := uint64(uintptr(unsafe.Pointer(&onStack)))
	// Stacks are at least 8 KiB apart: drop the offset within one, then
	// mix the rest (Fibonacci hashing) so that neighbouring stacks spread.
	return (addr >> 13) * 0x9E3779B97F4A7C15 >> 40
}

//go:build linux

package chatring

import (
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// guardedPage returns a writable page with an inaccessible page on each
// side of it (PROT_NONE), so that a read of a byte before or after it
// faults: a kernel that reads past the 64 bytes it is given, or past the
// end of the text, crashes the test here, where the heap's slack would
// hide it.
func guardedPage(t *testing.T) []byte {
	t.Helper()
	size := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 3*size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	for _, guard := range [][]byte{mem[:size], mem[2*size:]} {
		if err := syscall.Mprotect(guard, syscall.PROT_NONE); err != nil {
			t.Fatalf("mprotect: %v", err)
		}
	}
	return mem[size : 2*size : 2*size]
}

// TestBlockPassAtPageEdges puts texts of 64 to 300 bytes at the very end
// of a page followed by a guard page (so that the last block, or the last
// partial one, ends at the guard) and at the very start of one preceded
// by a guard page, at every alignment of their first byte, and checks the
// kernels on their first and last 64 bytes against refBlockMasks and the
// fused pass with the block pass from 64 bytes against the loop alone.
func TestBlockPassAtPageEdges(t *testing.T) {
	page := guardedPage(t)
	fills := []string{
		strings.Repeat("The quick, brown fox jumps 42 times... ", 8),
		strings.Repeat("abcdefghijklmnopqrstuvwxyz", 12),
		strings.Repeat(" \t\n\r", 80),
		strings.Repeat("0123456789", 30),
	}
	// What the last block may hold: nothing special, an allowed control
	// (the kernel's second pass over the block), a byte it rejects, a
	// multi-byte character cut by the end of the text.
	tails := []string{"", "\t", "\r\n", "\x00", "\x7f", "\x80", "\xc3\xa9", "\xe4\xb8"}
	check := func(s string) {
		t.Helper()
		if len(s) >= 64 {
			checkBlockMasks(t, s[:64])
			checkBlockMasks(t, s[len(s)-64:])
		}
		t1, b1, bad1 := approxScanFrom(s, true, 64)
		t2, b2, bad2 := approxScanFrom(s, true, len(s)+1)
		if bad1 != bad2 || bad1 < 0 && (t1 != t2 || b1 != b2) {
			t.Fatalf("approxScan(%q) at a page edge = %d, %v, %d with the block pass, %d, %v, %d without", s, t1, b1, bad1, t2, b2, bad2)
		}
		if got, want := (ApproxTokenizer{}).Count(s), referenceCount(s); got != want {
			t.Fatalf("Count(%q) at a page edge = %d, reference says %d", s, got, want)
		}
	}
	for _, fill := range fills {
		for n := 64; n <= 300; n++ {
			for _, tail := range tails {
				text := fill[:n-len(tail)] + tail
				// Ending at the guard page after it.
				copy(page[len(page)-n:], text)
				check(unsafe.String(&page[len(page)-n], n))
				// Starting at the guard page before it, then one to 15
				// bytes after, ending at the next alignments.
				for off := 0; off < 16; off++ {
					copy(page[off:], text)
					check(unsafe.String(&page[off], n))
				}
			}
		}
	}
}

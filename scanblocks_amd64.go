//go:build amd64 && !purego

package chatring

// blockMasks returns the masks of the 64-byte block blk (its first 64
// bytes; blk must hold at least that many), bit i for byte i, as
// blockMasksGo does: ok, whether every byte is printable ASCII (0x20 to
// 0x7e), tab, newline or carriage return; and when ok, the class planes
// a (letters and digits) and b (letters and white space) and ctl (the
// tabs, newlines and carriage returns). When not ok, a, b and ctl mean
// nothing.
//
// It is written in SSE2 (scanblocks_amd64.s), which every amd64 processor
// has: 16 bytes per compare, the masks gathered by PMOVMSKB. The purego
// build tag selects the Go kernel instead.
//
//go:noescape
func blockMasks(blk string) (a, b, ctl uint64, ok bool)

package chatring

import "math/bits"

// The block pass of approxScan.
//
// approxScan reads text one character at a time and branches at every
// run boundary: on English prose that is a branch the processor mispredicts
// about once per word, and the 2 KiB paragraph of BenchmarkHistoryAppend
// cost 1.5 ns per byte. The block pass reads 64 bytes at a time, turns them
// into bit masks (bit i for byte i) and counts their tokens with popcounts,
// with no branch per run of at most K characters (K below). Longer runs
// can cost a loop iteration each in longRuns: digits from 4, punctuation
// from 3, and letters from 7 in a block that holds a word of 13 letters or
// more or a word of 7 or more running on from the block before or into the
// next (otherwise words of 7 to 12 letters are counted without a loop). It
// handles only what is common and cheap to test as a word: printable
// ASCII, tab, newline and carriage return. It starts at the beginning of
// the text and stops before the first block of 64 bytes that holds
// anything else, or before the last, partial block; approxScan takes over
// there with the state the block pass leaves (the open run), so the count
// and the checks are approxScan's, byte for byte (fuzzed against
// referenceCount by FuzzScanBlocks). The classification of a block into
// masks, blockMasks, is an SSE2 kernel on amd64 (scanblocks_amd64.s,
// about 9 ns per block against 24 for the Go kernel, blockMasksGo, which
// other platforms and the purego build tag use); the count from the masks
// is Go on every platform.
//
// How the count is done with masks. Over ASCII, ApproxTokenizer's runs are
// of four classes, L (letters), D (digits), S (white space) and P (the
// rest); a run of n characters counts ceil(n/K) tokens, K = 6 for L, 3 for
// D, 2 for P and n for S (one token), less one for a single space followed
// by L or P and for a single P followed by L. Written per position:
//
//   - each run start (a byte whose class differs from the byte before it)
//     counts one: popcount(ST);
//   - a single space or P at j-1 followed by the right class at j is a start
//     at j-1 and a start at j: those j are counted off, popcount(exc);
//   - a run longer than K counts ceil(n/K)-1 more: its bytes at offset K
//     and more from its start are a block of ones in E = "K consecutive
//     continuations" (C_K below) of its class, n-K of them, and each such
//     block adds ceil(count/K). A block of ones that reaches byte 63 may go
//     on in the next 64 bytes, so its count waits in pending until it ends.
//
// The two class planes A = L|D and B = L|S encode the four classes (L 11,
// D 10, S 01, P 00), so that "same class as the byte before" is two XORs.

// Bytes of a word, as the word-at-a-time helpers of tokenizer.go use them.
const (
	ones8  = 0x0101010101010101
	highs8 = 0x8080808080808080
)

// gather8 returns the high bits of the 8 bytes of m (m holds no other
// bits) as an 8-bit number, byte i's at bit i: the multiplication moves the
// bit of byte i (bit 8i after the shift) to bit 56+i, and no two partial
// products meet, so nothing carries.
func gather8(m uint64) uint64 {
	return (m >> 7) * 0x0102040810204080 >> 56
}

// blockCheck8 reports whether the 8 bytes of w are all ASCII but DEL, and
// returns the high bits of its bytes below 0x20: the block pass handles w
// when ok and those are tabs, newlines and carriage returns
// (allowedControls).
func blockCheck8(w uint64) (ctl uint64, ok bool) {
	if (w|(w+ones8))&highs8 != 0 { // not ASCII, or DEL
		return 0, false
	}
	// Over ASCII no byte carries into the next in the sums here and in
	// classes8: each stays under 0x100, so each high bit is its byte's own.
	return ^(w + 0x60*ones8) & highs8, true
}

// allowedControls reports whether the bytes of the ASCII word w below 0x20,
// whose high bits are ctl, are all tab, newline or carriage return.
func allowedControls(w, ctl uint64) bool {
	eq := func(c uint64) uint64 { return ^((w ^ c*ones8) + 0x7f*ones8) & highs8 }
	return ctl&^(eq('\t')|eq('\n')|eq('\r')) == 0
}

// classes8 returns the high bits of the bytes of w, which blockCheck8
// accepted, that are in class plane A (letters and digits) and in B
// (letters and white space).
func classes8(w uint64) (a, b uint64) {
	letters := ^nonLetters8(w) & highs8
	digits := (w + 0x50*ones8) &^ (w + 0x46*ones8) & highs8 // 0x30 <= b < 0x3a
	space := ^(w + 0x5f*ones8) & highs8                     // b <= 0x20: ' ', '\t', '\n', '\r' here
	return letters | digits, letters | space
}

// blockState is what the block pass carries from one block to the next:
// the masks of the block before (for the byte before bit 0), the length of
// the run open at its end, and the pending counts of long runs.
type blockState struct {
	a, b, sp, st, c, c3 uint64 // the previous block's masks
	run                 int    // length of the run that holds the previous block's byte 63
	pending             [3]int // E bits of a long L, D, P run reaching the previous byte 63
	first               bool   // no block before: byte 0 starts a run
}

// blockMasksGo is the Go kernel of blockMasks: the masks of the 64-byte
// block blk (its first 64 bytes), bit i for byte i. ok says whether every
// byte is printable ASCII (0x20 to 0x7e), tab, newline or carriage
// return; when ok, a and b are the class planes A (letters and digits)
// and B (letters and white space) and ctl marks the tabs, newlines and
// carriage returns. When not ok, a, b and ctl mean nothing. It reads the
// block eight bytes at a time (blockCheck8, allowedControls, classes8);
// on amd64 blockMasks is an SSE2 kernel that returns the same, and the
// tests compare the two.
func blockMasksGo(blk string) (a, b, ctl uint64, ok bool) {
	_ = blk[63]
	for k := 0; k < 64; k += 8 {
		w := word8(blk[k : k+8])
		ctlk, ok := blockCheck8(w)
		if !ok {
			return 0, 0, 0, false
		}
		if ctlk != 0 {
			if !allowedControls(w, ctlk) {
				return 0, 0, 0, false
			}
			ctl |= gather8(ctlk) << k
		}
		ak, bk := classes8(w)
		a |= gather8(ak) << k
		b |= gather8(bk) << k
	}
	return a, b, ctl, true
}

// scanBlocks is the block pass over text: it stops at the first block of
// 64 bytes it does not handle, and returns where (a multiple of 64); the
// tokens of the runs that ended before that; the run open there, as
// approxScan's class, run and single; and whether everything before it
// was white space. With end 0 it did nothing.
func scanBlocks(text string) (end, tokens, class, run int, single, blank bool) {
	s := blockState{first: true}
	var nonSpace uint64
	for ; end+64 <= len(text); end += 64 {
		a, b, ctl, ok := blockMasks(text[end : end+64])
		if !ok {
			break
		}
		space := b &^ a
		nonSpace |= ^space
		tokens += s.block(a, b, space&^ctl)
	}
	return s.finish(end, tokens, nonSpace)
}

// block counts the tokens of one block of 64 bytes with class planes a and
// b and spaces sp, and moves s on past it.
func (s *blockState) block(a, b, sp uint64) (tokens int) {
	l, d, p := a&b, a&^b, ^(a | b)
	// c: bytes of the class of the byte before them (continuations);
	// st: run starts.
	c := ^((a ^ (a<<1 | s.a>>63)) | (b ^ (b<<1 | s.b>>63)))
	if s.first {
		c &^= 1
		s.first = false
	}
	st := ^c
	tokens = bits.OnesCount64(st)
	// A start at j whose byte j-1 was also a start: the run at j-1 was a
	// single byte. Free if a space before L or P, or P before L.
	stp, spp, pp := st<<1|s.st>>63, sp<<1|s.sp>>63, p<<1|^(s.a|s.b)>>63
	tokens -= bits.OnesCount64(st & stp & (l&(pp|spp) | p&spp))
	// Offsets of at least 2, 3 and 6 from the run's start.
	c2 := c & (c<<1 | s.c>>63)
	c3 := c2 & (c<<2 | s.c>>62)
	c6 := c3 & (c3<<3 | s.c3>>61)
	if e := c6 & l; e != 0 || s.pending[0] != 0 {
		if e&(e<<6) == 0 && e>>63 == 0 && s.pending[0] == 0 {
			// Prose: no word of 13 letters or more, none reaching the
			// next block. Each block of ones is a run of 7 to 12
			// letters and adds 1.
			tokens += bits.OnesCount64(e &^ (e << 1))
		} else {
			tokens += longRuns(e, &s.pending[0], 6)
		}
	}
	if e := c3 & d; e != 0 || s.pending[1] != 0 {
		tokens += longRuns(e, &s.pending[1], 3)
	}
	if e := c2 & p; e != 0 || s.pending[2] != 0 {
		tokens += longRuns(e, &s.pending[2], 2)
	}
	if st == 0 {
		s.run += 64
	} else {
		s.run = bits.LeadingZeros64(st) + 1
	}
	s.a, s.b, s.sp, s.st, s.c, s.c3 = a, b, sp, st, c, c3
	return tokens
}

// longRuns returns the extra tokens of the runs of one class with K = k
// that end in a block whose positions at offset k or more from their run's
// start are e: ceil(count/k) for each block of ones, the one starting at
// bit 0 continuing the pending count of the previous block. A block of ones
// reaching bit 63 is left pending.
func longRuns(e uint64, pending *int, k int) (tokens int) {
	if e&1 == 0 && *pending != 0 { // the pending run ended at the previous byte 63
		tokens += ceilDiv(*pending, k)
		*pending = 0
	}
	for e != 0 {
		low := e & -e
		ones := e &^ (e + low) // the lowest block of ones
		e &^= ones
		n := bits.OnesCount64(ones) + *pending
		*pending = 0
		if ones>>63 != 0 {
			*pending = n
			break
		}
		tokens += ceilDiv(n, k)
	}
	return tokens
}

// ceilDiv returns n/k rounded up for 0 <= n and k of 2, 3 or 6: a
// multiplication by 2^32/k rounded up, exact while n+k-1 < 2^32/k (the
// error is below (n+k-1)*k/2^32 / k), where a division by a variable
// costs tens of cycles.
func ceilDiv(n, k int) int {
	if n+k-1 >= 1<<29 {
		return (n + k - 1) / k
	}
	return int(uint64(n+k-1) * reciprocals[k] >> 32)
}

// reciprocals[k] is 2^32/k rounded up, for ceilDiv.
var reciprocals = [7]uint64{2: 1 << 31, 3: (1<<32 + 2) / 3, 6: (1<<32 + 5) / 6}

// finish returns scanBlocks' results at end: the tokens counted so far
// without the run open at end, whose start they include (approxScan counts
// the whole run when it ends), and that run in approxScan's terms.
func (s *blockState) finish(end, tokens int, nonSpace uint64) (int, int, int, int, bool, bool) {
	if end == 0 {
		return 0, 0, classNone, 0, false, true
	}
	// The open run holds byte 63 of the last block: its start was counted,
	// its long-run bits are pending (and dropped here), its exception not
	// yet counted.
	class := [4]int{classPunct, classSpace, classDigit, classLetter}[s.a>>63<<1|s.b>>63]
	single := s.run == 1 && (class == classPunct || s.sp>>63 != 0)
	return end, tokens - 1, class, s.run, single, nonSpace == 0
}

// blockScanMin is the shortest text approxScan gives to the block pass:
// one block. With the Go kernel (blockMasksGo) the pass started at two
// blocks, as it lost to the loop over one on the workloads' 64-byte
// message ("user 7: " and 56 letters, the loop's best case: eight letters
// per step). With the SSE2 kernel, that message's History.Append cost
// 1-2 cpu-ns more with the pass than with the loop in one run (+1.2% to
// +2.5%, 12 interleaved runs, -cpu 1), and 0% to 14% less than main
// before the kernel in two others; the pass cuts the scan of 65 to 114
// bytes of prose or code by 44% to 73% (bench/RESULTS.md, issue 13,
// round 4). A constant: the tests call approxScanFrom with their own.
const blockScanMin = 64

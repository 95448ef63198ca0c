package chatring

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestBlockWord8 compares the word-at-a-time tests of the block pass
// (blockCheck8, allowedControls, classes8) with the byte definitions:
// every byte value at every position of a word of letters, then random
// words of the bytes around the boundaries.
func TestBlockWord8(t *testing.T) {
	check := func(buf [8]byte) {
		t.Helper()
		w := word8(string(buf[:]))
		ctl, ok := blockCheck8(w)
		ok = ok && (ctl == 0 || allowedControls(w, ctl))
		wantOK := true
		for _, c := range buf {
			if c >= 0x7f || c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				wantOK = false
			}
		}
		if ok != wantOK {
			t.Fatalf("blockCheck8(%q) ok = %v, want %v", buf, ok, wantOK)
		}
		if !ok {
			return
		}
		a, b := classes8(w)
		for i, c := range buf {
			class := asciiClass[c]
			wantA := class == classLetter || class == classDigit
			wantB := class == classLetter || class == classSpace
			wantCtl := c == '\t' || c == '\n' || c == '\r'
			bit := func(m uint64) bool { return gather8(m)>>i&1 != 0 }
			if bit(a) != wantA || bit(b) != wantB || bit(ctl) != wantCtl {
				t.Fatalf("classes8(%q) byte %d (%q): a %v b %v ctl %v, want %v %v %v",
					buf, i, c, bit(a), bit(b), bit(ctl), wantA, wantB, wantCtl)
			}
		}
	}
	for pos := range 8 {
		for v := range 256 {
			buf := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
			buf[pos] = byte(v)
			check(buf)
		}
	}
	rng := rand.New(rand.NewPCG(7, 8))
	picks := []byte{0x00, 0x09, 0x0a, 0x0b, 0x0d, 0x1f, ' ', '!', '/', '0', '9', ':', '@', 'A', 'Z', '[', '`', 'a', 'z', '{', '~', 0x7f, 0x80, 0xc3, 0xff}
	for range 100000 {
		var buf [8]byte
		for i := range buf {
			buf[i] = picks[rng.IntN(len(picks))]
		}
		check(buf)
	}
}

// blockPieces are what the texts of the block-pass tests are made of:
// runs of every ASCII class at lengths around their K (6 letters, 3
// digits, 2 punctuation), single spaces and punctuation before each class,
// the allowed controls, and a few of the adversarial pieces, which stop
// the block pass where they fall.
var blockPieces = []string{
	"a", "ab", "abcde", "abcdef", "abcdefg", "abcdefghijkl", "abcdefghijklm", "abcdefghijklmnopqrstuvwxyz",
	"1", "12", "123", "1234", "1234567", " ", "  ", " a", " .", " 1", "\t", "\n", "\r\n", " \t",
	".", ",", "..", "...", "....", "!!!!!", ".a", ",1", "'s", "-", "(", ")", "{\"k\": 1}",
	"The ", "quick, ", "brown-fox ", "jumps. ", "x",
}

// blockText returns a random text of about n bytes of blockPieces, with an
// adversarial piece somewhere in one text out of four.
func blockText(rng *rand.Rand, n int) string {
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(blockPieces[rng.IntN(len(blockPieces))])
	}
	s := sb.String()
	if rng.IntN(4) == 0 {
		at := rng.IntN(len(s) + 1)
		s = s[:at] + adversarial[rng.IntN(len(adversarial))] + s[at:]
	}
	return s
}

// TestScanBlocksMatchesReference checks approxScan with the block pass
// against referenceCount and the validation before issue 13 on texts of
// 64 to 400 bytes, so that runs straddle the 64-byte blocks and the block
// pass stops at every kind of byte it does not handle; and the block pass
// against the loop alone (block pass off).
func TestScanBlocksMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 30000 {
		s := blockText(rng, 64+rng.IntN(336))
		checkBlockScan(t, s)
	}
	// Long runs of one class across several blocks, and texts that are
	// exactly whole blocks.
	for _, piece := range []string{"x", "7", ".", " ", "\n", "ab ", "a.", "1,"} {
		for _, n := range []int{63, 64, 65, 127, 128, 129, 191, 192, 300} {
			s := strings.Repeat(piece, n/len(piece)+1)[:n]
			checkBlockScan(t, s)
			checkBlockScan(t, s+"y")
			// After a first character the pass does not handle, the
			// loop reads everything.
			for _, head := range []string{"y", "\u00e9", "\u4f60", "\u3000", "\x00"} {
				checkBlockScan(t, head+s)
			}
		}
	}
}

// checkBlockScan fails t unless approxScan(s) with the block pass
// wherever it can run (texts of 64 bytes and more) agrees with
// referenceCount and refValidateText, and with approxScan without the
// block pass; and unless the fused pass as shipped (blockScanMin) does
// (checkScanRef).
func checkBlockScan(t *testing.T, s string) {
	t.Helper()
	checkScanRef(t, s)
	t1, b1, bad1 := approxScanFrom(s, true, 64)
	t2, b2, bad2 := approxScanFrom(s, true, len(s)+1) // the loop alone
	if bad1 != bad2 || bad1 < 0 && (t1 != t2 || b1 != b2) {
		t.Fatalf("approxScan(%q) = %d, %v, %d with the block pass, %d, %v, %d without", s, t1, b1, bad1, t2, b2, bad2)
	}
	if err := refCheckChars("content", s, true); (bad1 < 0) != (err == nil) {
		t.Fatalf("approxScan(%q) bad = %d with the block pass, the check before issue 13 says %v", s, bad1, err)
	}
	if bad1 < 0 && (t1 != referenceCount(s) || b1 != (strings.TrimSpace(s) == "")) {
		t.Fatalf("approxScan(%q) = %d, %v with the block pass, reference says %d, %v", s, t1, b1, referenceCount(s), strings.TrimSpace(s) == "")
	}
	if tc, _, _ := approxScanFrom(s, false, 64); tc != referenceCount(s) {
		t.Fatalf("approxScan(%q) without checks counts %d tokens with the block pass, reference says %d", s, tc, referenceCount(s))
	}
}

// FuzzScanBlocks checks the block pass on any input made long enough for
// it: the input repeated to at least 64 bytes, and after 64 letters.
func FuzzScanBlocks(f *testing.F) {
	for _, s := range []string{"a", "hello, world! ", "abcdefg 12345 ... ", "x\ty\r\n", " .a", "\xc3\xa9t\xc3\xa9 ", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" || len(s) > 512 {
			return
		}
		checkBlockScan(t, strings.Repeat(s, 64/len(s)+2))
		checkBlockScan(t, strings.Repeat("w", 64)+s)
	})
}

// TestCeilDiv compares ceilDiv with a division: every n up to 200 000,
// around the bound where it switches to dividing, and random n beyond,
// up to half the largest int (an int of 32 bits too).
func TestCeilDiv(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	ns := []int{1<<29 - 7, 1<<29 - 6, 1<<29 - 5, 1<<29 - 2, 1<<29 - 1, 1 << 29, 1<<29 + 1, math.MaxInt / 2}
	for n := range 200000 {
		ns = append(ns, n)
	}
	for range 100000 {
		ns = append(ns, rng.IntN(1<<30), rng.IntN(math.MaxInt/2))
	}
	for _, n := range ns {
		for _, k := range []int{2, 3, 6} {
			if got, want := ceilDiv(n, k), (n+k-1)/k; got != want {
				t.Fatalf("ceilDiv(%d, %d) = %d, want %d", n, k, got, want)
			}
		}
	}
}

// checkScanRef fails t unless the fused pass, with the block pass from
// blockScanMin as it is, rejects s exactly as the validation before issue
// 13 does and otherwise counts referenceCount, and unless Count (no
// checks) counts referenceCount on s valid or not.
func checkScanRef(t *testing.T, s string) {
	t.Helper()
	want := refValidateText("content", s, len(s))
	tokens, err := scanText("content", s, len(s), true)
	if (err == nil) != (want == nil) || err != nil && err.Error() != want.Error() {
		t.Fatalf("scanText(%q) error %v, the validation before issue 13 says %v", s, err, want)
	}
	if err == nil && tokens != referenceCount(s) {
		t.Fatalf("scanText(%q) counts %d tokens, reference says %d", s, tokens, referenceCount(s))
	}
	if got, want := (ApproxTokenizer{}).Count(s), referenceCount(s); got != want {
		t.Fatalf("Count(%q) = %d, reference says %d", s, got, want)
	}
}

// blockEdgePieces are the characters that decide validation or end a run
// of the block pass: every C0 control (the three allowed and the others),
// DEL, every C1 control, and the adversarial pieces (invalid, truncated
// and overlong UTF-8, surrogates, beyond U+10FFFF, CJK and full-width
// punctuation).
func blockEdgePieces() []string {
	var pieces []string
	for b := range 0x20 {
		pieces = append(pieces, string(rune(b)))
	}
	pieces = append(pieces, "\x7f")
	for r := rune(0x80); r <= 0x9f; r++ {
		pieces = append(pieces, string(r))
	}
	pieces = append(pieces, "\xf4\x90\x80", "\xf7\xbf\xbf\xbf", "\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf",
		"\xed\xb0\x80", "\uff0c", "\u3002", "\uff1f", "\u300c", "\u300d", "\uff08x\uff09", "\u30fb", "\uff5e")
	return append(pieces, adversarial...)
}

// TestScanBlocksEdges puts every piece of blockEdgePieces at the block
// boundaries (offsets 0, 1, 62 to 66, 126 to 130, 190 to 193 and the
// last byte) of ASCII texts of 63 to 257 bytes made of one kind of run or
// of prose, both inserted and overwriting the text (so that a multi-byte
// character straddles bytes 63/64 and 127/128 and the text keeps its
// length), and checks the fused pass, with the block pass as shipped and
// from 64 bytes, against the validation and the count before issue 13.
func TestScanBlocksEdges(t *testing.T) {
	fills := []string{
		strings.Repeat("abcdefghijklmnopqrstuvwxyz", 11),
		strings.Repeat("0123456789", 27),
		strings.Repeat(".,;:!?-", 40),
		strings.Repeat(" \t \n\r  ", 40),
		strings.Repeat("The quick, brown fox jumps 42 times... ", 8),
		strings.Repeat("x", 270),
	}
	lengths := []int{63, 64, 65, 127, 128, 129, 191, 192, 193, 255, 256, 257}
	pieces := blockEdgePieces()
	check := func(s string) {
		t.Helper()
		checkBlockScan(t, s)
	}
	if testing.Short() {
		lengths = []int{128, 192, 193}
	}
	for _, fill := range fills {
		for _, n := range lengths {
			base := fill[:n]
			for _, piece := range pieces {
				for _, at := range []int{0, 1, 62, 63, 64, 65, 66, 126, 127, 128, 129, 130, 190, 191, 192, 193, n - 1, n} {
					if at > n {
						continue
					}
					ins := base[:at] + piece + base[at:]
					check(ins)
					if at+len(piece) <= n {
						check(base[:at] + piece + base[at+len(piece):])
					}
				}
			}
		}
	}
}

// TestScanBlocksEveryRun puts one run of every ASCII class the block pass
// handles (letters, digits, punctuation, spaces, tabs), of every length
// from 1 to 140, at every offset from 0 to 130 of a 200-byte text of
// another class, so that it starts, ends or lies across bytes 63/64 and
// 127/128 and past the last whole block, and checks the count with the
// block pass as shipped against referenceCount (and blank against
// strings.TrimSpace); and the same text with a character the pass does not
// handle at byte 150 (the loop takes over from byte 128 then) with Count.
func TestScanBlocksEveryRun(t *testing.T) {
	chars := []byte{'a', '1', '.', ' ', '\t'}
	for _, c := range chars {
		for _, bg := range chars {
			if bg == c {
				continue
			}
			for start := 0; start <= 130; start++ {
				for n := 1; n <= 140; n++ {
					buf := []byte(strings.Repeat(string(bg), 200))
					for i := start; i < start+n && i < len(buf); i++ {
						buf[i] = c
					}
					s := string(buf)
					wantBlank := strings.TrimSpace(s) == ""
					if got, blank, bad := approxScan(s, true); bad >= 0 || blank != wantBlank || got != referenceCount(s) {
						t.Fatalf("approxScan(%q) = %d, %v, %d; want %d, %v, -1", s, got, blank, bad, referenceCount(s), wantBlank)
					}
					s = s[:150] + "\u00e9" + s[150:]
					if got, want := (ApproxTokenizer{}).Count(s), referenceCount(s); got != want {
						t.Fatalf("Count(%q) = %d, reference says %d", s, got, want)
					}
				}
			}
		}
	}
}

package chatring

import (
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestPrintableASCII8 compares the word-at-a-time test with the byte
// definition: every byte value at every position, then random words mixing
// printable and unprintable bytes (a borrow or carry between bytes must
// neither hide nor invent one).
func TestPrintableASCII8(t *testing.T) {
	printable := func(b byte) bool { return 0x20 <= b && b <= 0x7e }
	for pos := range 8 {
		for v := range 256 {
			buf := []byte("abcdefgh")
			buf[pos] = byte(v)
			if got, want := printableASCII8(word8(string(buf))), printable(byte(v)); got != want {
				t.Fatalf("printableASCII8(%q) = %v, want %v", buf, got, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	picks := []byte{0x00, 0x09, 0x0a, 0x1f, 0x20, 0x21, 0x41, 0x7e, 0x7f, 0x80, 0x9f, 0xc3, 0xff}
	for range 100000 {
		var buf [8]byte
		want := true
		for i := range buf {
			buf[i] = picks[rng.IntN(len(picks))]
			want = want && printable(buf[i])
		}
		if got := printableASCII8(word8(string(buf[:]))); got != want {
			t.Fatalf("printableASCII8(%q) = %v, want %v", buf, got, want)
		}
	}
}

// referenceCount is ApproxTokenizer.Count written the plain way, one rune
// and one class at a time: the model the optimized Count must agree with.
func referenceCount(text string) int {
	tokens := 0
	class, run, single := classNone, 0, false
	for _, r := range text {
		c := classify(r)
		if c == class && c != classIdeograph {
			run++
			single = false
			continue
		}
		tokens += runTokens(class, run, single, c)
		class, run, single = c, 1, r == ' ' || c == classPunct
	}
	tokens += runTokens(class, run, single, classNone)
	if tokens == 0 && text != "" {
		tokens = 1
	}
	return tokens
}

func TestApproxTokenizerMatchesReference(t *testing.T) {
	// Single characters, and longer runs of one class.
	alphabet := []string{"a", "Z", "é", "0", "9", " ", "  ", "\t", "\n", ".", ",", "!", "你", "か", "한", "\U0001F642", "\xff", "_",
		"abcdefgh", "Internationalization", "xxxxxxxxxxxxxxxxxxxxxxx", "12345678901"}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var text string
		for range rng.IntN(24) {
			text += alphabet[rng.IntN(len(alphabet))]
		}
		if got, want := (ApproxTokenizer{}).Count(text), referenceCount(text); got != want {
			t.Fatalf("Count(%q) = %d, reference says %d", text, got, want)
		}
	}
}

// FuzzApproxTokenizer checks Count against referenceCount on any input,
// valid UTF-8 or not.
func FuzzApproxTokenizer(f *testing.F) {
	for _, s := range []string{"", "hello, world!", "user 1: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "café au lait", "你好 world", "\xffabcdefghij\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := (ApproxTokenizer{}).Count(text), referenceCount(text); got != want {
			t.Fatalf("Count(%q) = %d, reference says %d", text, got, want)
		}
	})
}

// TestNonLetters8 compares the word-at-a-time test with the byte
// definition, as TestPrintableASCII8 does: the lowest bit set must be the
// high bit of the first byte that is not a letter.
func TestNonLetters8(t *testing.T) {
	letter := func(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }
	first := func(buf []byte) int { // index of the first non-letter, 8 if none
		for i, b := range buf {
			if !letter(b) {
				return i
			}
		}
		return 8
	}
	got := func(buf []byte) int { return bits.TrailingZeros64(nonLetters8(word8(string(buf)))) / 8 }
	for pos := range 8 {
		for v := range 256 {
			buf := []byte("abcdefgh")
			buf[pos] = byte(v)
			if g, w := got(buf), first(buf); g != w {
				t.Fatalf("nonLetters8(%q): first non-letter at %d, want %d", buf, g, w)
			}
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	picks := []byte{0x00, 0x1f, 0x20, '@', 'A', 'Z', '[', '`', 'a', 'z', '{', 0x7f, 0x80, 0xc1, 0xe1, 0xfa, 0xff}
	for range 100000 {
		var buf [8]byte
		for i := range buf {
			buf[i] = picks[rng.IntN(len(picks))]
		}
		if g, w := got(buf[:]), first(buf[:]); g != w {
			t.Fatalf("nonLetters8(%q): first non-letter at %d, want %d", buf, g, w)
		}
	}
}

// TestDecodeRune compares the inline decoder with package utf8 on every
// two- and three-byte sequence and on every lead byte followed by short or
// bad continuations.
func TestDecodeRune(t *testing.T) {
	check := func(s string) {
		t.Helper()
		r, n := decodeRune(s)
		wr, wn := utf8.DecodeRuneInString(s)
		if r != wr || n != wn {
			t.Fatalf("decodeRune(%q) = %U, %d; utf8 says %U, %d", s, r, n, wr, wn)
		}
	}
	for b0 := 0x80; b0 < 0x100; b0++ {
		check(string([]byte{byte(b0)}))
		for b1 := range 0x100 {
			check(string([]byte{byte(b0), byte(b1)}))
			if b0 >= 0xE0 && b0 <= 0xEF {
				for _, b2 := range []byte{0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xff} {
					check(string([]byte{byte(b0), byte(b1), b2}))
				}
			}
		}
	}
	// Every rune the inline forms decode, and beyond them a few of the
	// four-byte ones, which decodeRune leaves to package utf8.
	for r := rune(0x80); r <= 0xFFFF; r++ {
		check(string(r) + "x")
	}
	for _, r := range []rune{0x10000, 0x1F642, 0x10FFFF} {
		check(string(r))
	}
}

// TestClassOf checks the class tables against classify for every rune of
// the Basic Multilingual Plane, where the tables and the CJK range are
// (classOf answers every rune above it with classify itself), and a few
// runes above it.
func TestClassOf(t *testing.T) {
	runes := []rune{0x10000, 0x1F642, 0x20000, unicode.MaxRune}
	for r := rune(0x80); r <= 0xFFFF; r++ {
		runes = append(runes, r)
	}
	for _, r := range runes {
		if got, want := classOf(r), classify(r); got != want {
			t.Fatalf("classOf(%U) = %d, classify says %d", r, got, want)
		}
	}
}

// FuzzScanText checks the fused pass (scanText with approx) against the
// two passes it replaces, checkChars with the blank test and then
// referenceCount, and against the specification of content: same error,
// same count. It checks the input as it is and repeated to over 128
// bytes, so that the block pass (from blockScanMin bytes) reads it too:
// whole blocks of it, and the blocks it stops at.
func FuzzScanText(f *testing.F) {
	for _, s := range []string{"", " ", "hello, world!", "a\tb\r\nc", "\x00", "a\x7fb", "\u0085", "\u00a0",
		"\xff", "\xed\xa0\x80", "你好，世界！", "ｈｅｌｌｏ", "abcdefghijklmnopq rstuvwxyz", "\u3000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkScanText(t, s, 64)
		if s != "" && len(s) <= 512 {
			long := strings.Repeat(s, 130/len(s)+1)
			checkScanText(t, long, 1024)
			checkScanText(t, long, len(long)-1) // too large
		}
	})
}

// checkScanText fails t unless scanText(s) with approx and maxBytes
// returns validateText's error and referenceCount's count, and accepts s
// exactly when the specification of content does.
func checkScanText(t *testing.T, s string, maxBytes int) {
	t.Helper()
	tokens, err := scanText("content", s, maxBytes, true)
	wantErr := validateText("content", s, maxBytes)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("scanText(%q) error %v, validateText says %v", s, err, wantErr)
	}
	valid := len(s) <= maxBytes && utf8.ValidString(s) && strings.TrimSpace(s) != "" &&
		!strings.ContainsFunc(s, func(r rune) bool {
			return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r >= 0x7f && r <= 0x9f
		})
	if valid != (err == nil) {
		t.Fatalf("scanText(%q) error %v, but the specification says valid = %v", s, err, valid)
	}
	if err == nil {
		if want := referenceCount(s); tokens != want {
			t.Fatalf("scanText(%q) counts %d tokens, reference says %d", s, tokens, want)
		}
	}
}

// TestCJKPunct and TestCommonHan compare the ideograph loop's byte tests
// with decoding and classifying: every second and third byte after the
// lead bytes they accept and those around them, valid UTF-8 or not.
func TestCJKPunct(t *testing.T) {
	for _, b0 := range []byte{0xE2, 0xE3, 0xE4, 0xEE, 0xEF, 0xF0} {
		for b1 := range 256 {
			for b2 := range 256 {
				s := string([]byte{b0, byte(b1), byte(b2)})
				r, n := utf8.DecodeRuneInString(s)
				want := n == 3 && r != utf8.RuneError && classify(r) == classPunct &&
					(0x3000 <= r && r < 0x3100 || 0xFF00 <= r && r < 0xFFF0)
				if got := cjkPunct(s); got != want {
					t.Fatalf("cjkPunct(%q) = %v, want %v", s, got, want)
				}
			}
		}
	}
}

func TestCommonHan(t *testing.T) {
	for b0 := 0xE0; b0 <= 0xEF; b0++ {
		for b1 := range 256 {
			for b2 := range 256 {
				s := string([]byte{byte(b0), byte(b1), byte(b2)})
				r, n := utf8.DecodeRuneInString(s)
				want := n == 3 && 0x4E00 <= r && r <= 0x9FFF
				if got := commonHan(s); got != want {
					t.Fatalf("commonHan(%q) = %v, want %v", s, got, want)
				}
				if want && classify(r) != classIdeograph {
					t.Fatalf("%q (%U) is not an ideograph to classify", s, r)
				}
			}
		}
	}
}

// TestIdeographLoopPunct checks the ideograph loop's step over a CJK
// punctuation character against the validation and the count before issue
// 13: every sequence of up to four pieces among ideographs (common block
// and not), CJK, full-width and ASCII punctuation, the ideographic space,
// kana, truncated and invalid bytes and the ends of the text, so that the
// punctuation comes at the start, at the end, twice in a row, before a
// truncated ideograph and next to invalid bytes.
func TestIdeographLoopPunct(t *testing.T) {
	pieces := []string{"你", "\u4e00", "\u9fff", "\u3400", "か", "\uff0c", "\u3002", "\u3001", "\uff01",
		"\u30fb", "\u3000", "\uff10", "\uff41", "\uff00", "\uffef", ",", " ", "a",
		"\xe4\xb8", "\xef\xbc", "\xe3\x80", "\xff", "\xed\xa0\x80", "\u0085", "\x00"}
	var check func(s string, depth int)
	check = func(s string, depth int) {
		if s != "" {
			checkAgainstRef(t, Message{Role: User, Content: s}, len(s))
		}
		if depth == 4 {
			return
		}
		for _, p := range pieces {
			check(s+p, depth+1)
		}
	}
	check("", 0)
}

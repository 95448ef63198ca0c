package chatring

import (
	"math/rand/v2"
	"testing"
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
			if got, want := printableASCII8(string(buf)), printable(byte(v)); got != want {
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
		if got := printableASCII8(string(buf[:])); got != want {
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

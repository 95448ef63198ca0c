package chatring

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// refBlockMasks is blockMasks written byte by byte from its definition,
// for the tests of the two kernels.
func refBlockMasks(blk string) (a, b, ctl uint64, ok bool) {
	for i := range 64 {
		c := blk[i]
		switch {
		case c == '\t' || c == '\n' || c == '\r':
			ctl |= 1 << i
		case c < 0x20 || c >= 0x7f:
			return 0, 0, 0, false
		}
		switch asciiClass[c] {
		case classLetter:
			a |= 1 << i
			b |= 1 << i
		case classDigit:
			a |= 1 << i
		case classSpace:
			b |= 1 << i
		}
	}
	return a, b, ctl, true
}

// blockKernels are the kernels the tests compare with refBlockMasks:
// blockMasks, the one this build uses (SSE2 on amd64 without the purego
// tag), and the Go kernel.
var blockKernels = []struct {
	name string
	f    func(string) (a, b, ctl uint64, ok bool)
}{{"blockMasks", blockMasks}, {"blockMasksGo", blockMasksGo}}

// checkBlockMasks fails t unless both kernels return refBlockMasks'
// answer for blk (the masks only where it is ok).
func checkBlockMasks(t *testing.T, blk string) {
	t.Helper()
	wa, wb, wctl, wok := refBlockMasks(blk)
	for _, k := range blockKernels {
		a, b, ctl, ok := k.f(blk)
		if ok != wok || ok && (a != wa || b != wb || ctl != wctl) {
			t.Fatalf("%s(%q) = %#x, %#x, %#x, %v; want %#x, %#x, %#x, %v", k.name, blk, a, b, ctl, ok, wa, wb, wctl, wok)
		}
	}
}

// TestBlockMasksEveryByte puts every byte value at every position of
// blocks of every class (and of all of them mixed), and of a block that
// is accepted only with the allowed controls, and compares the kernels
// with refBlockMasks.
func TestBlockMasksEveryByte(t *testing.T) {
	bases := []string{
		strings.Repeat("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 2)[:64],
		strings.Repeat("0123456789", 7)[:64],
		strings.Repeat(" \t\n\r", 16),
		strings.Repeat("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", 2),
		"The quick, brown fox\tjumps over 13 lazy dogs...\r\n(twice) ~ `@Z[`",
	}
	for _, base := range bases {
		if len(base) != 64 {
			t.Fatalf("base block of %d bytes", len(base))
		}
		buf := []byte(base)
		for pos := range 64 {
			for v := range 256 {
				buf[pos] = byte(v)
				checkBlockMasks(t, string(buf))
			}
			buf[pos] = base[pos]
		}
	}
}

// TestBlockMasksRandom compares the kernels with refBlockMasks on random
// blocks: of the bytes around every bound the kernels test, mostly
// accepted ones (so that the masks are compared), and of any byte.
func TestBlockMasksRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	picks := []byte{0x00, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x1f, ' ', '!', '/', '0', '9', ':', '@', 'A', 'Z', '[',
		'`', 'a', 'z', '{', '~', 0x7f, 0x80, 0x89, 0x8a, 0x8d, 0xa0, 0xaf, 0xb0, 0xc1, 0xda, 0xe1, 0xfa, 0xff}
	accepted := []byte("\t\n\r !/09:@AZ[`az{~")
	buf := make([]byte, 64)
	for n := range 300000 {
		for i := range buf {
			switch n % 3 {
			case 0:
				buf[i] = accepted[rng.IntN(len(accepted))]
			case 1:
				buf[i] = picks[rng.IntN(len(picks))]
			default:
				buf[i] = byte(rng.Uint32())
			}
		}
		if n%3 == 0 && rng.IntN(2) == 0 { // one byte that may not be accepted
			buf[rng.IntN(64)] = picks[rng.IntN(len(picks))]
		}
		checkBlockMasks(t, string(buf))
	}
}

// FuzzBlockMasks compares the kernels with refBlockMasks on any input
// made a block: repeated to 64 bytes, and after and before the 64-byte
// text of letters, at every offset that fits.
func FuzzBlockMasks(f *testing.F) {
	for _, s := range []string{"a", "Hello, World! 42\t\r\n", "\x00", "\x7f", "\x80", "\xff", "`{@[/:", "\u00e9\u4f60"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return
		}
		checkBlockMasks(t, strings.Repeat(s, 64/len(s)+1)[:64])
		if len(s) <= 64 {
			fill := strings.Repeat("w", 64)
			checkBlockMasks(t, s+fill[len(s):])
			checkBlockMasks(t, fill[len(s):]+s)
		}
	})
}

// BenchmarkBlockMasks times the kernels on a block of prose.
func BenchmarkBlockMasks(b *testing.B) {
	blk := "Sure! The window keeps the last ten turns; older ones are evicted"[:64]
	for _, k := range blockKernels {
		b.Run(k.name, func(b *testing.B) {
			b.SetBytes(64)
			for b.Loop() {
				k.f(blk)
			}
		})
	}
}

// BenchmarkApproxScanFrom times the fused pass on tokenizerTexts'
// kinds of text around the block pass's threshold, with the block pass
// from 64 bytes (from=64) and without it (from=off), to choose
// blockScanMin.
func BenchmarkApproxScanFrom(b *testing.B) {
	texts := []struct{ name, text string }{
		{"workload64", "user 7: " + strings.Repeat("x", 56)},
		{"prose64", "Sure! The window keeps the last ten turns; older ones are evicted"[:64]},
		{"prose113", "Sure! The window keeps the last ten turns; older ones are evicted, so summarize them first if you need them later."},
		{"workload128", "user 7: " + strings.Repeat("x", 120)},
	}
	for _, tt := range texts {
		for _, from := range []int{64, 1 << 30} {
			name := "from=64"
			if from > 64 {
				name = "from=off"
			}
			b.Run(tt.name+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(len(tt.text)))
				for b.Loop() {
					approxScanFrom(tt.text, true, from)
				}
			})
		}
	}
}

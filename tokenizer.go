package chatring

import (
	"math/bits"
	"unicode"
	"unicode/utf8"
)

// Tokenizer counts the tokens of a text. History calls Count once per
// appended message (and once per SetSystemPrompt) and caches the result in
// Message.Tokens; Window budgets are sums of those counts.
//
// Count must be safe for concurrent use, must not retain text, and should
// return 0 only for empty text; a negative count is treated as 0.
//
// The default is ApproxTokenizer. For exact counts of OpenAI models use the
// byte-pair-encoding tokenizer in the separate module
// github.com/chatring/chatring/tokenizer/tiktoken, which keeps its
// vocabularies (several megabytes) out of this module.
type Tokenizer interface {
	// Count returns the number of tokens in text. It should return 0
	// only for ""; History treats a negative count as 0.
	Count(text string) int
}

// TokenizerFunc adapts a function to the Tokenizer interface.
type TokenizerFunc func(text string) int

// Count returns f(text).
func (f TokenizerFunc) Count(text string) int { return f(text) }

// ApproxTokenizer is the default Tokenizer: a cheap estimate with no
// vocabulary, one pass over the text and no allocation. It imitates the
// pre-tokenizer of the GPT BPE encodings: a run of letters counts one token
// per 6 letters (rounded up), a run of digits one per 3, each Han, kana or
// Hangul character one, a run of punctuation one per 2 characters (a single
// one glued to the following word is free), and a run of white space one,
// unless it is a single space before a word. Non-empty text counts at least
// 1.
//
// How approximate: on the test samples of the tiktoken module (English and
// French prose, Go code, JSON, single letters and digits) it is within
// ±30% of o200k_base and cl100k_base (GPT-4o, GPT-4), and so is Chinese
// with cl100k_base (see below for o200k_base):
// TestApproxAgainstBPE in that module measures it and fails outside that
// range. There it counts 1.04–1.14× the real tokens of prose and code,
// 1.00× the short sample, and 0.87× those of the JSON sample, so it can
// under-count: a Window built with its counts can exceed a model's real
// limit by that much. Chinese is counted at one token per character: exact
// for cl100k_base, about 1.5× too many for o200k_base. Use it when budgets
// have headroom; use the BPE tokenizer when they are tight.
type ApproxTokenizer struct{}

// Character classes of ApproxTokenizer.
const (
	classNone = iota
	classLetter
	classDigit
	classSpace
	classPunct
	classIdeograph
)

// asciiClass is classify for the ASCII range, as a table: most chat text
// is ASCII, and a table lookup per byte keeps Count well under the cost of
// storing the message.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for r := range t {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
			t[r] = classLetter
		case '0' <= r && r <= '9':
			t[r] = classDigit
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			t[r] = classSpace
		default:
			t[r] = classPunct
		}
	}
	return t
}()

func classify(r rune) int {
	switch {
	case r < utf8.RuneSelf:
		return int(asciiClass[r])
	case 0x4E00 <= r && r <= 0x9FFF, // CJK Unified Ideographs, the common block
		0x3040 <= r && r <= 0x30FF, // Hiragana and Katakana
		0xAC00 <= r && r <= 0xD7A3: // Hangul syllables
		return classIdeograph
	case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul):
		return classIdeograph
	case unicode.IsLetter(r) || unicode.IsMark(r):
		return classLetter
	case unicode.IsDigit(r):
		return classDigit
	case unicode.IsSpace(r):
		return classSpace
	}
	return classPunct
}

// runTokens is the token count of a finished run of n characters of class
// c, followed by a character of class next; single says the run is one
// space or one punctuation character.
func runTokens(c, n int, single bool, next int) int {
	switch c {
	case classLetter:
		return (n + 5) / 6
	case classDigit:
		return (n + 2) / 3
	case classIdeograph:
		return n
	case classSpace:
		if !single || (next != classLetter && next != classPunct) {
			return 1
		}
	case classPunct:
		if !(single && next == classLetter) {
			return (n + 1) / 2
		}
	}
	return 0
}

// Count estimates the number of tokens in text.
func (ApproxTokenizer) Count(text string) int {
	tokens, _, _ := approxScan(text, false)
	return tokens
}

// classBad marks, in asciiChecked, the bytes that content may not hold:
// the C0 controls but tab, newline and carriage return, and DEL. It is no
// run's class, so a run never extends over one.
const classBad = 0xff

// asciiChecked is asciiClass with the bytes that content may not hold
// marked classBad, for approxScan's checking pass.
var asciiChecked = func() (t [utf8.RuneSelf]uint8) {
	t = asciiClass
	for b := range t {
		if b < 0x20 && b != '\t' && b != '\n' && b != '\r' || b == 0x7f {
			t[b] = classBad
		}
	}
	return t
}()

// Classes of the non-ASCII characters that chat text uses most, looked up
// instead of classified: U+0080 to U+07FF (the two-byte range: Latin
// accents, Greek, Cyrillic, Hebrew, Arabic), U+3000 to U+30FF (CJK
// punctuation, kana) and U+FF00 to U+FFEF (full-width forms). Each entry
// is classify's answer, so the lookup changes nothing but the time.
var (
	twoByteClass   = classTable(0x80, 0x800)
	cjkPunctClass  = classTable(0x3000, 0x3100)
	fullWidthClass = classTable(0xFF00, 0xFFF0)
)

// classTable returns classify(r) for lo <= r < hi, at r-lo.
func classTable(lo, hi rune) []uint8 {
	t := make([]uint8, hi-lo)
	for r := lo; r < hi; r++ {
		t[r-lo] = uint8(classify(r))
	}
	return t
}

// classOf is classify for a non-ASCII rune, with the tables above.
func classOf(r rune) int {
	switch {
	case r < 0x800:
		return int(twoByteClass[r-0x80])
	case 0x4E00 <= r && r <= 0x9FFF:
		return classIdeograph
	case 0x3000 <= r && r < 0x3100:
		return int(cjkPunctClass[r-0x3000])
	case 0xFF00 <= r && r < 0xFFF0:
		return int(fullWidthClass[r-0xFF00])
	}
	return classify(r)
}

// decodeRune is utf8.DecodeRuneInString for s[0] >= utf8.RuneSelf, with
// the two- and three-byte forms (everything up to U+FFFF) decoded inline
// and the rest, invalid input included, left to package utf8.
func decodeRune(s string) (rune, int) {
	b0 := s[0]
	switch {
	case 0xC2 <= b0 && b0 <= 0xDF && len(s) >= 2 && s[1]&0xC0 == 0x80:
		return rune(b0&0x1F)<<6 | rune(s[1]&0x3F), 2
	case 0xE0 <= b0 && b0 <= 0xEF && len(s) >= 3 && s[1]&0xC0 == 0x80 && s[2]&0xC0 == 0x80:
		r := rune(b0&0x0F)<<12 | rune(s[1]&0x3F)<<6 | rune(s[2]&0x3F)
		// Not overlong (E0 80..9F) and not a surrogate (ED A0..BF).
		if r >= 0x800 && (r < 0xD800 || r > 0xDFFF) {
			return r, 3
		}
	}
	return utf8.DecodeRuneInString(s)
}

// commonHan reports whether s, at least 3 bytes long, starts with a
// character of the common CJK block, U+4E00 to U+9FFF (E4 B8 80 to E9 BF
// BF), of class ideograph.
func commonHan(s string) bool {
	_ = s[2]
	return 0xE4 <= s[0] && s[0] <= 0xE9 && s[1]&0xC0 == 0x80 && s[2]&0xC0 == 0x80 &&
		(s[0] != 0xE4 || s[1] >= 0xB8)
}

// cjkPunct reports whether s, at least 3 bytes long, starts with a
// character of U+3000 to U+30FF (E3 80 80 to E3 83 BF) or U+FF00 to U+FFEF
// (EF BC 80 to EF BF AF) of class punctuation, by classOf's tables: the
// punctuation of Chinese and Japanese text.
func cjkPunct(s string) bool {
	_ = s[2]
	b1, b2 := s[1], s[2]
	if b2&0xC0 != 0x80 {
		return false
	}
	switch low := int(b1&0x3F)<<6 | int(b2&0x3F); s[0] {
	case 0xE3:
		return b1 >= 0x80 && b1 <= 0x83 && cjkPunctClass[low] == classPunct
	case 0xEF:
		return b1 >= 0xBC && b1 <= 0xBF && low-0xF00 < len(fullWidthClass) && fullWidthClass[low-0xF00] == classPunct
	}
	return false
}

// nonLetters8 returns the high bit of every byte of w (word8) that is
// not an ASCII letter, and maybe of bytes after it, but of no letter
// before it: a letter is a byte without the high bit that, with its case
// bit set, is in 'a'..'z' (adding 0x1f carries into the high bit from 'a'
// up, adding 0x05 from '{' up). Only a byte with the high bit set carries
// into the next byte, so the lowest bit set is exact: the first byte that
// is not a letter.
func nonLetters8(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := w | 0x20*ones
	return (w | ^(x + 0x1f*ones) | (x + 0x05*ones)) & highs
}

// word8 returns the first 8 bytes of s as a little-endian word.
func word8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// approxScan is ApproxTokenizer.Count and, when check is set, checkChars
// of content (tab, newline and carriage return allowed) in the same pass
// over text. It returns the token count; blank, whether text holds
// nothing but white space (true for ""); and bad, the byte offset of the
// first character content may not hold (invalid UTF-8 or a control
// character), or -1. Without check, bad is always -1; when bad >= 0,
// tokens and blank mean nothing.
func approxScan(text string, check bool) (tokens int, blank bool, bad int) {
	return approxScanFrom(text, check, blockScanMin)
}

// approxScanFrom is approxScan with the block pass for texts of minBlock
// bytes or more (blockScanMin in approxScan), so that the tests can run
// it from 64 bytes or not at all without changing a package variable.
func approxScanFrom(text string, check bool, minBlock int) (tokens int, blank bool, bad int) {
	table := &asciiClass
	if check {
		table = &asciiChecked
	}
	blank = true
	class, run, single := classNone, 0, false // the current run; single: one space or punct
	i := 0
	if len(text) >= minBlock && text[0] < utf8.RuneSelf {
		// The block pass takes the ASCII prefix, 64 bytes at a time; the
		// loop below goes on from the run it leaves open.
		i, tokens, class, run, single, blank = scanBlocks(text)
	}
	for i < len(text) {
		var c int
		var r rune
		if b := text[i]; b < utf8.RuneSelf {
			r, c = rune(b), int(table[b])
			if c == classBad {
				return 0, false, i
			}
			i++
		} else {
			var n int
			r, n = decodeRune(text[i:])
			if check && (r == utf8.RuneError && n == 1 || r <= 0x9F) { // C1 controls: U+0080 to U+009F
				return 0, false, i
			}
			c = classOf(r)
			i += n
		}
		if c != classSpace {
			blank = false
		}
		if c == class && c != classIdeograph {
			run++
			single = false
		} else {
			tokens += runTokens(class, run, single, c)
			class, run, single = c, 1, r == ' ' || c == classPunct
		}
		// Extend the run over following ASCII bytes of its class without
		// the bookkeeping above: most text is runs of ASCII letters.
		j := i
		switch class {
		case classLetter:
			for {
				for {
					if j+8 > len(text) { // the last bytes, one at a time
						for j < len(text) && text[j] < utf8.RuneSelf && table[text[j]] == classLetter {
							j++
						}
						break
					}
					if m := nonLetters8(word8(text[j:])); m != 0 {
						j += bits.TrailingZeros64(m) / 8 // the letters before the first other byte
						break
					}
					j += 8
				}
				// Prose: a word, one space, a word. The word's run ends,
				// the single space before a word is free, and a run of
				// one letter starts, without going round the main loop.
				if j+1 >= len(text) || text[j] != ' ' || text[j+1] >= utf8.RuneSelf || table[text[j+1]] != classLetter {
					break
				}
				tokens += runTokens(classLetter, run+j-i, false, classSpace)
				run, i, j = 1, j+2, j+2
			}
		case classIdeograph:
			for {
				// Each following character of the common CJK block
				// ends the previous one's run of one, a token, and
				// starts its own.
				for j+3 <= len(text) && commonHan(text[j:]) {
					tokens++
					j += 3
				}
				// A CJK punctuation character between two of them
				// ("，", "。", "？"): the ideograph before it is a
				// token, and so is the punctuation, a run of one that
				// does not precede a letter; the next ideograph starts
				// its own run.
				if j+6 > len(text) || !cjkPunct(text[j:]) || !commonHan(text[j+3:]) {
					break
				}
				tokens += 2
				j += 6
			}
			i = j
			continue
		}
		for j < len(text) && text[j] < utf8.RuneSelf && int(table[text[j]]) == class {
			j++
		}
		if j > i {
			run += j - i
			single = false
			i = j
		}
	}
	tokens += runTokens(class, run, single, classNone)
	if tokens == 0 && text != "" {
		tokens = 1
	}
	return tokens, blank, -1
}

package chatring

import (
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
	tokens := 0
	class, run, single := classNone, 0, false // the current run; single: one space or punct
	for i := 0; i < len(text); {
		var c int
		var r rune
		if b := text[i]; b < utf8.RuneSelf {
			r, c = rune(b), int(asciiClass[b])
			i++
		} else {
			var n int
			r, n = utf8.DecodeRuneInString(text[i:])
			c = classify(r)
			i += n
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
		for j < len(text) && text[j] < utf8.RuneSelf && int(asciiClass[text[j]]) == class {
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
	return tokens
}

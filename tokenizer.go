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
// French prose, Go code, JSON, Chinese, single letters and digits) it is
// within ±30% of o200k_base and cl100k_base (GPT-4o, GPT-4), and it leans
// towards over-counting, which keeps a Window within a model's real limit.
// Chinese is counted at one token per character: exact for cl100k_base,
// about 1.5× too many for o200k_base. TestApproxAgainstBPE in that module
// measures it. Use it when budgets have headroom; use the BPE tokenizer
// when they are tight.
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

func classify(r rune) int {
	switch {
	case r < utf8.RuneSelf:
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
			return classLetter
		case '0' <= r && r <= '9':
			return classDigit
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			return classSpace
		}
		return classPunct
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

// Count estimates the number of tokens in text.
func (ApproxTokenizer) Count(text string) int {
	tokens := 0
	class, run, single := classNone, 0, false // the current run; single: one space or punct
	flush := func(next int) {
		switch class {
		case classLetter:
			tokens += (run + 5) / 6
		case classDigit:
			tokens += (run + 2) / 3
		case classIdeograph:
			tokens += run
		case classSpace:
			if !single || (next != classLetter && next != classPunct) {
				tokens++
			}
		case classPunct:
			if !(single && next == classLetter) {
				tokens += (run + 1) / 2
			}
		}
	}
	for _, r := range text {
		c := classify(r)
		if c == class && c != classIdeograph {
			run++
			single = false
			continue
		}
		flush(c)
		class, run, single = c, 1, r == ' ' || c == classPunct
	}
	flush(classNone)
	if tokens == 0 && text != "" {
		tokens = 1
	}
	return tokens
}

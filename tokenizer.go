package chatring

import "unicode/utf8"

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
// vocabulary, one pass over the bytes and no allocation. It counts one
// token per 4 bytes of ASCII (rounded up, per run of ASCII) plus one token
// per non-ASCII character, and at least 1 for non-empty text.
//
// How approximate: against the o200k_base and cl100k_base BPE encodings
// (GPT-4o, GPT-4), it is within about ±30% on English prose and code, and
// over-counts CJK text by up to about 1.5× on o200k_base (which encodes
// common Chinese characters at about 0.7 tokens each); it under-counts text
// made of many one- or two-letter words, digits or punctuation. The test
// TestApproxAgainstBPE in the tiktoken module measures it. Use it when
// budgets have headroom; use the BPE tokenizer when they are tight.
type ApproxTokenizer struct{}

// Count estimates the number of tokens in text.
func (ApproxTokenizer) Count(text string) int {
	n, ascii := 0, 0
	for i := 0; i < len(text); {
		if text[i] < utf8.RuneSelf {
			ascii++
			i++
			continue
		}
		n += (ascii + 3) / 4
		ascii = 0
		_, size := utf8.DecodeRuneInString(text[i:])
		i += size
		n++
	}
	n += (ascii + 3) / 4
	return n
}

// Package tiktoken counts tokens exactly as OpenAI models do, with the
// byte-pair encodings of github.com/tiktoken-go/tokenizer, whose
// vocabularies are compiled into the binary: it works offline, with no
// download at run time.
//
// It lives in its own module so that the core module does not carry the
// vocabularies (about 16 MB of Go source, several MB in a binary) unless a
// program asks for them:
//
//	tok, err := tiktoken.New(tiktoken.O200kBase)
//	h, err := chatring.New(cfg, chatring.WithTokenizer(tok))
package tiktoken

import (
	"fmt"

	"github.com/chatring/chatring"
	"github.com/tiktoken-go/tokenizer"
)

// Encoding names accepted by New.
const (
	// O200kBase is the encoding of GPT-4o, GPT-4.1, GPT-5, o1, o3 and
	// o4-mini.
	O200kBase = "o200k_base"
	// Cl100kBase is the encoding of GPT-4, GPT-3.5-turbo and
	// text-embedding-ada-002.
	Cl100kBase = "cl100k_base"
	// P50kBase is the encoding of Codex and text-davinci-002/003.
	P50kBase = "p50k_base"
	// P50kEdit is the encoding of text-davinci-edit-001.
	P50kEdit = "p50k_edit"
	// R50kBase is the encoding of GPT-3 (davinci, curie, babbage, ada).
	R50kBase = "r50k_base"
)

// Tokenizer counts tokens with one BPE encoding. It implements
// chatring.Tokenizer and is safe for concurrent use: the vocabulary is
// read-only after New, and the codec's regular expression is safe for
// concurrent matching.
type Tokenizer struct {
	codec tokenizer.Codec // never reconfigured after New
}

var _ chatring.Tokenizer = (*Tokenizer)(nil)

// New returns a Tokenizer for the named encoding (O200kBase, Cl100kBase,
// ...). Building one costs tens of milliseconds and some megabytes (the
// vocabulary's maps): create it once and share it between histories.
func New(encoding string) (*Tokenizer, error) {
	c, err := tokenizer.Get(tokenizer.Encoding(encoding))
	if err != nil {
		return nil, fmt.Errorf("tiktoken: encoding %q: %w", encoding, err)
	}
	return &Tokenizer{codec: c}, nil
}

// ForModel returns a Tokenizer for the encoding of the named OpenAI model,
// such as "gpt-4o" or "gpt-4" (model names with a known prefix, like
// "gpt-4o-2024-08-06", work too).
func ForModel(model string) (*Tokenizer, error) {
	c, err := tokenizer.ForModel(tokenizer.Model(model))
	if err != nil {
		return nil, fmt.Errorf("tiktoken: model %q: %w", model, err)
	}
	return &Tokenizer{codec: c}, nil
}

// Encoding returns the name of t's encoding, e.g. "o200k_base".
func (t *Tokenizer) Encoding() string { return t.codec.GetName() }

// Count returns the number of tokens in text, as the encoding splits it.
// Special tokens such as <|endoftext|> in text are counted as ordinary
// text. The codec fails only on input it cannot match, which content
// validated by chatring (valid UTF-8) never is; should it fail anyway,
// Count falls back to chatring.ApproxTokenizer rather than report 0.
func (t *Tokenizer) Count(text string) int {
	n, err := t.codec.Count(text)
	if err != nil {
		return chatring.ApproxTokenizer{}.Count(text)
	}
	return n
}

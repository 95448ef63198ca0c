package tiktoken_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/tokenizer/tiktoken"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func mustNew(t testing.TB, encoding string) *tiktoken.Tokenizer {
	t.Helper()
	tok, err := tiktoken.New(encoding)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestCountKnownValues(t *testing.T) {
	tests := []struct {
		encoding, text string
		want           int
	}{
		// From the tiktoken README: [83, 1609, 5963, 374, 2294, 0].
		{tiktoken.Cl100kBase, "tiktoken is great!", 6},
		{tiktoken.Cl100kBase, "hello world", 2},
		{tiktoken.O200kBase, "hello world", 2},
		{tiktoken.O200kBase, "", 0},
		// Special tokens in content are ordinary text, never control tokens.
		{tiktoken.Cl100kBase, "<|endoftext|>", 7},
	}
	for _, tt := range tests {
		if got := mustNew(t, tt.encoding).Count(tt.text); got != tt.want {
			t.Errorf("%s Count(%q) = %d, want %d", tt.encoding, tt.text, got, tt.want)
		}
	}
}

func TestNewAndForModel(t *testing.T) {
	for _, enc := range []string{tiktoken.O200kBase, tiktoken.Cl100kBase, tiktoken.P50kBase, tiktoken.P50kEdit, tiktoken.R50kBase} {
		if got := mustNew(t, enc).Encoding(); got != enc {
			t.Errorf("New(%q).Encoding() = %q", enc, got)
		}
	}
	if _, err := tiktoken.New("o300k_base"); err == nil {
		t.Error("New of an unknown encoding succeeded")
	}
	for model, want := range map[string]string{
		"gpt-4o": tiktoken.O200kBase, "gpt-4o-2024-08-06": tiktoken.O200kBase,
		"gpt-4": tiktoken.Cl100kBase, "gpt-3.5-turbo": tiktoken.Cl100kBase,
	} {
		tok, err := tiktoken.ForModel(model)
		if err != nil || tok.Encoding() != want {
			t.Errorf("ForModel(%q) = %v, %v; want %s", model, tok, err, want)
		}
	}
	if _, err := tiktoken.ForModel("llama-3"); err == nil {
		t.Error("ForModel of an unknown model succeeded")
	}
}

// samples are the texts ApproxTokenizer's documentation is measured on.
var samples = map[string]string{
	"english": "The quick brown fox jumps over the lazy dog. A ring buffer keeps the most recent values pushed into it, evicting the oldest when it is full. This makes memory use bounded by construction, which matters for long-running chat services.",
	"french":  "Le système garde les messages les plus récents de la conversation, et rejette ceux qui sont invalides.",
	"code":    "func (r *Ring[T]) Push(v T) uint64 {\n\tr.mu.Lock()\n\tr.buf[r.next] = v\n\tr.next++\n\tif r.next == len(r.buf) {\n\t\tr.next = 0\n\t}\n\tr.seq++\n\treturn r.seq\n}",
	"json":    `{"backend": "sharded", "max_turns": 5, "max_tokens": 2048, "max_message_bytes": 1024, "shards": 4}`,
	"short":   "a b c d e f g h i j 1 2 3 4 5 ! ? , .",
	"chinese": "线程安全的对话管理器需要在多个线程同时添加消息时保持一致性。使用可重入锁可以避免竞争条件，但也会降低并发性能。",
}

// TestApproxAgainstBPE measures chatring.ApproxTokenizer against the real
// encodings and holds it to the accuracy its documentation claims.
func TestApproxAgainstBPE(t *testing.T) {
	for _, enc := range []string{tiktoken.O200kBase, tiktoken.Cl100kBase} {
		tok := mustNew(t, enc)
		for name, text := range samples {
			exact, approx := tok.Count(text), chatring.ApproxTokenizer{}.Count(text)
			ratio := float64(approx) / float64(exact)
			t.Logf("%-11s %-7s exact %3d approx %3d ratio %.2f", enc, name, exact, approx, ratio)
			lo, hi := 0.7, 1.3
			if name == "chinese" && enc == tiktoken.O200kBase {
				hi = 1.6 // documented: o200k_base packs common Han characters
			}
			if ratio < lo || ratio > hi {
				t.Errorf("%s %s: approx/exact = %d/%d = %.2f, documented within [%.1f, %.1f]",
					enc, name, approx, exact, ratio, lo, hi)
			}
		}
	}
}

// TestWithHistory shares one Tokenizer between goroutines appending to a
// History, under the race detector, and checks the cached counts.
func TestWithHistory(t *testing.T) {
	tok := mustNew(t, tiktoken.O200kBase)
	for _, backend := range chatring.Backends() {
		h, err := chatring.New(chatring.Config{Backend: backend, MaxTurns: 50}, chatring.WithTokenizer(tok))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 20 {
					text := fmt.Sprintf("%s #%d.%d", samples["english"], w, i)
					m, err := h.Append(t.Context(), chatring.Message{Role: chatring.User, Content: text})
					if err != nil {
						t.Error(err)
						return
					}
					if want := tok.Count(text); m.Tokens != want {
						t.Errorf("Tokens = %d, want %d", m.Tokens, want)
					}
				}
			})
		}
		wg.Wait()
		if s := h.Stats(); s.Appended != 80 || s.WindowTokens <= 0 {
			t.Errorf("%s: Stats = %+v", backend, s)
		}
	}
}

func Example() {
	tok, err := tiktoken.New(tiktoken.O200kBase)
	if err != nil {
		log.Fatal(err)
	}
	h, err := chatring.New(chatring.Config{MaxTokens: 8000}, chatring.WithTokenizer(tok))
	if err != nil {
		log.Fatal(err)
	}
	m, _ := h.Append(context.Background(), chatring.Message{Role: chatring.User, Content: "hello world"})
	fmt.Println(m.Tokens)
	// Output: 2
}

package chatring_test

import (
	"strings"
	"testing"

	"github.com/chatring/chatring"
)

func TestApproxTokenizer(t *testing.T) {
	tests := []struct {
		text string
		want int
	}{
		{"", 0},
		{"a", 1},
		{" ", 1},
		{"hello world", 2},          // "hello", " world"
		{"hello, world!", 4},        // "hello", ",", " world", "!"
		{"internationalization", 4}, // 20 letters, one token per 6
		{"1234567", 3},              // digits in threes
		{"你好", 2},                   // one per Han character
		{"café", 1},                 // accented letters are letters
		{"a\n\n\tb", 3},             // a white-space run that is not one space
		{"r.next++", 3},             // ".next" glued, "++"
		{"\U0001F642\U0001F642", 1}, // a symbol run, two per token
	}
	for _, tt := range tests {
		if got := (chatring.ApproxTokenizer{}).Count(tt.text); got != tt.want {
			t.Errorf("Count(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
	text := "The pinned system prompt is never evicted. 系统提示永远不会被移除。"
	if n := testing.AllocsPerRun(100, func() { chatring.ApproxTokenizer{}.Count(text) }); n != 0 {
		t.Errorf("Count allocates %.0f times per call, want 0", n)
	}
}

// tokenizerTexts are typical message contents for BenchmarkApproxTokenizer:
// chat prose, code, Chinese, and the 64-byte message of the bench workloads.
var tokenizerTexts = []struct{ name, text string }{
	{"prose", "Sure! The window keeps the last ten turns; older ones are evicted, so summarize them first if you need them later."},
	{"code", "func (r *Ring[T]) Push(v T) uint64 {\n\tr.mu.Lock()\n\tr.buf[r.next] = v\n\tr.mu.Unlock()\n}"},
	{"chinese", "系统提示永远不会被移除，历史记录只保留最近的十轮对话。"},
	{"workload", "user 7: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
	// Long enough for the block pass (64 bytes at a time); the second
	// opens with an em dash, which the pass does not handle.
	{"prose2k", strings.Repeat("Sure! The window keeps the last ten turns; older ones are evicted, so summarize them first if you need them later. ", 18)},
	{"prose2k-dash", "Sure \u2014 " + strings.Repeat("The window keeps the last ten turns; older ones are evicted, so summarize them first if you need them later. ", 18)},
}

func BenchmarkApproxTokenizer(b *testing.B) {
	for _, tt := range tokenizerTexts {
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(int64(len(tt.text)))
			for b.Loop() {
				chatring.ApproxTokenizer{}.Count(tt.text)
			}
		})
	}
}

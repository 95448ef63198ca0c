package peers

import (
	"context"
	"sync"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/bench/internal/workload"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/memory"
)

// LangchainWindow is langchaingo's ConversationWindowBuffer — the last
// window-size turns of a conversation — guarded by a mutex, because its
// default in-memory ChatMessageHistory is a plain slice that is not safe for
// concurrent use.
//
// langchaingo saves a whole turn at once (SaveContext with the user's input
// and the model's output), so Push queues a user message and saves it with
// the next assistant message: one SaveContext per two pushes, which is how a
// langchaingo program records a conversation. An assistant message with no
// user message queued is saved with an empty input.
type LangchainWindow struct {
	mu sync.Mutex
	// These fields are guarded by mu.
	wb      *memory.ConversationWindowBuffer
	pending []string // user messages waiting for their answer
	max     int      // capacity in messages
	in, out map[string]any
}

// NewLangchainWindow returns an empty window of capacity messages
// (capacity/2 turns, at least one).
func NewLangchainWindow(capacity int) *LangchainWindow {
	return &LangchainWindow{
		wb:  memory.NewConversationWindowBuffer(max(capacity/2, 1), memory.WithReturnMessages(true)),
		max: capacity,
		in:  map[string]any{"input": ""},
		out: map[string]any{"output": ""},
	}
}

// Push records m: a user message is queued, an assistant message saves a
// turn.
func (l *LangchainWindow) Push(m workload.Msg) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m.Role == chatring.User {
		if len(l.pending) == l.max {
			l.pending = append(l.pending[:0], l.pending[1:]...)
		}
		l.pending = append(l.pending, m.Content)
		return 0
	}
	input := ""
	if len(l.pending) > 0 {
		input = l.pending[0]
		l.pending = append(l.pending[:0], l.pending[1:]...)
	}
	// SaveContext reads only the values; reusing the maps spares the
	// adapter two allocations per turn that langchaingo does not need.
	l.in["input"] = input
	l.out["output"] = m.Content
	if err := l.wb.SaveContext(context.Background(), l.in, l.out); err != nil {
		panic("peers: langchaingo SaveContext: " + err.Error())
	}
	return 0
}

// Snapshot appends the window, oldest first, to dst, through
// LoadMemoryVariables as a langchaingo chain reads it.
func (l *LangchainWindow) Snapshot(dst []workload.Msg) ([]workload.Msg, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	vars, err := l.wb.LoadMemoryVariables(context.Background(), nil)
	if err != nil {
		panic("peers: langchaingo LoadMemoryVariables: " + err.Error())
	}
	msgs, _ := vars[l.wb.MemoryKey].([]llms.ChatMessage)
	for _, m := range msgs {
		role := chatring.User
		if m.GetType() == llms.ChatMessageTypeAI {
			role = chatring.Assistant
		}
		dst = append(dst, workload.Msg{Role: role, Content: m.GetContent()})
	}
	return dst, 0
}

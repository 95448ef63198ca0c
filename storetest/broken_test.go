package storetest_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/internal/mutant"
	"github.com/chatring/chatring/storetest"
)

// The suite is only worth something if it fails on wrong stores. Each
// broken store below wraps a MemoryStore and has one defect that a real
// store could plausibly have; TestSuiteCatchesBrokenStores runs the suite
// against each in a child process and asserts that the expected cases
// fail.

// losesAppends acknowledges every 7th Append without storing it, with the
// Seq the message would have had: a write lost after its reply was sent.
type losesAppends struct {
	*chatring.MemoryStore
	n atomic.Int64
}

func (s *losesAppends) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	if err := chatring.ValidateMessage(m, s.Config()); err != nil || s.n.Add(1)%7 != 0 {
		return s.MemoryStore.Append(ctx, conv, m)
	}
	win, err := s.Messages(ctx, conv, nil)
	if err != nil {
		return chatring.Message{}, err
	}
	m.Seq = 1
	if len(win) > 0 {
		m.Seq = win[len(win)-1].Seq + 1
	}
	return m, nil
}

// ignoresIDs drops Message.ID before storing: a retried Append is stored
// twice.
type ignoresIDs struct{ *chatring.MemoryStore }

func (s ignoresIDs) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	m.ID = ""
	return s.MemoryStore.Append(ctx, conv, m)
}

// leaksConversations keys conversations by their ID trimmed of spaces and
// cut to 32 bytes, as a store that builds fixed-size keys might: distinct
// IDs share one conversation.
type leaksConversations struct{ *chatring.MemoryStore }

func key(conv string) string {
	if k := strings.TrimSpace(conv); k != "" {
		conv = k
	}
	if len(conv) > 32 {
		conv = conv[:32]
	}
	return conv
}

func (s leaksConversations) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	if err := chatring.ValidateConversation(conv); err != nil {
		return chatring.Message{}, err
	}
	return s.MemoryStore.Append(ctx, key(conv), m)
}

func (s leaksConversations) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	if err := chatring.ValidateConversation(conv); err != nil {
		return dst, err
	}
	return s.MemoryStore.Messages(ctx, key(conv), dst)
}

func (s leaksConversations) Window(ctx context.Context, conv string, maxTokens int) ([]chatring.Message, error) {
	if err := chatring.ValidateConversation(conv); err != nil {
		return nil, err
	}
	return s.MemoryStore.Window(ctx, key(conv), maxTokens)
}

func (s leaksConversations) SetSystemPrompt(ctx context.Context, conv, prompt string) error {
	if err := chatring.ValidateConversation(conv); err != nil {
		return err
	}
	return s.MemoryStore.SetSystemPrompt(ctx, key(conv), prompt)
}

func (s leaksConversations) Clear(ctx context.Context, conv string) error {
	if err := chatring.ValidateConversation(conv); err != nil {
		return err
	}
	return s.MemoryStore.Clear(ctx, key(conv))
}

func (s leaksConversations) Delete(ctx context.Context, conv string) error {
	if err := chatring.ValidateConversation(conv); err != nil {
		return err
	}
	return s.MemoryStore.Delete(ctx, key(conv))
}

// splitsExchanges builds Window itself from Messages with the budget and
// orphaned-reply rules but without the tool-exchange rules, as a store
// written before tool calls might: its windows can hold a call without
// its results, or results without their call.
type splitsExchanges struct{ *chatring.MemoryStore }

func (s splitsExchanges) Window(ctx context.Context, conv string, maxTokens int) ([]chatring.Message, error) {
	all, err := s.MemoryStore.Window(ctx, conv, math.MaxInt32)
	if err != nil || maxTokens < 0 {
		return s.MemoryStore.Window(ctx, conv, maxTokens)
	}
	if maxTokens == 0 {
		maxTokens = s.Config().MaxTokens
	}
	var out []chatring.Message
	if len(all) > 0 && all[0].Seq == 0 { // the pinned prompt
		if all[0].Tokens > maxTokens {
			return s.MemoryStore.Window(ctx, conv, maxTokens) // ErrBudgetTooSmall
		}
		out, maxTokens = all[:1], maxTokens-all[0].Tokens
	}
	win, err := s.Messages(ctx, conv, nil)
	if err != nil {
		return nil, err
	}
	start := len(win)
	for start > 0 && win[start-1].Tokens <= maxTokens {
		maxTokens -= win[start-1].Tokens
		start--
	}
	for start < len(win) && win[start].Seq > 1 && (win[start].Role == chatring.Assistant || win[start].Role == chatring.Tool) {
		start++
	}
	return append(out, win[start:]...), nil
}

var brokenStores = map[string]struct {
	wrap func(*chatring.MemoryStore) chatring.Store
	// cases that must fail.
	cases []string
}{
	"losesAppends": {
		func(s *chatring.MemoryStore) chatring.Store { return &losesAppends{MemoryStore: s} },
		[]string{"Sequence", "Hammer", "Linearizable"},
	},
	"ignoresIDs": {
		func(s *chatring.MemoryStore) chatring.Store { return ignoresIDs{s} },
		[]string{"Idempotency", "ConcurrentIdempotency", "Hammer"},
	},
	"splitsExchanges": {
		func(s *chatring.MemoryStore) chatring.Store { return splitsExchanges{s} },
		[]string{"Window", "WindowRandom"},
	},
	"keepsToolCalls": {
		func(s *chatring.MemoryStore) chatring.Store {
			return &keepsToolCalls{MemoryStore: s, calls: map[string][]chatring.ToolCall{}}
		},
		[]string{"CallerOwnsToolCalls"},
	},
	"contentTokensOnly": {
		func(s *chatring.MemoryStore) chatring.Store { return contentTokensOnly{s} },
		[]string{"ToolTokens"},
	},
	"leaksConversations": {
		func(s *chatring.MemoryStore) chatring.Store { return leaksConversations{s} },
		[]string{"Isolation"},
	},
}

// keepsToolCalls reads back the caller's ToolCalls slice for every
// message it was given one with, as a store that keeps the caller's slice
// instead of a copy would: a caller that reuses the slice rewrites stored
// history.
type keepsToolCalls struct {
	*chatring.MemoryStore
	mu    sync.Mutex
	calls map[string][]chatring.ToolCall // by conversation and Seq
}

func callsKey(conv string, seq uint64) string { return fmt.Sprintf("%d/%s", seq, conv) }

func (s *keepsToolCalls) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	stored, err := s.MemoryStore.Append(ctx, conv, m)
	if err == nil && len(m.ToolCalls) > 0 {
		s.mu.Lock()
		s.calls[callsKey(conv, stored.Seq)] = m.ToolCalls
		s.mu.Unlock()
	}
	return stored, err
}

func (s *keepsToolCalls) kept(conv string, msgs []chatring.Message) []chatring.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range msgs {
		if c, ok := s.calls[callsKey(conv, msgs[i].Seq)]; ok {
			msgs[i].ToolCalls = c
		}
	}
	return msgs
}

func (s *keepsToolCalls) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	n := len(dst)
	out, err := s.MemoryStore.Messages(ctx, conv, dst)
	if err == nil {
		s.kept(conv, out[n:])
	}
	return out, err
}

func (s *keepsToolCalls) Window(ctx context.Context, conv string, maxTokens int) ([]chatring.Message, error) {
	out, err := s.MemoryStore.Window(ctx, conv, maxTokens)
	if err == nil {
		s.kept(conv, out)
	}
	return out, err
}

// contentTokensOnly counts only the content into Message.Tokens, as
// redisstore and resilient's outbox once did: a message with tool calls
// then costs fewer tokens than the same message in a History.
type contentTokensOnly struct{ *chatring.MemoryStore }

func contentTokens(m chatring.Message) chatring.Message {
	m.Tokens = chatring.ApproxTokenizer{}.Count(m.Content)
	return m
}

func (s contentTokensOnly) Append(ctx context.Context, conv string, m chatring.Message) (chatring.Message, error) {
	stored, err := s.MemoryStore.Append(ctx, conv, m)
	return contentTokens(stored), err
}

func (s contentTokensOnly) Messages(ctx context.Context, conv string, dst []chatring.Message) ([]chatring.Message, error) {
	n := len(dst)
	out, err := s.MemoryStore.Messages(ctx, conv, dst)
	for i := n; i < len(out); i++ {
		out[i] = contentTokens(out[i])
	}
	return out, err
}

const brokenEnv = "STORETEST_BROKEN"

// TestBrokenStore is the child process of TestSuiteCatchesBrokenStores: it
// runs the suite against the broken store named in $STORETEST_BROKEN. Run
// directly, without that variable, it has nothing to do.
func TestBrokenStore(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		return
	}
	storetest.Run(t, func(t *testing.T, cfg chatring.Config) chatring.Store {
		s, err := chatring.NewMemoryStore(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return brokenStores[name].wrap(s)
	})
}

func TestSuiteCatchesBrokenStores(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes; skipped with -short")
	}
	for name, bs := range brokenStores {
		t.Run(name, func(t *testing.T) {
			mutant.Caught(t, "TestBrokenStore", brokenEnv+"="+name, bs.cases, []string{"-storetest.histories=40", "-storetest.hammer=300",
				"-rapid.nofailfile"}) // the failures are expected: keep no files of them
		})
	}
}

// TestSuitePassesMemoryStore runs the suite once here too, so that the
// suite's own package shows that a correct store passes it.
func TestSuitePassesMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg chatring.Config) chatring.Store {
		s, err := chatring.NewMemoryStore(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

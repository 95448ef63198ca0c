// Package storetest is the conformance suite for implementations of
// [chatring.Store]: one call runs every rule of the Store contract as a
// named subtest on a fresh store, as ringbuf/ringtest does for rings.
//
// A store's test is a few lines:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, cfg chatring.Config) chatring.Store {
//			s, err := mystore.New(cfg)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite closes every store it makes (Close with a 10-second deadline),
// so newStore need not; a store that holds other resources (a server, a
// client) releases them with t.Cleanup. newStore must honour cfg's
// MaxTurns, MaxTokens, MaxMessageBytes and IdleTTL; the suite sets
// MaxConversations far above what it uses, and Backend to each ring in
// turn where that matters (see Backends).
//
// Run it under the race detector (go test -race).
//
// What the suite checks, per conversation unless said otherwise:
//   - Sequence: Seq 1, 2, 3, ... with Time and Tokens set, the window the
//     newest 2 × MaxTurns messages, contiguous in Seq; dst is appended to.
//   - Window: budgets, the pinned prompt first, no orphaned reply at the
//     start, whole tool exchanges but the one in flight, ErrBudgetTooSmall,
//     against a reference implementation of the rules in this package.
//   - WindowRandom: random steps (tool exchanges done right and wrong,
//     Clear, prompts, eviction) with a random Window after each, against
//     the reference and [CheckExchanges]; a pgregory.net/rapid property,
//     so -rapid.checks sets how many runs.
//   - Clear: the window empties, Seq continues, the prompt stays.
//   - Validation: every bad message, prompt and budget is rejected with its
//     sentinel error and a *chatring.ValidationError, and changes nothing
//     (a rejected first message creates no conversation).
//   - Conversations: invalid IDs (empty, too long, invalid UTF-8, control
//     characters) are ErrInvalidConversation for every method; hostile
//     valid IDs (braces, colons, '*', spaces, non-ASCII, prefixes of each
//     other, key-like strings, 256 bytes) are isolated from each other.
//   - Idempotency: a retried ID returns the stored message; an ID whose
//     message was cleared or evicted is either still recognised (its Seq,
//     with the message as sent or as stored, nothing stored) or stored
//     anew; after Delete it is stored anew; IDs belong to their
//     conversation (no key built from conversation and ID collides);
//     concurrent Appends with one ID store it once and all return the same
//     Seq.
//   - CallerOwnsToolCalls: Append keeps no reference to the caller's
//     ToolCalls: changing or reusing the slice after Append returns changes
//     nothing Messages and Window return.
//   - ToolTokens: Message.Tokens counts the tool fields (each call's ID,
//     Name and Arguments, and ToolCallID) as well as the content, one
//     Count per string, with whatever Tokenizer the store has; Messages
//     returns the counts Append did.
//   - Delete: the conversation is gone, a later Append starts at Seq 1 and
//     nothing of the old conversation (messages, prompt) comes back.
//   - Close: writes fail with ErrClosed after Close; writes racing with
//     Close either succeed (and are stored) or fail with ErrClosed, and
//     what reads return when Close has returned is final.
//   - IdleTTL: a conversation neither written nor read for the TTL is gone;
//     one accessed by any of Append (a retry of a stored ID too),
//     Messages, Window, SetSystemPrompt and Clear keeps living.
//   - Hammer: writers and readers over many conversations at once; every
//     window contiguous, holding what Append returned for each Seq, never
//     another conversation's message, and no acknowledged append missing.
//   - Linearizable: concurrent histories over several conversations of
//     tiny windows, recorded with a logical clock and checked per
//     conversation by github.com/anishathalye/porcupine. Clear is
//     History.Clear's: it must clear every message appended before it was
//     called, and may leave one appended concurrently.
//
// Flags scale the concurrent cases: -storetest.histories (porcupine
// histories, default 100), -storetest.hammer (appends per writer, default
// 1000) and -storetest.timeout (the watchdog, default 3m).
package storetest

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/internal/watchdog"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	histories = flag.Int("storetest.histories", 100, "porcupine histories checked per store")
	hammerOps = flag.Int("storetest.hammer", 1000, "appends per writer in the hammer test")
	hangAfter = flag.Duration("storetest.timeout", 3*time.Minute, "a subtest running longer than this is reported as hung")
)

// NewStore returns a new store configured by cfg. Stores returned for
// different calls may share a backing service, as long as conversations
// created by one are not visible to the others (the suite uses different
// conversation IDs in every case anyway, but a store that starts empty
// makes failures easier to read).
type NewStore func(t *testing.T, cfg chatring.Config) chatring.Store

// Run runs the conformance suite against the stores newStore makes. Every
// case is a subtest of t on a fresh store.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(*testing.T, NewStore)
	}{
		{"Sequence", testSequence},
		{"Window", testWindow},
		{"WindowRandom", testWindowRandom},
		{"Clear", testClear},
		{"SystemPrompt", testSystemPrompt},
		{"Validation", testValidation},
		{"Canceled", testCanceled},
		{"InvalidConversations", testInvalidConversations},
		{"Isolation", testIsolation},
		{"UnknownConversation", testUnknownConversation},
		{"Idempotency", testIdempotency},
		{"CallerOwnsToolCalls", testCallerOwnsToolCalls},
		{"ToolTokens", testToolTokens},
		{"ConcurrentIdempotency", testConcurrentIdempotency},
		{"Delete", testDelete},
		{"Close", testClose},
		{"CloseRacesWrites", testCloseRacesWrites},
		{"IdleTTL", testIdleTTL},
		{"Hammer", testHammer},
		{"Linearizable", testLinearizable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stop := watchdog.Start("storetest", t.Name(), *hangAfter)
			defer stop()
			c.fn(t, newStore)
		})
	}
}

// open returns a fresh store for cfg that is closed when the test ends.
func open(t *testing.T, newStore NewStore, cfg chatring.Config) chatring.Store {
	t.Helper()
	if cfg.MaxConversations == 0 {
		cfg.MaxConversations = 1_000_000
	}
	s := newStore(t, cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// equateEmpty makes cmp.Diff treat a nil and an empty window as equal.
var equateEmpty = cmpopts.EquateEmpty()

// brief renders messages as "seq:role:content" for readable diffs, with
// an assistant's call IDs after "->" and a tool message's call ID in
// parentheses after its role.
func brief(msgs []chatring.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		role := string(m.Role)
		if m.ToolCallID != "" {
			role += "(" + m.ToolCallID + ")"
		}
		out[i] = fmt.Sprintf("%d:%s:%s", m.Seq, role, m.Content)
		for j, c := range m.ToolCalls {
			out[i] += map[bool]string{true: "->", false: ","}[j == 0] + c.ID
		}
	}
	return out
}

// mustAppend appends a message or fails the test.
func mustAppend(t testing.TB, s chatring.Store, conv string, role chatring.Role, content string) chatring.Message {
	t.Helper()
	m, err := s.Append(context.Background(), conv, chatring.Message{Role: role, Content: content})
	if err != nil {
		t.Fatalf("Append(%q, %s, %q): %v", conv, role, content, err)
	}
	return m
}

// messages returns conv's window or fails the test.
func messages(t testing.TB, s chatring.Store, conv string) []chatring.Message {
	t.Helper()
	msgs, err := s.Messages(context.Background(), conv, nil)
	if err != nil {
		t.Fatalf("Messages(%q): %v", conv, err)
	}
	return msgs
}

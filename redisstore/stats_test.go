package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/google/go-cmp/cmp"
)

// TestStats checks that Stats counts what the store did: messages stored
// by role with their bytes and tokens, appends deduplicated by ID (one
// Append and one AppendBatch), and writes rejected before anything was
// sent, under chatring's reasons; reads count nothing.
func TestStats(t *testing.T) {
	client, _ := singleNode(t)
	s := newStore(t, client, chatring.Config{MaxTurns: 2})
	ctx := context.Background()
	if diff := cmp.Diff(redisstore.Stats{
		ByRole:           map[chatring.Role]uint64{"system": 0, "user": 0, "assistant": 0, "tool": 0},
		RejectedByReason: map[string]uint64{},
		Capacity:         4,
	}, s.Stats()); diff != "" {
		t.Fatalf("Stats of a new store (-want +got):\n%s", diff)
	}

	var wantBytes, wantTokens uint64
	for _, m := range []chatring.Message{
		{Role: chatring.User, Content: "hello", ID: "u1"},
		{Role: chatring.Assistant, Content: "hi there", Name: "bot"},
		{Role: chatring.User, Content: "again"},
	} {
		got, err := s.Append(ctx, "c", m)
		if err != nil {
			t.Fatal(err)
		}
		wantBytes += uint64(got.Size())
		wantTokens += uint64(got.Tokens)
	}
	// The same ID again: Redis stores nothing.
	if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "hello", ID: "u1"}); err != nil {
		t.Fatal(err)
	}
	// A batch of one new message, one duplicate, then an invalid one:
	// the first two are sent, the third is rejected.
	out, err := s.AppendBatch(ctx, "c", []chatring.Message{
		{Role: chatring.Tool, Content: "42", ToolCallID: "call1"},
		{Role: chatring.User, Content: "hello", ID: "u1"},
		{Role: chatring.User, Content: ""},
	})
	if len(out) != 2 || !errors.Is(err, chatring.ErrEmptyContent) {
		t.Fatalf("AppendBatch = %d messages, %v; want 2 and ErrEmptyContent", len(out), err)
	}
	wantBytes += uint64(out[0].Size())
	wantTokens += uint64(out[0].Tokens)

	// Rejections, none of which reaches Redis.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, call := range []func() error{
		func() error { _, err := s.Append(ctx, "c", chatring.Message{Role: "robot", Content: "x"}); return err },
		func() error { _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User}); return err },
		func() error {
			_, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: strings.Repeat("x", 1<<20)})
			return err
		},
		func() error {
			_, err := s.Append(ctx, "", chatring.Message{Role: chatring.User, Content: "x"})
			return err
		},
		func() error { return s.Clear(canceled, "c") },
		func() error { return s.SetSystemPrompt(ctx, "c", "bad\x00prompt") },
	} {
		if err := call(); err == nil {
			t.Fatal("a call that should be rejected succeeded")
		}
	}
	// Reads are not writes: neither their success nor their rejection counts.
	messagesOf(t, s, "c")
	if _, err := s.Messages(ctx, "", nil); err == nil {
		t.Fatal("Messages with an empty conversation ID succeeded")
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "c"); err == nil {
		t.Fatal("Delete after Close succeeded")
	}

	want := redisstore.Stats{
		Appended:     4,
		ByRole:       map[chatring.Role]uint64{"system": 0, "user": 2, "assistant": 1, "tool": 1},
		Deduplicated: 2,
		Rejected:     8,
		RejectedByReason: map[string]uint64{
			"empty_content": 2, "invalid_role": 1, "message_too_large": 1, "invalid_conversation": 1,
			"canceled": 1, "invalid_content": 1, "closed": 1,
		},
		AppendedBytes:  wantBytes,
		AppendedTokens: wantTokens,
		Capacity:       4,
		Closed:         true,
	}
	if diff := cmp.Diff(want, s.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

// TestStatsConcurrent appends from several goroutines while another
// reads Stats: every counter is monotonic from one read to the next, and
// at the end the counts are exact. Run it under -race.
func TestStatsConcurrent(t *testing.T) {
	client, _ := singleNode(t)
	s := newStore(t, client, chatring.Config{MaxTurns: 5})
	const writers, each = 4, 50
	ctx := context.Background()
	done := make(chan struct{})
	var readerErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		prev := s.Stats()
		for {
			select {
			case <-done:
				return
			default:
			}
			cur := s.Stats()
			if cur.Appended < prev.Appended || cur.Deduplicated < prev.Deduplicated ||
				cur.Rejected < prev.Rejected || cur.AppendedBytes < prev.AppendedBytes ||
				cur.AppendedTokens < prev.AppendedTokens || cur.ByRole[chatring.User] < prev.ByRole[chatring.User] ||
				cur.RejectedByReason["empty_content"] < prev.RejectedByReason["empty_content"] {
				readerErr = fmt.Errorf("Stats went back: %+v after %+v", cur, prev)
				return
			}
			prev = cur
		}
	})
	var writersWG sync.WaitGroup
	for w := range writers {
		writersWG.Go(func() {
			conv := string(rune('a' + w))
			for i := range each {
				if _, err := s.Append(ctx, conv, chatring.Message{Role: chatring.User, Content: "m", ID: "id" + string(rune('0'+i%5))}); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Append(ctx, conv, chatring.Message{Role: chatring.User}); err == nil {
					t.Error("empty message accepted")
					return
				}
			}
		})
	}
	writersWG.Wait()
	close(done)
	wg.Wait()
	if readerErr != nil {
		t.Fatal(readerErr)
	}
	// Each writer's conversation keeps 10 messages, so each of the 5 IDs
	// it cycles through is stored once and found in the window after.
	st := s.Stats()
	if st.Appended != writers*5 || st.ByRole[chatring.User] != writers*5 || st.Deduplicated != writers*(each-5) ||
		st.RejectedByReason["empty_content"] != writers*each || st.AppendedBytes != writers*5 {
		t.Errorf("Stats = %+v; want %d appended (1 byte each), %d deduplicated, %d rejected", st, writers*5, writers*(each-5), writers*each)
	}
}

package redisstore

import (
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
)

// TestReadsKeepTokensAlive: a conversation that is read but not written
// for longer than the idle TTL stays (reads are accesses), and so must
// the idempotency of the messages in its window: the Store contract says
// an Append whose ID is in the window stores nothing, without a time
// limit.
func TestReadsKeepTokensAlive(t *testing.T) {
	ctx := t.Context()
	const ttl = 200 * time.Millisecond
	s, _ := serverStoreWith(t, chatring.Config{IdleTTL: ttl})
	m := chatring.Message{Role: chatring.User, Content: "hi", ID: "req"}
	first, err := s.Append(ctx, "c", m)
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(3 * ttl); time.Now().Before(end); time.Sleep(ttl / 8) {
		if _, err := s.Messages(ctx, "c", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Window(ctx, "c", 0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Append(ctx, "c", m)
	if err != nil || got.Seq != first.Seq {
		t.Errorf("retry of a message in the window = Seq %d, %v; want Seq %d, recognised", got.Seq, err, first.Seq)
	}
	if diff := cmp.Diff([]string{"1:hi"}, seqsOf(messagesOrFail(t, s, "c"))); diff != "" {
		t.Errorf("window (-want +got):\n%s", diff)
	}
}

// TestKeysExpireTogether: every call on a conversation sets the same
// expiry on all three of its keys (FORMAT.md, Time to live).
func TestKeysExpireTogether(t *testing.T) {
	s, client := serverStore(t)
	ctx := t.Context()
	if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "hi"}); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"Messages": func() error { _, err := s.Messages(ctx, "c", nil); return err },
		"Window":   func() error { _, err := s.Window(ctx, "c", 0); return err },
		"SetSystemPrompt": func() error {
			return s.SetSystemPrompt(ctx, "c", "be brief")
		},
	} {
		for _, k := range s.keys("c") {
			if err := client.PExpire(ctx, k, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := call(); err != nil {
			t.Fatal(err)
		}
		for _, k := range s.keys("c") {
			if ttl, err := client.PTTL(ctx, k).Result(); err != nil || ttl < s.cfg.IdleTTL-time.Minute {
				t.Errorf("after %s the TTL of %s is %v, %v; want about %v", name, k, ttl, err, s.cfg.IdleTTL)
			}
		}
	}
}

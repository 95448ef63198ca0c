package redisstore

import (
	"fmt"
	"testing"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// storeOn returns a store on client with cfg and opts, or fails the test.
func storeOn(t *testing.T, client *redis.Client, cfg chatring.Config, opts ...Option) *Store {
	t.Helper()
	s, err := New(client, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// seqsOf returns the Seq and content of msgs, as "seq:content".
func seqsOf(msgs []chatring.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = fmt.Sprintf("%d:%s", m.Seq, m.Content)
	}
	return out
}

// TestTokensOfAnExpiredConversationForgotten: ids can outlive meta and
// messages. On 05dd20d replicas with different idle TTLs did it (reads
// did not refresh ids); an eviction policy that evicts keys one at a time
// (allkeys-lru and the like) still can, and so can a replica of fa07664,
// whose Delete unlinks two keys. The conversation starts again at Seq 1,
// and its old tokens must not name the new conversation's messages: an
// Append with an ID used before is a new message, not the message that
// now happens to have the old Seq. The test deletes meta and messages by
// hand, as such an eviction would.
func TestTokensOfAnExpiredConversationForgotten(t *testing.T) {
	s, client := serverStore(t)
	ctx := t.Context()
	for i := range 5 {
		if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: fmt.Sprint("old ", i), ID: fmt.Sprint("id-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	msgs, meta, _ := s.Keys("c")
	if err := client.Del(ctx, msgs, meta).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: fmt.Sprint("new ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "again", ID: "id-2"})
	if err != nil || got.Seq != 6 || got.Content != "again" {
		t.Errorf("Append with an ID of the expired conversation = %d:%q, %v; want a new message at Seq 6", got.Seq, got.Content, err)
	}
	want := []string{"1:new 0", "2:new 1", "3:new 2", "4:new 3", "5:new 4", "6:again"}
	if diff := cmp.Diff(want, seqsOf(messagesOrFail(t, s, "c"))); diff != "" {
		t.Errorf("window (-want +got):\n%s", diff)
	}
}

// messagesOrFail returns conv's window or fails the test.
func messagesOrFail(t *testing.T, s *Store, conv string) []chatring.Message {
	t.Helper()
	msgs, err := s.Messages(t.Context(), conv, nil)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// TestListOfALostMetaRestarted: when meta alone is lost (an eviction
// policy that evicts keys one at a time) the next Append starts again at
// Seq 1, and the list must not keep the earlier life's messages before
// it: a window holds consecutive Seqs.
func TestListOfALostMetaRestarted(t *testing.T) {
	s, client := serverStore(t)
	ctx := t.Context()
	for i := range 3 {
		if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: fmt.Sprint("old ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, meta, _ := s.Keys("c")
	if err := client.Del(ctx, meta).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: fmt.Sprint("new ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"1:new 0", "2:new 1"}
	if diff := cmp.Diff(want, seqsOf(messagesOrFail(t, s, "c"))); diff != "" {
		t.Errorf("window after meta was lost (-want +got):\n%s", diff)
	}
}

// TestClearThrough: ClearThrough returns the newest Seq the conversation
// was given (0 for an unknown one), the next Append gets the one after
// it, and a retry of a cleared message is answered at or below it.
func TestClearThrough(t *testing.T) {
	s, _ := serverStore(t)
	ctx := t.Context()
	if seq, err := s.ClearThrough(ctx, "unknown"); err != nil || seq != 0 {
		t.Errorf("ClearThrough of an unknown conversation = %d, %v; want 0", seq, err)
	}
	first := chatring.Message{Role: chatring.User, Content: "first", ID: "req-1"}
	for _, m := range []chatring.Message{first, {Role: chatring.Assistant, Content: "x"}, {Role: chatring.User, Content: "y"}} {
		if _, err := s.Append(ctx, "c", m); err != nil {
			t.Fatal(err)
		}
	}
	through, err := s.ClearThrough(ctx, "c")
	if err != nil || through != 3 {
		t.Fatalf("ClearThrough = %d, %v; want 3", through, err)
	}
	if again, err := s.ClearThrough(ctx, "c"); err != nil || again != 3 {
		t.Errorf("ClearThrough again = %d, %v; want 3", again, err)
	}
	if m, err := s.Append(ctx, "c", first); err != nil || m.Seq > through {
		t.Errorf("retry of a cleared message = Seq %d, %v; want at most %d", m.Seq, err, through)
	}
	if m, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "new"}); err != nil || m.Seq != through+1 {
		t.Errorf("Append after ClearThrough = Seq %d, %v; want %d", m.Seq, err, through+1)
	}
}

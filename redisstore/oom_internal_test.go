package redisstore

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// rawState is every key of a conversation as Redis holds it.
type rawState struct {
	List []string
	Meta map[string]string
	IDs  []redis.Z
}

func stateOf(t *testing.T, s *Store, client *redis.Client, conv string) rawState {
	t.Helper()
	ctx := t.Context()
	k := s.keys(conv)
	var st rawState
	var err error
	if st.List, err = client.LRange(ctx, k[0], 0, -1).Result(); err != nil {
		t.Fatal(err)
	}
	if st.Meta, err = client.HGetAll(ctx, k[1]).Result(); err != nil {
		t.Fatal(err)
	}
	if st.IDs, err = client.ZRangeWithScores(ctx, k[2], 0, -1).Result(); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestAppendOOMWritesNothing: over maxmemory with noeviction, Redis
// refuses append.lua's first write (RPUSH), so a new message changes no
// key: not the list, not meta's seq, not ids. Retries of stored messages
// (in the window, pushed out) need no memory and still succeed.
func TestAppendOOMWritesNothing(t *testing.T) {
	_, client := serverStore(t)
	ctx := t.Context()
	s := storeOn(t, client, chatring.Config{MaxTurns: 1})
	for i := range 4 {
		if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: fmt.Sprint(i), ID: fmt.Sprint("id-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// "lost": its meta and messages are gone, its ids kept (see
	// TestTokensOfAnExpiredConversationForgotten); the Append that gives
	// it Seq 1 removes ids, but only once RPUSH succeeded.
	for i := range 2 {
		if _, err := s.Append(ctx, "lost", chatring.Message{Role: chatring.User, Content: fmt.Sprint(i), ID: fmt.Sprint("id-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Del(ctx, s.keys("lost")[:2]...).Err(); err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, s, client, "c")
	lostBefore := stateOf(t, s, client, "lost")
	if err := client.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.ConfigSet(ctx, "maxmemory", "0") })
	got, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "new", ID: "id-new"})
	if err == nil || errors.Is(err, chatring.ErrUnavailable) || !strings.Contains(err.Error(), "OOM") {
		t.Errorf("Append over maxmemory = %+v, %v; want an OOM error", got, err)
	}
	if diff := cmp.Diff(before, stateOf(t, s, client, "c")); diff != "" {
		t.Errorf("a refused Append changed the conversation (-before +after):\n%s", diff)
	}
	if _, err := s.Append(ctx, "lost", chatring.Message{Role: chatring.User, Content: "new"}); err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Errorf("Append that would give Seq 1 over maxmemory: %v, want an OOM error", err)
	}
	if diff := cmp.Diff(lostBefore, stateOf(t, s, client, "lost")); diff != "" {
		t.Errorf("a refused Append at Seq 1 changed ids (-before +after):\n%s", diff)
	}
	for _, c := range []struct {
		id   string
		want string
	}{{"id-3", "4:3"}, {"id-0", "1:again"}} { // in the window, pushed out
		got, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "again", ID: c.id})
		if err != nil || fmt.Sprintf("%d:%s", got.Seq, got.Content) != c.want {
			t.Errorf("retry of %s over maxmemory = %d:%s, %v; want %s", c.id, got.Seq, got.Content, err, c.want)
		}
	}
	// In a transaction Redis refuses to queue any command over maxmemory
	// (EXECABORT), so a batch fails whole even when its first message is
	// a retry that needs no memory: nothing is answered, nothing written.
	out, err := s.AppendBatch(ctx, "c", []chatring.Message{
		{Role: chatring.User, Content: "again", ID: "id-1"},
		{Role: chatring.User, Content: "new", ID: "id-new"},
	})
	if err == nil || len(out) != 0 || !strings.Contains(err.Error(), "OOM") {
		t.Errorf("AppendBatch of a retry and a new message over maxmemory = %v, %v; want nothing and an OOM error", seqsOf(out), err)
	}
	if diff := cmp.Diff(before, stateOf(t, s, client, "c")); diff != "" {
		t.Errorf("retries over maxmemory changed the conversation (-before +after):\n%s", diff)
	}
}

// TestAppendBatchDuplicatesAndStats: a batch that holds one ID twice
// stores it once and returns the stored message for the second; a batch
// that repeats an ID whose message it pushed out of the window returns
// its Seq; an ID past the horizon is stored anew. Stats count each path:
// Appended (and ByRole, Bytes) for stored messages only, Deduplicated for
// the rest.
func TestAppendBatchDuplicatesAndStats(t *testing.T) {
	_, client := serverStore(t)
	ctx := t.Context()
	s := storeOn(t, client, chatring.Config{MaxTurns: 1}, WithIdempotencyHorizon(4))
	u := func(content, id string) chatring.Message {
		return chatring.Message{Role: chatring.User, Content: content, ID: id}
	}
	out, err := s.AppendBatch(ctx, "c", []chatring.Message{
		u("x", "x"), u("y", "y"), u("x again", "x"), // in the window
		u("z", "z"), u("w", "w"), u("x late", "x"), // x at 1 pushed out, within the horizon of 4
		u("v", "v"), u("x past", "x"), // x at 1 now past the horizon (Seq 6 trims <= 2)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1:x", "2:y", "1:x", "3:z", "4:w", "1:x late", "5:v", "6:x past"}
	deduplicated := map[int]bool{2: true, 5: true}
	if diff := cmp.Diff(want, seqsOf(out)); diff != "" {
		t.Errorf("AppendBatch returned (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"5:v", "6:x past"}, seqsOf(messagesOrFail(t, s, "c"))); diff != "" {
		t.Errorf("window (-want +got):\n%s", diff)
	}
	st := s.Stats()
	if st.Appended != 6 || st.Deduplicated != 2 || st.ByRole[chatring.User] != 6 {
		t.Errorf("Stats = %d appended (%d user), %d deduplicated; want 6 (6), 2", st.Appended, st.ByRole[chatring.User], st.Deduplicated)
	}
	var bytes uint64
	for i, m := range out {
		if !deduplicated[i] {
			bytes += uint64(m.Size())
		}
	}
	if st.AppendedBytes != bytes {
		t.Errorf("Stats.AppendedBytes = %d, want %d: the stored messages' sizes only", st.AppendedBytes, bytes)
	}
}

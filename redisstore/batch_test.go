package redisstore_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// batchOf returns n user messages "<tag>-1" .. "<tag>-n", with IDs
// "<tag>-id-i" when ids is set.
func batchOf(tag string, n int, ids bool) []chatring.Message {
	ms := make([]chatring.Message, n)
	for i := range ms {
		ms[i] = chatring.Message{Role: chatring.User, Content: fmt.Sprintf("%s-%d", tag, i+1)}
		if ids {
			ms[i].ID = fmt.Sprintf("%s-id-%d", tag, i+1)
		}
	}
	return ms
}

// wantBrief is "seq:user:<tag>-i" for Seq first .. first+n-1 and i from
// from on.
func wantBrief(tag string, first uint64, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%d:user:%s-%d", first+uint64(i), tag, from+i)
	}
	return out
}

// TestAppendBatchOrder: a batch is stored in order, each message with
// the next Seq, as consecutive Appends would be, on one server and on a
// cluster (one node: the conversation's slot); messages without an ID
// are stored too; a batch longer than the window leaves the window's
// newest messages; the Append after a batch continues its Seq.
func TestAppendBatchOrder(t *testing.T) {
	for _, topo := range []string{"single", "cluster"} {
		t.Run(topo, func(t *testing.T) {
			var client redis.UniversalClient
			if topo == "single" {
				client, _ = singleNode(t)
			} else {
				client, _ = cluster(t)
			}
			s := newStore(t, client, chatring.Config{MaxTurns: 5}) // a window of 10
			ctx := t.Context()
			ms := batchOf("m", 7, true)
			ms[3].ID = "" // generated key
			got, err := s.AppendBatch(ctx, "order", ms)
			if err != nil {
				t.Fatalf("AppendBatch: %v", err)
			}
			if diff := cmp.Diff(wantBrief("m", 1, 1, 7), brief(got)); diff != "" {
				t.Errorf("returned (-want +got):\n%s", diff)
			}
			for i, m := range got {
				if m.ID != ms[i].ID || m.Time.IsZero() || m.Tokens <= 0 {
					t.Errorf("returned[%d] = %+v: want ID %q, a Time and Tokens", i, m, ms[i].ID)
				}
			}
			stored := messagesOf(t, s, "order")
			if diff := cmp.Diff(got, stored); diff != "" {
				t.Errorf("returned and stored differ (-returned +stored):\n%s", diff)
			}
			// 7 more: the window keeps the newest 10 of 14.
			if _, err := s.AppendBatch(ctx, "order", batchOf("n", 7, false)); err != nil {
				t.Fatalf("second AppendBatch: %v", err)
			}
			want := append(wantBrief("m", 5, 5, 3), wantBrief("n", 8, 1, 7)...)
			if diff := cmp.Diff(want, brief(messagesOf(t, s, "order"))); diff != "" {
				t.Errorf("window after 14 messages (-want +got):\n%s", diff)
			}
			if m := mustAppend(t, s, "order", "after"); m.Seq != 15 {
				t.Errorf("Append after the batches got Seq %d, want 15", m.Seq)
			}
			if got, err := s.AppendBatch(ctx, "order", nil); got != nil || err != nil {
				t.Errorf("empty batch = %v, %v; want nil, nil", got, err)
			}
		})
	}
}

// TestAppendBatchIdempotent: a batch sent again, as after an ambiguous
// failure, returns the stored messages and stores nothing twice; a batch
// whose first messages were stored before (by an earlier batch, or by
// Append) stores only the rest, after them; a message repeated within one
// batch is stored once.
func TestAppendBatchIdempotent(t *testing.T) {
	client, _ := singleNode(t)
	s := newStore(t, client, chatring.Config{})
	ctx := t.Context()
	ms := batchOf("m", 6, true)
	first, err := s.AppendBatch(ctx, "again", ms[:4])
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.AppendBatch(ctx, "again", ms[:4])
	if err != nil {
		t.Fatalf("the same batch again: %v", err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("the batch sent again did not return the stored messages (-first +again):\n%s", diff)
	}
	if _, err := s.Append(ctx, "again", ms[4]); err != nil {
		t.Fatal(err)
	}
	// ms[2:6] and ms[5] once more: 2, 3, 4 are stored; 5 is new, and
	// its repeat finds it.
	rest, err := s.AppendBatch(ctx, "again", append(ms[2:6:6], ms[5]))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantBrief("m", 3, 3, 4), brief(rest[:4])); diff != "" || !cmp.Equal(rest[4], rest[3]) {
		t.Errorf("overlapping batch returned %v (-want +got of the first 4):\n%s", brief(rest), diff)
	}
	if diff := cmp.Diff(wantBrief("m", 1, 1, 6), brief(messagesOf(t, s, "again"))); diff != "" {
		t.Errorf("window (-want +got):\n%s", diff)
	}
}

// TestAppendBatchInvalid: the messages before the first invalid one are
// stored and returned with its validation error; it and those after it
// are not sent; an invalid first message sends nothing. A bad
// conversation ID, or a closed store, fails the batch before anything is
// sent.
func TestAppendBatchInvalid(t *testing.T) {
	client, _ := singleNode(t)
	s := newStore(t, client, chatring.Config{})
	ctx := t.Context()
	ms := batchOf("m", 5, true)
	ms[2].Role = "wizard"
	got, err := s.AppendBatch(ctx, "bad", ms)
	if !errors.Is(err, chatring.ErrInvalidRole) {
		t.Fatalf("AppendBatch with ms[2] invalid: error %v, want ErrInvalidRole", err)
	}
	if diff := cmp.Diff(wantBrief("m", 1, 1, 2), brief(got)); diff != "" {
		t.Errorf("returned (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantBrief("m", 1, 1, 2), brief(messagesOf(t, s, "bad"))); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	ms[0].Content = ""
	if got, err := s.AppendBatch(ctx, "bad-first", ms); !errors.Is(err, chatring.ErrEmptyContent) || len(got) != 0 {
		t.Errorf("AppendBatch with ms[0] invalid = %v, %v; want nothing and ErrEmptyContent", brief(got), err)
	}
	if n := len(messagesOf(t, s, "bad-first")); n != 0 {
		t.Errorf("%d messages stored after an invalid first message", n)
	}
	if _, err := s.AppendBatch(ctx, "", batchOf("x", 1, true)); !errors.Is(err, chatring.ErrInvalidConversation) {
		t.Errorf("empty conversation ID: %v, want ErrInvalidConversation", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendBatch(ctx, "bad", batchOf("x", 1, true)); !errors.Is(err, chatring.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

// TestAppendBatchFormat: a conversation in another format fails every
// message of the batch with ErrFormat, and nothing is stored.
func TestAppendBatchFormat(t *testing.T) {
	client, _ := singleNode(t)
	prefix := newPrefix()
	s := newStore(t, client, chatring.Config{}, redisstore.WithPrefix(prefix))
	ctx := t.Context()
	meta := prefix + "{" + base64.RawURLEncoding.EncodeToString([]byte("future")) + "}:meta"
	if err := client.HSet(ctx, meta, "v", "9").Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.AppendBatch(ctx, "future", batchOf("m", 3, true))
	if !errors.Is(err, redisstore.ErrFormat) || len(got) != 0 {
		t.Errorf("AppendBatch on format 9 = %v, %v; want nothing and ErrFormat", brief(got), err)
	}
}

// TestAppendBatchNoScript: after Redis lost its scripts (SCRIPT FLUSH, as
// after a restart) a batch loads the script and is stored once, in order.
func TestAppendBatchNoScript(t *testing.T) {
	client, s := ownServer(t)
	ctx := t.Context()
	if _, err := s.AppendBatch(ctx, "flushed", batchOf("m", 2, true)); err != nil {
		t.Fatal(err)
	}
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	ms := batchOf("m", 5, true)
	got, err := s.AppendBatch(ctx, "flushed", ms)
	if err != nil {
		t.Fatalf("AppendBatch after SCRIPT FLUSH: %v", err)
	}
	if diff := cmp.Diff(wantBrief("m", 1, 1, 5), brief(got)); diff != "" {
		t.Errorf("returned (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantBrief("m", 1, 1, 5), brief(messagesOf(t, s, "flushed"))); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	if n, err := client.ScriptExists(ctx, redis.NewScript(scriptBody(t)).Hash()).Result(); err != nil || !n[0] {
		t.Errorf("the append script is not loaded after the batch: %v %v", n, err)
	}
}

// ownServer starts a redis-server for the test alone (one whose scripts
// or config it changes) and returns a client of it and a store on it.
func ownServer(t *testing.T) (*redis.Client, *redisstore.Store) {
	t.Helper()
	server := redistest.NewServer(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr})
	t.Cleanup(func() { client.Close() })
	return client, newStore(t, client, chatring.Config{})
}

// scriptBody returns append.lua, the script the store embeds.
func scriptBody(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("append.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAppendBatchAmbiguous: the reply to a batch is lost after Redis ran
// it (the proxy drops it and closes the connection). go-redis does not
// send a transaction again after a read error (with its default
// MaxRetries too), so the caller gets ErrUnavailable and no message; the
// server holds the whole batch (EXEC ran all of it); and the batch sent
// again returns the stored messages and stores none twice.
func TestAppendBatchAmbiguous(t *testing.T) {
	_, server := singleNode(t)
	proxy := redistest.StartProxy(t, server.Addr)
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr}) // default retries
	t.Cleanup(func() { client.Close() })
	s := newStore(t, client, chatring.Config{})
	ctx := t.Context()
	mustAppend(t, s, "warm-up", "the script is cached now")
	ms := batchOf("lost", 6, true)
	proxy.DropReplyTo([]byte("lost-6"))
	got, err := s.AppendBatch(ctx, "lost", ms)
	if proxy.Dropped() != 1 {
		t.Fatalf("the proxy dropped %d replies, want 1: nothing was ambiguous", proxy.Dropped())
	}
	if !errors.Is(err, chatring.ErrUnavailable) || len(got) != 0 {
		t.Fatalf("AppendBatch whose reply was lost = %v, %v; want nothing and ErrUnavailable", brief(got), err)
	}
	if diff := cmp.Diff(wantBrief("lost", 1, 1, 6), brief(messagesOf(t, s, "lost"))); diff != "" {
		t.Fatalf("after the lost reply the server holds (-want +got):\n%s", diff)
	}
	before := messagesOf(t, s, "lost")
	if got, err = s.AppendBatch(ctx, "lost", ms); err != nil {
		t.Fatalf("the batch sent again: %v", err)
	}
	if diff := cmp.Diff(before, got); diff != "" {
		t.Errorf("the batch sent again did not return the stored messages (-stored +returned):\n%s", diff)
	}
	if diff := cmp.Diff(wantBrief("lost", 1, 1, 6), brief(messagesOf(t, s, "lost"))); diff != "" {
		t.Errorf("stored after the resend (-want +got):\n%s", diff)
	}
}

// TestAppendBatchOOM: over maxmemory (noeviction) Redis refuses every
// script of the batch before it writes: nothing is stored, and the error
// is OOM, not ErrUnavailable (retrying does not help until memory is
// freed), as for Append.
func TestAppendBatchOOM(t *testing.T) {
	client, s := ownServer(t)
	ctx := t.Context()
	if _, err := s.AppendBatch(ctx, "full", batchOf("m", 2, true)); err != nil {
		t.Fatal(err)
	}
	if err := client.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.AppendBatch(ctx, "full", batchOf("n", 3, true))
	if err == nil || len(got) != 0 || errors.Is(err, chatring.ErrUnavailable) || !strings.Contains(err.Error(), "OOM") {
		t.Errorf("AppendBatch over maxmemory = %v, %v; want nothing and an OOM error", brief(got), err)
	}
	if err := client.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantBrief("m", 1, 1, 2), brief(messagesOf(t, s, "full"))); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
}

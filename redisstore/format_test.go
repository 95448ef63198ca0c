package redisstore_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// documentedKeys computes a conversation's keys by FORMAT.md's rule, not
// with the store's code.
func documentedKeys(prefix, conv string) (messages, meta, ids string) {
	tag := "{" + base64.RawURLEncoding.EncodeToString([]byte(conv)) + "}"
	return prefix + tag + ":messages", prefix + tag + ":meta", prefix + tag + ":ids"
}

// TestFormat writes a conversation through the store and reads it back
// with plain Redis commands, as FORMAT.md tells a service in another
// language to, on a single node and on a cluster.
func TestFormat(t *testing.T) {
	for _, topo := range []string{"single", "cluster"} {
		t.Run(topo, func(t *testing.T) {
			var client redis.UniversalClient
			if topo == "single" {
				client, _ = singleNode(t)
			} else {
				client, _ = cluster(t)
			}
			testFormat(t, client)
		})
	}
}

func testFormat(t *testing.T, client redis.UniversalClient) {
	ctx := t.Context()
	prefix := newPrefix()
	const ttl = time.Hour
	s, err := redisstore.New(client, chatring.Config{MaxTurns: 2, IdleTTL: ttl}, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	const conv = "user-42:{draft}"
	if got, _, _ := documentedKeys("chatring:", conv); got != "chatring:{dXNlci00Mjp7ZHJhZnR9}:messages" {
		t.Fatalf("the key rule does not give FORMAT.md's example: %s", got)
	}
	if err := s.SetSystemPrompt(ctx, conv, "You answer in French."); err != nil {
		t.Fatal(err)
	}
	var sent []chatring.Message
	for i, in := range []chatring.Message{
		{Role: chatring.User, Content: "hello", Name: "ana", ID: "req-1"},
		{Role: chatring.Assistant, Content: "bonjour"},
		{Role: chatring.User, Content: "what \"time\" is it?\n\t{\"seq\":0}"},
		{Role: chatring.Assistant, Content: "il est midi ☀"},
		{Role: chatring.User, Content: "merci", ID: "req-5"},
	} {
		m, err := s.Append(ctx, conv, in)
		if err != nil {
			t.Fatalf("Append #%d: %v", i+1, err)
		}
		sent = append(sent, m)
	}
	msgsKey, metaKey, idsKey := documentedKeys(prefix, conv)
	if m, me, i := s.Keys(conv); m != msgsKey || me != metaKey || i != idsKey {
		t.Errorf("Store.Keys = %s %s %s, FORMAT.md says %s %s %s", m, me, i, msgsKey, metaKey, idsKey)
	}

	// meta: v, seq, prompt.
	meta, err := client.HGetAll(ctx, metaKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	if meta["v"] != "1" || meta["seq"] != "5" || len(meta) != 3 {
		t.Errorf("meta = %v, want v 1, seq 5 and a prompt", meta)
	}
	var prompt chatring.Message
	if err := json.Unmarshal([]byte(meta["prompt"]), &prompt); err != nil {
		t.Fatal(err)
	}
	if prompt.Role != chatring.System || prompt.Content != "You answer in French." || prompt.Seq != 0 || prompt.Tokens <= 0 || prompt.Time.IsZero() {
		t.Errorf("prompt = %+v", prompt)
	}

	// messages: the window, oldest first, each a JSON object with seq first
	// and the members of chatring.Message.
	elems, err := client.LRange(ctx, msgsKey, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	var got []chatring.Message
	for i, e := range elems {
		if want := fmt.Sprintf(`{"seq":%d,`, sent[1].Seq+uint64(i)); !strings.HasPrefix(e, want) {
			t.Errorf("element %d = %s, want it to start with %s", i, e, want)
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal([]byte(e), &members); err != nil {
			t.Fatalf("element %d is not a JSON object: %v", i, err)
		}
		for k := range members {
			switch k {
			case "seq", "role", "content", "name", "id", "time", "tokens":
			default:
				t.Errorf("element %d has member %q, which FORMAT.md does not list", i, k)
			}
		}
		var ts string
		if err := json.Unmarshal(members["time"], &ts); err != nil {
			t.Fatal(err)
		}
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("element %d: time %s is not RFC 3339: %v", i, ts, err)
		}
		var m chatring.Message
		if err := json.Unmarshal([]byte(e), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if diff := cmp.Diff(sent[1:], got); diff != "" {
		t.Errorf("the list holds, decoded by FORMAT.md, not what Append returned (-returned +stored):\n%s", diff)
	}
	if _, ok := jsonMembers(t, elems[0])["id"]; ok {
		t.Errorf("a message appended without an ID has an id member: %s", elems[0])
	}

	// ids: the idempotency tokens of every append (the horizon is 128),
	// 22 bytes each, scored by Seq: base64url of SHA-256(ID)[:16] for a
	// message with an ID, 16 random bytes for one without.
	tokens, err := client.ZRangeWithScores(ctx, idsKey, 0, -1).Result()
	if err != nil || len(tokens) != len(sent) {
		t.Fatalf("ids = %v, %v; want the %d appends' tokens", tokens, err, len(sent))
	}
	for i, z := range tokens {
		token := z.Member.(string)
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(raw) != 16 || len(token) != 22 {
			t.Errorf("token %d = %q is not 16 bytes in base64url: %v", i, token, err)
		}
		if z.Score != float64(sent[i].Seq) {
			t.Errorf("token %d is scored %v, want its message's Seq %d", i, z.Score, sent[i].Seq)
		}
		if id := sent[i].ID; id != "" {
			sum := sha256.Sum256([]byte(id))
			if want := base64.RawURLEncoding.EncodeToString(sum[:16]); token != want {
				t.Errorf("token %d = %q, want %q from the ID %q", i, token, want, id)
			}
		}
	}
	// Looking a token up as FORMAT.md says: req-1 was pushed out of the
	// window (Seq 1 < 5-4+1) but is still recognised.
	sum := sha256.Sum256([]byte("req-1"))
	if seq, err := client.ZScore(ctx, idsKey, base64.RawURLEncoding.EncodeToString(sum[:16])).Result(); err != nil || seq != 1 {
		t.Errorf("ZSCORE of req-1's token = %v, %v; want 1", seq, err)
	}

	// Every key expires after the idle TTL, refreshed by every call.
	for _, k := range []string{msgsKey, metaKey, idsKey} {
		pttl, err := client.PTTL(ctx, k).Result()
		if err != nil || pttl <= ttl-time.Minute || pttl > ttl {
			t.Errorf("PTTL %s = %v, %v; want about %v", k, pttl, err, ttl)
		}
	}

	// The one-transaction read FORMAT.md gives for other languages.
	var hm *redis.SliceCmd
	var lr *redis.StringSliceCmd
	if _, err := client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		hm = p.HMGet(ctx, metaKey, "v", "prompt")
		lr = p.LRange(ctx, msgsKey, 0, -1)
		return nil
	}); err != nil {
		t.Fatalf("MULTI HMGET LRANGE EXEC: %v", err)
	}
	if hm.Val()[0] != "1" || len(lr.Val()) != 4 {
		t.Errorf("transaction read v %v and %d messages, want 1 and 4", hm.Val()[0], len(lr.Val()))
	}
}

func jsonMembers(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOtherFormats: a conversation stored in another format version, or a
// message that is not JSON, is ErrFormat, never changed, and never
// ErrUnavailable; a key of the wrong type is an error that is neither
// ErrUnavailable nor a validation error.
func TestOtherFormats(t *testing.T) {
	client, _ := singleNode(t)
	ctx := t.Context()
	prefix := newPrefix()
	s, err := redisstore.New(client, chatring.Config{}, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	user := chatring.Message{Role: chatring.User, Content: "hi"}

	// Format 2.
	if _, err := s.Append(ctx, "v2", user); err != nil {
		t.Fatal(err)
	}
	msgsKey, metaKey, _ := documentedKeys(prefix, "v2")
	client.HSet(ctx, metaKey, "v", "2")
	if _, err := s.Append(ctx, "v2", user); !errors.Is(err, redisstore.ErrFormat) || errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("Append to a format-2 conversation: %v, want ErrFormat", err)
	}
	if err := s.SetSystemPrompt(ctx, "v2", "p"); !errors.Is(err, redisstore.ErrFormat) {
		t.Errorf("SetSystemPrompt on a format-2 conversation: %v, want ErrFormat", err)
	}
	if _, err := s.Messages(ctx, "v2", nil); !errors.Is(err, redisstore.ErrFormat) {
		t.Errorf("Messages of a format-2 conversation: %v, want ErrFormat", err)
	}
	if n, _ := client.LLen(ctx, msgsKey).Result(); n != 1 {
		t.Errorf("the format-2 conversation holds %d messages, want the 1 it had", n)
	}

	// A message that is not JSON.
	if _, err := s.Append(ctx, "corrupt", user); err != nil {
		t.Fatal(err)
	}
	msgsKey, _, _ = documentedKeys(prefix, "corrupt")
	client.LSet(ctx, msgsKey, 0, "not json")
	if _, err := s.Window(ctx, "corrupt", 0); !errors.Is(err, redisstore.ErrFormat) || errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("Window of a conversation holding a non-JSON message: %v, want ErrFormat", err)
	}

	// A key of the wrong type: the script fails with WRONGTYPE.
	msgsKey, _, _ = documentedKeys(prefix, "wrongtype")
	client.Set(ctx, msgsKey, "a string", 0)
	_, err = s.Append(ctx, "wrongtype", user)
	var ve *chatring.ValidationError
	if err == nil || errors.Is(err, chatring.ErrUnavailable) || errors.As(err, &ve) || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("Append over a string key: %v, want the WRONGTYPE error, neither ErrUnavailable nor a validation error", err)
	}
}

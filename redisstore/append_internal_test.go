package redisstore

import (
	"testing"

	"github.com/chatring/chatring"
)

// TestTokenMatchesOnlyAtBoundaries: append.lua finds a token in meta's ids
// only at a multiple of 22 bytes. A token made of the end of one stored
// token and the start of the next is a new message, not the one at either
// side; and a token of the wrong length is refused before anything is
// written.
func TestTokenMatchesOnlyAtBoundaries(t *testing.T) {
	s, client := serverStore(t)
	ctx := t.Context()
	run := func(token string) (any, error) {
		body, err := encodeMessage(chatring.Message{Role: chatring.User, Content: "x"})
		if err != nil {
			t.Fatal(err)
		}
		return appendScript.Run(ctx, client, s.keys("conv"), body, token, s.window, s.ttl, FormatVersion).Result()
	}
	a, b := idempotencyToken("a"), idempotencyToken("b")
	for _, tok := range []string{a, b} {
		if _, err := run(tok); err != nil {
			t.Fatal(err)
		}
	}
	straddling := (a + b)[11:33]
	res, err := run(straddling)
	if err != nil {
		t.Fatal(err)
	}
	if r := res.([]any); r[0] != int64(1) || r[1] != int64(3) {
		t.Errorf("a token straddling two stored ones gave %v, want {1, 3}: a new message", r)
	}
	res, err = run(b)
	if err != nil {
		t.Fatal(err)
	}
	if r := res.([]any); r[0] != int64(0) {
		t.Errorf("the second stored token gave %v, want {0, the stored message}", r)
	}
	if _, err := run("short"); err == nil {
		t.Error("a 5-byte token was accepted")
	}
	_, meta := s.Keys("conv")
	if n, _ := client.LLen(ctx, s.keys("conv")[0]).Result(); n != 3 {
		t.Errorf("the list holds %d messages, want 3", n)
	}
	if ids, _ := client.HGet(ctx, meta, "ids").Result(); ids != a+b+straddling {
		t.Errorf("meta ids = %q, want the three tokens", ids)
	}
}

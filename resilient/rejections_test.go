package resilient_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
)

// TestRejectionsCounted refuses writes in every way the Store refuses
// them before calling the primary (invalid messages and conversation IDs,
// a ctx already done, writes after Close) and checks that Stats counts
// each under chatring.RejectionReason, that RejectedByReason says the
// same, that the primary (a MemoryStore, which counts its own) saw none
// of them, that a write the primary refuses (an invalid prompt, which the
// Store passes on) is the primary's count and not the Store's, that
// successful writes count nothing, and that the validation errors are
// logged at Warn without the content.
func TestRejectionsCounted(t *testing.T) {
	r := newRig(t, chatring.Config{MaxMessageBytes: 16})
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	r.append(t, "c", "hello")
	if err := r.Clear(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Rejected != 0 || len(st.RejectedByReason) != 0 {
		t.Fatalf("Rejected %d, RejectedByReason %v after successful writes, want none", st.Rejected, st.RejectedByReason)
	}

	const secret = "secret words!"
	for _, m := range []chatring.Message{
		{Role: "robot", Content: secret},
		{Role: "robot", Content: secret},
		{Role: chatring.User},
		{Role: chatring.User, Content: secret + secret},
	} {
		if _, err := r.Append(ctx, "c", m); err == nil {
			t.Fatalf("Append(%+v) succeeded", m)
		}
	}
	if _, err := r.Append(ctx, "", chatring.Message{Role: chatring.User, Content: secret}); err == nil {
		t.Fatal("Append to an empty conversation ID succeeded")
	}
	if err := r.Delete(ctx, strings.Repeat("x", 10_000)); err == nil {
		t.Fatal("Delete of an over-long conversation ID succeeded")
	}
	if _, err := r.Append(canceled, "c", chatring.Message{Role: chatring.User, Content: secret}); err == nil {
		t.Fatal("Append under a canceled ctx succeeded")
	}
	if err := r.SetSystemPrompt(ctx, "c", "\x00"); err == nil {
		t.Fatal("SetSystemPrompt of an invalid prompt succeeded")
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Clear(ctx, "c"); err == nil {
		t.Fatal("Clear after Close succeeded")
	}

	want := map[string]uint64{
		"invalid_role":         2,
		"empty_content":        1,
		"message_too_large":    1,
		"invalid_conversation": 2,
		"canceled":             1,
		"closed":               1,
	}
	st := r.Stats()
	if diff := cmp.Diff(want, st.RejectedByReason); diff != "" {
		t.Errorf("Stats().RejectedByReason (-want +got):\n%s", diff)
	}
	if st.Rejected != 8 {
		t.Errorf("Stats().Rejected = %d, want 8", st.Rejected)
	}
	if diff := cmp.Diff(want, r.RejectedByReason()); diff != "" {
		t.Errorf("RejectedByReason() (-want +got):\n%s", diff)
	}
	// The invalid prompt reached the primary, which refused and counted
	// it; nothing else did.
	primary := r.mem.Stats()
	if diff := cmp.Diff(map[string]uint64{"invalid_content": 1}, primary.RejectedByReason); diff != "" {
		t.Errorf("the primary's RejectedByReason (-want +got):\n%s", diff)
	}

	logged := r.logs.records(t, "resilient: rejected")
	if len(logged) != 6 { // the validation errors, not ctx's nor Close's
		t.Errorf("%d rejections logged, want 6: %v", len(logged), logged)
	}
	if strings.Contains(r.logs.String(), "secret") {
		t.Error("the log quotes a rejected message's content")
	}
}

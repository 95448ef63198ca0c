package chatring_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogNeverContainsContent feeds content, names, roles, prompts and
// tool fields carrying a marker through every logged path, accepted and
// rejected, and checks that the marker never reaches the log while the
// records do.
func TestLogNeverContainsContent(t *testing.T) {
	const marker = "PII-7f3a9c" // stands for a name, an address, a secret
	forEachBackend(t, func(t *testing.T, backend string) {
		var out syncBuffer
		logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
		h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: 1, MaxMessageBytes: 64},
			chatring.WithLogger(logger))
		ctx := t.Context()
		calls := []error{
			h.SetSystemPrompt("system " + marker),
			h.SetSystemPrompt(marker + strings.Repeat("x", 64)),
		}
		for _, m := range []chatring.Message{
			{Role: chatring.User, Content: "my id is " + marker, Name: "name-" + marker},
			{Role: chatring.Assistant, Content: "noted " + marker},
			{Role: chatring.User, Content: "evicts " + marker},
			{Role: chatring.Role(marker), Content: marker},
			{Role: chatring.User, Content: marker + strings.Repeat("x", 64)},
			{Role: chatring.User, Content: marker + "\x00"},
			{Role: chatring.User, Content: marker + "\xff"},
			{Role: chatring.User, Content: "ok", Name: marker + "\n"},
			withCalls("", marker, marker, `{"x":"`+marker+`"}`),
			{Role: chatring.Tool, Content: marker, ToolCallID: marker},
			withCalls("", "c1", "f", `{"x":"`+marker+`"`),
			{Role: chatring.User, Content: "hi", ToolCallID: marker},
		} {
			_, err := h.Append(ctx, m)
			calls = append(calls, err)
		}
		calls = append(calls, h.Clear(ctx), h.Close())
		_, err := h.Append(ctx, chatring.Message{Role: chatring.User, Content: marker})
		calls = append(calls, err)

		var rejected int
		for _, err := range calls {
			if err != nil {
				rejected++
			}
		}
		log := out.String()
		if strings.Contains(log, marker) {
			t.Fatalf("log contains message content:\n%s", log)
		}

		var levels []string
		reasons := map[string]int{}
		for line := range strings.Lines(log) {
			var rec struct {
				Level  string
				Msg    string
				Reason string
				Seq    *uint64
				Role   string
				Bytes  *int
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			levels = append(levels, rec.Level+" "+rec.Msg)
			switch rec.Msg {
			case "chatring: append":
				if rec.Seq == nil || rec.Role == "" || rec.Bytes == nil {
					t.Errorf("append record lacks seq, role or bytes: %s", line)
				}
			case "chatring: rejected":
				if rec.Reason == "" || rec.Role == "" || rec.Bytes == nil {
					t.Errorf("rejection record lacks reason, role or bytes: %s", line)
				}
				reasons[rec.Reason]++
			}
		}
		want := []string{
			"DEBUG chatring: system prompt set",
			"WARN chatring: rejected",
			"DEBUG chatring: append", "DEBUG chatring: append", "DEBUG chatring: append",
			"WARN chatring: rejected", "WARN chatring: rejected", "WARN chatring: rejected",
			"WARN chatring: rejected", "WARN chatring: rejected",
			"DEBUG chatring: append", "DEBUG chatring: append",
			"WARN chatring: rejected", "WARN chatring: rejected",
			"DEBUG chatring: clear", "DEBUG chatring: close",
			"WARN chatring: rejected",
		}
		if diff := cmp.Diff(want, levels); diff != "" {
			t.Errorf("log records (-want +got):\n%s", diff)
		}
		wantReasons := map[string]int{"message_too_large": 2, "invalid_role": 1, "invalid_content": 4,
			"invalid_tool_call": 1, "closed": 1}
		if diff := cmp.Diff(wantReasons, reasons); diff != "" {
			t.Errorf("rejection reasons (-want +got):\n%s", diff)
		}
		if s := h.Stats(); s.Rejected != uint64(rejected) {
			t.Errorf("Stats.Rejected = %d, %d calls failed", s.Rejected, rejected)
		}
	})
}

func TestStatsJSON(t *testing.T) {
	h := newHistory(t, chatring.Config{MaxTurns: 1}, chatring.WithTokenizer(words))
	if err := h.SetSystemPrompt("be kind"); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, h, chatring.User, "one two")
	mustAppend(t, h, chatring.Assistant, "three")
	for range 2 { // the second is a retry, deduplicated by its ID
		if _, err := h.Append(t.Context(), chatring.Message{Role: chatring.User, Content: "four five six", ID: "q3"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Append(t.Context(), chatring.Message{Role: chatring.User}); err == nil {
		t.Fatal("empty message accepted")
	}
	data, err := json.Marshal(h.Stats())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["uptime_ns"].(float64); !ok {
		t.Errorf("uptime_ns missing from %s", data)
	}
	delete(got, "uptime_ns")
	want := map[string]any{
		"backend": "mutex", "capacity": 2.0, "appended": 3.0,
		"by_role":  map[string]any{"system": 0.0, "user": 2.0, "assistant": 1.0, "tool": 0.0},
		"rejected": 1.0, "rejected_by_reason": map[string]any{"empty_content": 1.0}, "deduplicated": 1.0,
		"evicted": 1.0, "cleared": 0.0, "last_seq": 3.0,
		"appended_bytes": 25.0, "appended_tokens": 6.0,
		"window_messages": 2.0, "window_bytes": 18.0, "window_tokens": 4.0,
		"system_prompt_bytes": 7.0, "system_prompt_tokens": 2.0, "closed": false,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Stats JSON (-want +got):\n%s", diff)
	}
}

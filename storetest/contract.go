package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
)

// testSequence: Seq 1, 2, 3, ..., fields filled in, the window bounded by
// 2 × MaxTurns and equal to what Append returned, dst appended to.
func testSequence(t *testing.T, newStore NewStore) {
	s := open(t, newStore, chatring.Config{MaxTurns: 2})
	ctx := t.Context()
	var sent []chatring.Message
	for i := range 7 {
		role := []chatring.Role{chatring.User, chatring.Assistant}[i%2]
		in := chatring.Message{Role: role, Content: fmt.Sprintf("message %d", i+1), Name: "n" + fmt.Sprint(i)}
		m, err := s.Append(ctx, "seq", in)
		if err != nil {
			t.Fatalf("Append #%d: %v", i+1, err)
		}
		if m.Seq != uint64(i+1) || m.Role != in.Role || m.Content != in.Content || m.Name != in.Name {
			t.Fatalf("Append #%d returned %+v, want Seq %d and the message sent", i+1, m, i+1)
		}
		if m.Time.IsZero() || m.Tokens < 0 {
			t.Errorf("Append #%d: Time %v, Tokens %d: want a time and a token count", i+1, m.Time, m.Tokens)
		}
		sent = append(sent, m)
	}
	got := messages(t, s, "seq")
	if diff := cmp.Diff(sent[3:], got); diff != "" {
		t.Errorf("Messages = the newest 4 messages as Append returned them? (-want +got):\n%s", diff)
	}
	prefix := []chatring.Message{{Role: chatring.User, Content: "kept"}}
	withDst, err := s.Messages(ctx, "seq", prefix)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append(prefix[:1:1], sent[3:]...), withDst); diff != "" {
		t.Errorf("Messages with a dst (-want +got):\n%s", diff)
	}
}

// referenceWindow is the specification of Window: leave out of win the
// tool results that answer no call of their exchange and the exchanges
// (but the one in flight) that lack results; then the prompt and the
// longest suffix of the rest within budget, without a leading assistant or
// tool message whose predecessor is cut off.
func referenceWindow(win []chatring.Message, prompt *chatring.Message, budget int) []chatring.Message {
	win = wholeExchanges(win)
	if prompt != nil {
		budget -= prompt.Tokens
	}
	start := len(win)
	for start > 0 && win[start-1].Tokens <= budget {
		budget -= win[start-1].Tokens
		start--
	}
	for start < len(win) && win[start].Seq > 1 &&
		(win[start].Role == chatring.Assistant || win[start].Role == chatring.Tool) {
		start++
	}
	var out []chatring.Message
	if prompt != nil {
		out = append(out, *prompt)
	}
	return append(out, win[start:]...)
}

// testWindow compares Window with referenceWindow at every budget after
// every message of a conversation with a tool exchange (in flight, then
// complete) and a broken one.
func testWindow(t *testing.T, newStore NewStore) {
	const maxTokens = 1 << 20
	s := open(t, newStore, chatring.Config{MaxTurns: 4, MaxTokens: maxTokens})
	ctx := t.Context()
	turns := []chatring.Message{
		{Role: chatring.User, Content: "what is the weather in Paris today"},
		{Role: chatring.Assistant, Content: "let me look that up", ToolCalls: []chatring.ToolCall{
			{ID: "call_1", Name: "get_weather", Arguments: `{"city": "Paris"}`}}},
		{Role: chatring.Tool, Content: "sunny, 21 degrees", ToolCallID: "call_1"},
		{Role: chatring.Assistant, Content: "it is sunny and 21 degrees in Paris"},
		{Role: chatring.User, Content: "and tomorrow"},
		// A call whose result never comes, then one that comes late:
		// Window leaves both out once something else follows the call.
		{Role: chatring.Assistant, ToolCalls: []chatring.ToolCall{
			{ID: "call_2", Name: "get_forecast", Arguments: `{"city": "Paris", "days": 1}`}}},
		{Role: chatring.Assistant, Content: "rain is expected tomorrow afternoon"},
		{Role: chatring.User, Content: "thanks a lot"},
		{Role: chatring.Tool, Content: "rain from 2pm", ToolCallID: "call_2"},
		{Role: chatring.Assistant, Content: "you are welcome, enjoy your day"},
		{Role: chatring.User, Content: "one more question about the museum opening hours"},
		{Role: chatring.Assistant, Content: "the Louvre opens at nine"},
	}
	for phase, prompt := range []string{"", "You are a concise travel assistant."} {
		conv := fmt.Sprintf("window-%d", phase)
		var sys *chatring.Message
		if prompt != "" {
			if err := s.SetSystemPrompt(ctx, conv, prompt); err != nil {
				t.Fatal(err)
			}
			w, err := s.Window(ctx, conv, 0)
			if err != nil || len(w) != 1 || w[0].Role != chatring.System || w[0].Content != prompt || w[0].Seq != 0 {
				t.Fatalf("Window of a prompt alone = %v, %v; want the prompt, Seq 0", brief(w), err)
			}
			sys = &w[0]
		}
		total := 0
		if sys != nil {
			total = sys.Tokens
		}
		for _, tu := range turns {
			m, err := s.Append(ctx, conv, tu)
			if err != nil {
				t.Fatalf("Append(%q, %s, %q): %v", conv, tu.Role, tu.Content, err)
			}
			total += m.Tokens
			win := messages(t, s, conv)
			for budget := 0; budget <= total+1; budget++ {
				if sys != nil && budget > 0 && budget < sys.Tokens {
					if _, err := s.Window(ctx, conv, budget); !errors.Is(err, chatring.ErrBudgetTooSmall) {
						t.Errorf("Window(%d) with a %d-token prompt: error %v, want ErrBudgetTooSmall", budget, sys.Tokens, err)
					}
					continue
				}
				b := budget
				if b == 0 {
					b = maxTokens
				}
				got, err := s.Window(ctx, conv, budget)
				if err != nil {
					t.Fatalf("Window(%d): %v", budget, err)
				}
				if diff := cmp.Diff(referenceWindow(win, sys, b), got, equateEmpty); diff != "" {
					t.Fatalf("after seq %d, Window(%d) (-want +got):\n%s", m.Seq, budget, diff)
				}
			}
		}
		if _, err := s.Window(ctx, conv, -1); !errors.Is(err, chatring.ErrBudgetTooSmall) {
			t.Errorf("Window(-1) error = %v, want ErrBudgetTooSmall", err)
		}
	}
}

// testClear: Clear empties the window, keeps the prompt and Seq running.
func testClear(t *testing.T, newStore NewStore) {
	s := open(t, newStore, chatring.Config{MaxTurns: 3})
	ctx := t.Context()
	if err := s.SetSystemPrompt(ctx, "clear", "be brief"); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		mustAppend(t, s, "clear", chatring.User, fmt.Sprint("before ", i))
	}
	mustAppend(t, s, "other", chatring.User, "untouched")
	if err := s.Clear(ctx, "clear"); err != nil {
		t.Fatal(err)
	}
	if got := messages(t, s, "clear"); len(got) != 0 {
		t.Errorf("Messages after Clear = %v, want none", brief(got))
	}
	w, err := s.Window(ctx, "clear", 0)
	if err != nil || len(w) != 1 || w[0].Content != "be brief" {
		t.Errorf("Window after Clear = %v, %v; want the prompt alone", brief(w), err)
	}
	if m := mustAppend(t, s, "clear", chatring.User, "after"); m.Seq != 5 {
		t.Errorf("first Append after Clear got Seq %d, want 5 (sequence numbers continue)", m.Seq)
	}
	if diff := cmp.Diff([]string{"5:user:after"}, brief(messages(t, s, "clear"))); diff != "" {
		t.Errorf("window after Clear and Append (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1:user:untouched"}, brief(messages(t, s, "other"))); diff != "" {
		t.Errorf("Clear changed another conversation (-want +got):\n%s", diff)
	}
	// Clearing twice, or an empty window, is fine.
	for range 2 {
		if err := s.Clear(ctx, "clear"); err != nil {
			t.Fatal(err)
		}
	}
	if m := mustAppend(t, s, "clear", chatring.User, "again"); m.Seq != 6 {
		t.Errorf("Append after two Clears got Seq %d, want 6", m.Seq)
	}
}

// testSystemPrompt: set, replace, remove; the prompt is never evicted.
func testSystemPrompt(t *testing.T, newStore NewStore) {
	s := open(t, newStore, chatring.Config{MaxTurns: 1})
	ctx := t.Context()
	for _, p := range []string{"first prompt", "second prompt"} {
		if err := s.SetSystemPrompt(ctx, "prompt", p); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			mustAppend(t, s, "prompt", chatring.User, fmt.Sprint(p, i))
		}
		w, err := s.Window(ctx, "prompt", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(w) == 0 || w[0].Role != chatring.System || w[0].Content != p || w[0].Seq != 0 {
			t.Errorf("Window = %v, want %q first with Seq 0", brief(w), p)
		}
		for _, m := range messages(t, s, "prompt") {
			if m.Role == chatring.System {
				t.Errorf("the pinned prompt is among Messages: %v", m)
			}
		}
	}
	if err := s.SetSystemPrompt(ctx, "prompt", ""); err != nil {
		t.Fatal(err)
	}
	w, err := s.Window(ctx, "prompt", 0)
	if err != nil || len(w) != 2 || w[0].Role == chatring.System {
		t.Errorf("Window after removing the prompt = %v, %v; want the two messages", brief(w), err)
	}
}

// badMessages are messages Append must reject, with the error and field.
var badMessages = []struct {
	name  string
	m     chatring.Message
	err   error
	field string
}{
	{"invalid role", chatring.Message{Role: "admin", Content: "x"}, chatring.ErrInvalidRole, "role"},
	{"empty role", chatring.Message{Content: "x"}, chatring.ErrInvalidRole, "role"},
	{"empty content", chatring.Message{Role: chatring.User}, chatring.ErrEmptyContent, "content"},
	{"white space", chatring.Message{Role: chatring.User, Content: " \n\t "}, chatring.ErrEmptyContent, "content"},
	{"too large", chatring.Message{Role: chatring.User, Content: strings.Repeat("a", 101)}, chatring.ErrMessageTooLarge, "content"},
	{"invalid UTF-8", chatring.Message{Role: chatring.User, Content: "a\xffb"}, chatring.ErrInvalidContent, "content"},
	{"NUL", chatring.Message{Role: chatring.User, Content: "a\x00b"}, chatring.ErrInvalidContent, "content"},
	{"escape", chatring.Message{Role: chatring.User, Content: "a\x1b[31mb"}, chatring.ErrInvalidContent, "content"},
	{"C1 control", chatring.Message{Role: chatring.User, Content: "a\u0085b"}, chatring.ErrInvalidContent, "content"},
	{"name too long", chatring.Message{Role: chatring.User, Content: "x", Name: strings.Repeat("n", chatring.MaxNameBytes+1)}, chatring.ErrMessageTooLarge, "name"},
	{"name with newline", chatring.Message{Role: chatring.User, Content: "x", Name: "a\nb"}, chatring.ErrInvalidContent, "name"},
	{"ID too long", chatring.Message{Role: chatring.User, Content: "x", ID: strings.Repeat("i", chatring.MaxIDBytes+1)}, chatring.ErrInvalidContent, "id"},
	{"ID not ASCII", chatring.Message{Role: chatring.User, Content: "x", ID: "ïd"}, chatring.ErrInvalidContent, "id"},
	{"tool result without call ID", chatring.Message{Role: chatring.Tool, Content: "21C"}, chatring.ErrInvalidToolCall, "tool_call_id"},
	{"tool calls on a user message", chatring.Message{Role: chatring.User, Content: "x",
		ToolCalls: []chatring.ToolCall{{ID: "c1", Name: "f", Arguments: "{}"}}}, chatring.ErrInvalidToolCall, "tool_calls"},
	{"tool call arguments not JSON", chatring.Message{Role: chatring.Assistant,
		ToolCalls: []chatring.ToolCall{{ID: "c1", Name: "f", Arguments: "{}"}, {ID: "c2", Name: "f", Arguments: "{"}}},
		chatring.ErrInvalidContent, "tool_calls[1].arguments"},
	{"tool calls over the size limit", chatring.Message{Role: chatring.Assistant, Content: strings.Repeat("a", 90),
		ToolCalls: []chatring.ToolCall{{ID: "c1", Name: "f", Arguments: `{"x": 1}`}}}, chatring.ErrMessageTooLarge, "tool_calls[0].arguments"},
}

// wantValidationError fails t unless err wraps want and is a
// *chatring.ValidationError for field.
func wantValidationError(t *testing.T, what string, err, want error, field string) {
	t.Helper()
	var ve *chatring.ValidationError
	if !errors.Is(err, want) || !errors.As(err, &ve) || ve.Field != field {
		t.Errorf("%s: error %v, want %v as a *ValidationError for field %q", what, err, want, field)
	}
}

// testValidation: bad input is rejected with its sentinel and changes
// nothing, on a new conversation and on an existing one.
func testValidation(t *testing.T, newStore NewStore) {
	s := open(t, newStore, chatring.Config{MaxTurns: 2, MaxMessageBytes: 100})
	ctx := t.Context()
	mustAppend(t, s, "existing", chatring.User, "hello")
	if err := s.SetSystemPrompt(ctx, "existing", "prompt"); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Window(ctx, "existing", 0)
	for _, bm := range badMessages {
		for _, conv := range []string{"new-" + bm.name, "existing"} {
			_, err := s.Append(ctx, conv, bm.m)
			wantValidationError(t, bm.name+" on "+conv, err, bm.err, bm.field)
		}
	}
	for _, p := range []struct {
		prompt string
		err    error
	}{
		{strings.Repeat("p", 101), chatring.ErrMessageTooLarge},
		{"  \n", chatring.ErrEmptyContent},
		{"a\x00", chatring.ErrInvalidContent},
		{"\xff", chatring.ErrInvalidContent},
	} {
		for _, conv := range []string{"new-prompt", "existing"} {
			err := s.SetSystemPrompt(ctx, conv, p.prompt)
			wantValidationError(t, fmt.Sprintf("SetSystemPrompt(%q) on %s", p.prompt, conv), err, p.err, "system_prompt")
		}
	}
	after, _ := s.Window(ctx, "existing", 0)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("rejected calls changed the conversation (-before +after):\n%s", diff)
	}
	if m := mustAppend(t, s, "existing", chatring.User, "next"); m.Seq != 2 {
		t.Errorf("Append after rejections got Seq %d, want 2: a rejected message took a sequence number", m.Seq)
	}
	for _, bm := range badMessages {
		if got := messages(t, s, "new-"+bm.name); len(got) != 0 {
			t.Errorf("%s: the rejected first message left %v", bm.name, brief(got))
		}
		if m := mustAppend(t, s, "new-"+bm.name, chatring.User, "first"); m.Seq != 1 {
			t.Errorf("%s: first valid Append got Seq %d, want 1", bm.name, m.Seq)
		}
	}
	if w, err := s.Window(ctx, "new-prompt", 0); err != nil || len(w) != 0 {
		t.Errorf("a rejected prompt left Window = %v, %v", brief(w), err)
	}
}

// testCanceled: a canceled context fails every call and changes nothing.
func testCanceled(t *testing.T, newStore NewStore) {
	s := open(t, newStore, chatring.Config{})
	mustAppend(t, s, "canceled", chatring.User, "kept")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]func() error{
		"Append": func() error {
			_, err := s.Append(ctx, "canceled", chatring.Message{Role: chatring.User, Content: "lost"})
			return err
		},
		"Messages":        func() error { _, err := s.Messages(ctx, "canceled", nil); return err },
		"Window":          func() error { _, err := s.Window(ctx, "canceled", 0); return err },
		"SetSystemPrompt": func() error { return s.SetSystemPrompt(ctx, "canceled", "prompt") },
		"Clear":           func() error { return s.Clear(ctx, "canceled") },
		"Delete":          func() error { return s.Delete(ctx, "canceled") },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: error %v, want context.Canceled", name, err)
		}
	}
	w, err := s.Window(t.Context(), "canceled", 0)
	if err != nil || len(w) != 1 || w[0].Content != "kept" {
		t.Errorf("after canceled calls Window = %v, %v; want the one message", brief(w), err)
	}
}

// invalidConversations are IDs every Store must reject.
var invalidConversations = map[string]string{
	"empty":         "",
	"too long":      strings.Repeat("c", chatring.MaxConversationBytes+1),
	"invalid UTF-8": "conv\xff",
	"NUL":           "a\x00b",
	"newline":       "a\nb",
	"DEL":           "a\x7f",
	"C1 control":    "a\u0085",
}

// testInvalidConversations: every method rejects a bad ID.
func testInvalidConversations(t *testing.T, newStore NewStore) {
	s := open(t, newStore, chatring.Config{})
	ctx := t.Context()
	for name, conv := range invalidConversations {
		calls := map[string]func() error{
			"Append": func() error {
				_, err := s.Append(ctx, conv, chatring.Message{Role: chatring.User, Content: "x"})
				return err
			},
			"Messages":        func() error { _, err := s.Messages(ctx, conv, nil); return err },
			"Window":          func() error { _, err := s.Window(ctx, conv, 0); return err },
			"SetSystemPrompt": func() error { return s.SetSystemPrompt(ctx, conv, "prompt") },
			"Clear":           func() error { return s.Clear(ctx, conv) },
			"Delete":          func() error { return s.Delete(ctx, conv) },
		}
		for op, call := range calls {
			wantValidationError(t, op+" with conversation "+name, call(), chatring.ErrInvalidConversation, "conversation")
		}
	}
}

// hostileConversations are valid IDs that a store could confuse with each
// other or with its own key names if it built keys carelessly.
func hostileConversations() []string {
	long := strings.Repeat("λ", chatring.MaxConversationBytes/2) // 256 bytes
	return []string{
		"a", "A", "a:", ":a", "a:b", "a::b", ":", "::", "{a}", "{a}:msgs", "{a", "a}", "{}", "{", "}",
		"*", "a*", "?", "[a]", "a b", " a", "a ", " ", "%s", "%", `\`, `"`, "'", "..", "/", "a/b",
		"日本語", "é", "e\u0301", "\u200b", "😀", "chatring:{a}:msgs", "chatring:{a}:meta", "{a}:meta",
		long, long[:254], long + "",
	}
}

// testIsolation: what is written to one conversation is never seen in
// another, whatever their IDs.
func testIsolation(t *testing.T, newStore NewStore) {
	s := open(t, newStore, chatring.Config{MaxTurns: 2})
	ctx := t.Context()
	convs := hostileConversations()
	seen := map[string]bool{}
	var unique []string
	for _, c := range convs {
		if !seen[c] {
			seen[c] = true
			unique = append(unique, c)
		}
	}
	for i, c := range unique {
		for j := range 2 {
			mustAppend(t, s, c, chatring.User, fmt.Sprintf("conv %d message %d", i, j))
		}
		if i%3 == 0 {
			if err := s.SetSystemPrompt(ctx, c, fmt.Sprintf("prompt of conv %d", i)); err != nil {
				t.Fatalf("SetSystemPrompt(%q): %v", c, err)
			}
		}
	}
	check := func(deleted map[int]bool) {
		t.Helper()
		for i, c := range unique {
			var want []string
			if !deleted[i] {
				if i%3 == 0 {
					want = append(want, fmt.Sprintf("0:system:prompt of conv %d", i))
				}
				for j := range 2 {
					want = append(want, fmt.Sprintf("%d:user:conv %d message %d", j+1, i, j))
				}
			}
			w, err := s.Window(ctx, c, 0)
			if err != nil {
				t.Fatalf("Window(%q): %v", c, err)
			}
			if diff := cmp.Diff(want, brief(w), equateEmpty); diff != "" {
				t.Errorf("conversation %q (-want +got):\n%s", c, diff)
			}
		}
	}
	check(nil)
	// Deleting and clearing one conversation touches no other.
	deleted := map[int]bool{}
	for i, c := range unique {
		if i%4 == 1 {
			if err := s.Delete(ctx, c); err != nil {
				t.Fatal(err)
			}
			deleted[i] = true
		}
	}
	check(deleted)
}

// testUnknownConversation: an unknown conversation reads as empty and
// writes that change nothing create nothing.
func testUnknownConversation(t *testing.T, newStore NewStore) {
	s := open(t, newStore, chatring.Config{})
	ctx := t.Context()
	dst := []chatring.Message{{Role: chatring.User, Content: "mine"}}
	got, err := s.Messages(ctx, "nobody", dst)
	if err != nil || len(got) != 1 || got[0].Content != "mine" {
		t.Errorf("Messages of an unknown conversation = %v, %v; want dst unchanged", brief(got), err)
	}
	if w, err := s.Window(ctx, "nobody", 0); err != nil || len(w) != 0 {
		t.Errorf("Window of an unknown conversation = %v, %v; want empty", brief(w), err)
	}
	if _, err := s.Window(ctx, "nobody", -1); !errors.Is(err, chatring.ErrBudgetTooSmall) {
		t.Errorf("Window(-1) of an unknown conversation: error %v, want ErrBudgetTooSmall", err)
	}
	for name, err := range map[string]error{
		"Clear":                 s.Clear(ctx, "nobody"),
		"Delete":                s.Delete(ctx, "nobody"),
		"SetSystemPrompt(\"\")": s.SetSystemPrompt(ctx, "nobody", ""),
	} {
		if err != nil {
			t.Errorf("%s of an unknown conversation: %v", name, err)
		}
	}
	if m := mustAppend(t, s, "nobody", chatring.User, "first"); m.Seq != 1 {
		t.Errorf("first Append got Seq %d, want 1", m.Seq)
	}
}

// testIdempotency: a retried ID returns the stored message, per
// conversation.
func testIdempotency(t *testing.T, newStore NewStore) {
	s := open(t, newStore, chatring.Config{MaxTurns: 3})
	ctx := t.Context()
	first, err := s.Append(ctx, "idem", chatring.Message{Role: chatring.User, Content: "hello", ID: "req-1"})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, "idem", chatring.Assistant, "hi")
	for _, retry := range []chatring.Message{
		{Role: chatring.User, Content: "hello", ID: "req-1"},
		{Role: chatring.User, Content: "hello, edited", ID: "req-1"},
	} {
		again, err := s.Append(ctx, "idem", retry)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("retry of ID req-1 (-first +retry):\n%s", diff)
		}
	}
	other, err := s.Append(ctx, "idem", chatring.Message{Role: chatring.User, Content: "hello", ID: "req-2"})
	if err != nil || other.Seq != 3 {
		t.Errorf("Append with another ID = seq %d, %v; want a new message, seq 3", other.Seq, err)
	}
	// IDs belong to their conversation.
	elsewhere, err := s.Append(ctx, "idem-other", chatring.Message{Role: chatring.User, Content: "hello", ID: "req-1"})
	if err != nil || elsewhere.Seq != 1 {
		t.Errorf("Append of ID req-1 to another conversation = seq %d, %v; want a new message, seq 1", elsewhere.Seq, err)
	}
	want := []string{"1:user:hello", "2:assistant:hi", "3:user:hello"}
	if diff := cmp.Diff(want, brief(messages(t, s, "idem"))); diff != "" {
		t.Errorf("window after retries (-want +got):\n%s", diff)
	}
	got := messages(t, s, "idem")
	if len(got) != 3 || got[0].ID != "req-1" || got[2].ID != "req-2" || got[1].ID != "" {
		t.Fatalf("stored messages %v, want IDs req-1, empty, req-2", got)
	}
	// Once its message has left the window (cleared, then pushed out by
	// newer messages: a window of 6) an ID may still be recognised, by a
	// store that keeps IDs longer than its window so that a late retry
	// is not stored twice (redisstore), or be stored anew (History keeps
	// IDs in its window only). Either way coherently: recognised is the
	// first Seq and stores nothing; anew is the next Seq, appended.
	gone := func(what, content string, last uint64) uint64 {
		t.Helper()
		before := messages(t, s, "idem")
		m, err := s.Append(ctx, "idem", chatring.Message{Role: chatring.User, Content: content, ID: "req-2"})
		after := messages(t, s, "idem")
		switch {
		case err != nil:
			t.Fatalf("Append of a%s ID: %v", what, err)
		case m.Seq == other.Seq:
			// The message returned is the one sent or the one stored:
			// same ID and role, either content.
			if m.ID != "req-2" || m.Role != chatring.User || (m.Content != content && m.Content != other.Content) {
				t.Errorf("Append of a%s ID was recognised (Seq %d) but returned %+v; want ID req-2, a user message with content %q or %q",
					what, m.Seq, m, content, other.Content)
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("Append of a%s ID was recognised (Seq %d) but changed the window (-before +after):\n%s", what, m.Seq, diff)
			}
			return last
		case m.Seq != last+1 || m.Content != content || len(after) == 0 || after[len(after)-1].Seq != m.Seq:
			t.Errorf("Append of a%s ID = %d:%q, window %v; want Seq %d (recognised) or a new message at Seq %d",
				what, m.Seq, m.Content, brief(after), other.Seq, last+1)
		}
		return m.Seq
	}
	if err := s.Clear(ctx, "idem"); err != nil {
		t.Fatal(err)
	}
	last := gone(" cleared", "after clear", 3)
	for i := range 6 {
		last = mustAppend(t, s, "idem", chatring.Assistant, fmt.Sprint("filler ", i)).Seq
	}
	gone("n evicted", "after eviction", last)
	// IDs are keyed by conversation and ID together, never by a string
	// built from both: each pair below would share a key conv+sep+id.
	for i, p := range [][2]string{
		{"idk|a", "b:c"}, {"idk|a:b", "c"},
		{"idk|x", "yz"}, {"idk|xy", "z"},
		{"idk|p", "q/r"}, {"idk|p/q", "r"},
		{"idk|s", "t u"}, {"idk|s t", "u"},
		{"idk|{k}", "}:v"}, {"idk|{k}}", ":v"},
	} {
		content := fmt.Sprint("pair ", i)
		m, err := s.Append(ctx, p[0], chatring.Message{Role: chatring.User, Content: content, ID: p[1]})
		if err != nil || m.Seq != 1 || m.Content != content {
			t.Errorf("Append(%q, ID %q) = %d:%q, %v; want its own message, seq 1", p[0], p[1], m.Seq, m.Content, err)
		}
		if diff := cmp.Diff([]string{"1:user:" + content}, brief(messages(t, s, p[0]))); diff != "" {
			t.Errorf("conversation %q (-want +got):\n%s", p[0], diff)
		}
	}
}

// testDelete: Delete removes everything; Seq starts again at 1.
func testDelete(t *testing.T, newStore NewStore) {
	s := open(t, newStore, chatring.Config{})
	ctx := t.Context()
	mustAppend(t, s, "del", chatring.User, "one")
	mustAppend(t, s, "del", chatring.Assistant, "two")
	if err := s.SetSystemPrompt(ctx, "del", "prompt"); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, "keep", chatring.User, "kept")
	if err := s.Delete(ctx, "del"); err != nil {
		t.Fatal(err)
	}
	if w, err := s.Window(ctx, "del", 0); err != nil || len(w) != 0 {
		t.Errorf("Window after Delete = %v, %v; want empty, prompt included", brief(w), err)
	}
	if m := mustAppend(t, s, "del", chatring.User, "again"); m.Seq != 1 {
		t.Errorf("Append after Delete got Seq %d, want 1", m.Seq)
	}
	// Nothing of the deleted conversation comes back with the new one:
	// neither its messages nor its prompt.
	w, err := s.Window(ctx, "del", 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1:user:again"}, brief(w)); diff != "" {
		t.Errorf("Window of a conversation recreated after Delete (-want +got):\n%s", diff)
	}
	// An ID of a deleted message no longer matches.
	if _, err := s.Append(ctx, "del2", chatring.Message{Role: chatring.User, Content: "x", ID: "d"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "del2"); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Append(ctx, "del2", chatring.Message{Role: chatring.User, Content: "x", ID: "d"}); err != nil || m.Seq != 1 {
		t.Errorf("Append of a deleted ID = seq %d, %v; want a new message, seq 1", m.Seq, err)
	}
	// Stored, not recognised: the deleted message had Seq 1 too.
	if diff := cmp.Diff([]string{"1:user:x"}, brief(messages(t, s, "del2"))); diff != "" {
		t.Errorf("Append of a deleted ID stored (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1:user:kept"}, brief(messages(t, s, "keep"))); diff != "" {
		t.Errorf("Delete changed another conversation (-want +got):\n%s", diff)
	}
}

// testClose: after Close every write fails with ErrClosed and changes
// nothing; reads either keep working or fail with ErrClosed.
func testClose(t *testing.T, newStore NewStore) {
	s := newStore(t, chatring.Config{MaxConversations: 1000})
	ctx := t.Context()
	mustAppend(t, s, "closing", chatring.User, "before")
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Close(closeCtx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(closeCtx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	writes := map[string]func() error{
		"Append": func() error {
			_, err := s.Append(ctx, "closing", chatring.Message{Role: chatring.User, Content: "after"})
			return err
		},
		"SetSystemPrompt": func() error { return s.SetSystemPrompt(ctx, "closing", "prompt") },
		"Clear":           func() error { return s.Clear(ctx, "closing") },
		"Delete":          func() error { return s.Delete(ctx, "closing") },
	}
	for name, call := range writes {
		if err := call(); !errors.Is(err, chatring.ErrClosed) {
			t.Errorf("%s after Close: error %v, want ErrClosed", name, err)
		}
	}
	got, err := s.Messages(ctx, "closing", nil)
	switch {
	case errors.Is(err, chatring.ErrClosed):
	case err != nil:
		t.Errorf("Messages after Close: %v, want the window or ErrClosed", err)
	default:
		if diff := cmp.Diff([]string{"1:user:before"}, brief(got)); diff != "" {
			t.Errorf("window after Close (-want +got):\n%s", diff)
		}
	}
}

// testCallerOwnsToolCalls: Append keeps no reference to the caller's
// ToolCalls. A caller that changes its slice after Append returns (a
// field set to a value validation would refuse, a call appended into the
// slice's spare capacity, the slice reused for the next message) changes
// nothing that Messages or Window return.
func testCallerOwnsToolCalls(t *testing.T, newStore NewStore) {
	s := open(t, newStore, chatring.Config{MaxTurns: 4})
	ctx := t.Context()
	const conv = "own-calls"
	calls := make([]chatring.ToolCall, 1, 4)
	calls[0] = chatring.ToolCall{ID: "call_1", Name: "lookup", Arguments: `{"q":"a"}`}
	first, err := s.Append(ctx, conv, chatring.Message{Role: chatring.Assistant, ToolCalls: calls})
	if err != nil {
		t.Fatal(err)
	}
	want := []chatring.Message{first}
	want[0].ToolCalls = []chatring.ToolCall{{ID: "call_1", Name: "lookup", Arguments: `{"q":"a"}`}}

	// What a caller that reuses its buffers does next.
	calls[0] = chatring.ToolCall{ID: "bad id", Name: "bad name", Arguments: "not json"}
	calls = append(calls, chatring.ToolCall{ID: "call_9", Name: "extra", Arguments: `{}`})
	if diff := cmp.Diff(want, messages(t, s, conv)); diff != "" {
		t.Fatalf("Messages after the caller changed its ToolCalls (-want +got):\n%s", diff)
	}
	calls = calls[:1]
	calls[0] = chatring.ToolCall{ID: "call_2", Name: "fetch", Arguments: `{"q":"b"}`}
	second, err := s.Append(ctx, conv, chatring.Message{Role: chatring.Tool, ToolCallID: "call_1", Content: "result"})
	if err != nil {
		t.Fatal(err)
	}
	third, err := s.Append(ctx, conv, chatring.Message{Role: chatring.Assistant, ToolCalls: calls})
	if err != nil {
		t.Fatal(err)
	}
	calls[0].Name = "changed"
	third.ToolCalls = []chatring.ToolCall{{ID: "call_2", Name: "fetch", Arguments: `{"q":"b"}`}}
	want = append(want, second, third)
	if diff := cmp.Diff(want, messages(t, s, conv)); diff != "" {
		t.Errorf("Messages after the caller reused its ToolCalls (-want +got):\n%s", diff)
	}
	win, err := s.Window(ctx, conv, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, win); diff != "" {
		t.Errorf("Window after the caller reused its ToolCalls (-want +got):\n%s", diff)
	}
}

// testToolTokens: Message.Tokens counts the tool fields as well as the
// content, one Count per non-empty string (the Message.Tokens contract),
// whatever the store's Tokenizer: the tokens of a message with tool fields
// are the sum of the tokens of user messages holding each of its strings
// as content; and Messages returns the counts Append did.
func testToolTokens(t *testing.T, newStore NewStore) {
	s := open(t, newStore, chatring.Config{MaxTurns: 8})
	ctx := t.Context()
	const conv = "tool-tokens"
	acked := map[uint64]int{} // Tokens as Append returned them, by Seq
	tokens := func(m chatring.Message) int {
		t.Helper()
		got, err := s.Append(ctx, conv, m)
		if err != nil {
			t.Fatalf("Append(%s): %v", m.Role, err)
		}
		acked[got.Seq] = got.Tokens
		return got.Tokens
	}
	of := func(text string) int {
		t.Helper()
		return tokens(chatring.Message{Role: chatring.User, Content: text})
	}
	call := chatring.ToolCall{ID: "call_tokens_1", Name: "weather_lookup", Arguments: `{"city": "Paris", "days": 3}`}
	want := of("Let me check.") + of(call.ID) + of(call.Name) + of(call.Arguments)
	if got := tokens(chatring.Message{Role: chatring.Assistant, Content: "Let me check.", ToolCalls: []chatring.ToolCall{call}}); got != want {
		t.Errorf("an assistant message with a tool call has %d tokens, want %d: its content's and each of the call's ID, Name and Arguments", got, want)
	}
	want = of(call.ID) + of(call.Name) + of(call.Arguments)
	if got := tokens(chatring.Message{Role: chatring.Assistant, ToolCalls: []chatring.ToolCall{call}}); got != want {
		t.Errorf("an assistant message with only a tool call has %d tokens, want %d", got, want)
	}
	want = of("Sunny, 21 degrees.") + of(call.ID)
	if got := tokens(chatring.Message{Role: chatring.Tool, ToolCallID: call.ID, Content: "Sunny, 21 degrees."}); got != want {
		t.Errorf("a tool result has %d tokens, want %d: its content's and its ToolCallID's", got, want)
	}
	win := messages(t, s, conv)
	if len(win) != len(acked) {
		t.Fatalf("Messages holds %d messages, want the %d appended", len(win), len(acked))
	}
	for _, m := range win {
		if m.Tokens != acked[m.Seq] {
			t.Errorf("Messages: %s message Seq %d has %d tokens; Append returned %d", m.Role, m.Seq, m.Tokens, acked[m.Seq])
		}
	}
}

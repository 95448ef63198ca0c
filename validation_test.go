package chatring_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const testMaxBytes = 64

// state is everything a rejected call must leave unchanged.
type state struct {
	Messages []chatring.Message
	Window   []chatring.Message
	Stats    chatring.Stats
}

func readState(t *testing.T, h *chatring.History) state {
	t.Helper()
	msgs, err := h.Messages(t.Context(), nil)
	if err != nil {
		t.Fatalf("Messages: %v", err)
	}
	win, err := h.Window(t.Context(), 0)
	if err != nil {
		t.Fatalf("Window: %v", err)
	}
	return state{msgs, win, h.Stats()}
}

// ignoreVolatile ignores the Stats fields a rejection may change.
var ignoreVolatile = cmpopts.IgnoreFields(chatring.Stats{}, "Uptime", "Rejected", "RejectedByReason")

// populated returns a History of capacity 4 with six messages appended
// (two evicted), a pinned system prompt and testMaxBytes-byte messages.
func populated(t *testing.T, backend string) *chatring.History {
	t.Helper()
	h := newHistory(t, chatring.Config{Backend: backend, MaxTurns: 2, MaxMessageBytes: testMaxBytes})
	if err := h.SetSystemPrompt("You are terse."); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		mustAppend(t, h, chatring.User, strings.Repeat("q", i+1))
		mustAppend(t, h, chatring.Assistant, strings.Repeat("a", i+1))
	}
	return h
}

func TestRejectedInputChangesNothing(t *testing.T) {
	appendMsg := func(m chatring.Message) func(context.Context, *chatring.History) error {
		return func(ctx context.Context, h *chatring.History) error {
			got, err := h.Append(ctx, m)
			if err != nil && !cmp.Equal(got, chatring.Message{}) {
				t.Errorf("Append returned %+v with error %v, want the zero Message", got, err)
			}
			return err
		}
	}
	appendContent := func(content string) func(context.Context, *chatring.History) error {
		return appendMsg(chatring.Message{Role: chatring.User, Content: content})
	}
	setPrompt := func(p string) func(context.Context, *chatring.History) error {
		return func(_ context.Context, h *chatring.History) error { return h.SetSystemPrompt(p) }
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name     string
		closed   bool            // Close before the call
		ctx      context.Context // nil: the test's context
		op       func(context.Context, *chatring.History) error
		want     error
		reason   string // the RejectedByReason key counted, "" for none
		wantVErr string // the ValidationError.Field, "" for none
	}{
		{name: "role empty", op: appendMsg(chatring.Message{Content: "hi"}),
			want: chatring.ErrInvalidRole, reason: "invalid_role", wantVErr: "role"},
		{name: "role unknown", op: appendMsg(chatring.Message{Role: "admin", Content: "hi"}),
			want: chatring.ErrInvalidRole, reason: "invalid_role", wantVErr: "role"},
		{name: "role wrong case", op: appendMsg(chatring.Message{Role: "User", Content: "hi"}),
			want: chatring.ErrInvalidRole, reason: "invalid_role", wantVErr: "role"},
		{name: "role checked before content", op: appendMsg(chatring.Message{Role: "bot"}),
			want: chatring.ErrInvalidRole, reason: "invalid_role", wantVErr: "role"},
		{name: "content empty", op: appendContent(""),
			want: chatring.ErrEmptyContent, reason: "empty_content", wantVErr: "content"},
		{name: "content white space", op: appendContent(" \t\r\n "),
			want: chatring.ErrEmptyContent, reason: "empty_content", wantVErr: "content"},
		{name: "content one byte too large", op: appendContent(strings.Repeat("x", testMaxBytes+1)),
			want: chatring.ErrMessageTooLarge, reason: "message_too_large", wantVErr: "content"},
		{name: "content too large in bytes not runes", op: appendContent(strings.Repeat("é", testMaxBytes/2+1)),
			want: chatring.ErrMessageTooLarge, reason: "message_too_large", wantVErr: "content"},
		{name: "content invalid UTF-8", op: appendContent("ok \xff ok"),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "content"},
		{name: "content truncated rune", op: appendContent("caf\xc3"),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "content"},
		{name: "content surrogate half", op: appendContent("\xed\xa0\x80"),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "content"},
		{name: "content NUL", op: appendContent("a\x00b"),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "content"},
		{name: "content escape sequence", op: appendContent("\x1b[31mred"),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "content"},
		{name: "content NUL after two clean words", op: appendContent("0123456789abcdef\x00tail"),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "content"},
		{name: "content DEL in the ninth byte", op: appendContent("12345678\x7f"),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "content"},
		{name: "content DEL", op: appendContent("a\x7f"),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "content"},
		{name: "content C1 control", op: appendContent("a\u0085b"),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "content"},
		{name: "content vertical tab", op: appendContent("a\vb"),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "content"},
		{name: "name with newline", op: appendMsg(chatring.Message{Role: chatring.Tool, Content: "42", Name: "calc\n"}),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "name"},
		{name: "name invalid UTF-8", op: appendMsg(chatring.Message{Role: chatring.User, Content: "hi", Name: "\xc0"}),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "name"},
		{name: "name too long", op: appendMsg(chatring.Message{Role: chatring.User, Content: "hi",
			Name: strings.Repeat("n", chatring.MaxNameBytes+1)}),
			want: chatring.ErrMessageTooLarge, reason: "message_too_large", wantVErr: "name"},
		{name: "tool message without tool_call_id", op: appendMsg(chatring.Message{Role: chatring.Tool, Content: "42"}),
			want: chatring.ErrInvalidToolCall, reason: "invalid_tool_call", wantVErr: "tool_call_id"},
		{name: "tool_call_id on a user message", op: appendMsg(chatring.Message{Role: chatring.User, Content: "hi", ToolCallID: "c1"}),
			want: chatring.ErrInvalidToolCall, reason: "invalid_tool_call", wantVErr: "tool_call_id"},
		{name: "tool_call_id on an assistant message", op: appendMsg(withCalls("hi", "c1", "f", "{}", "tool_call_id=c0")),
			want: chatring.ErrInvalidToolCall, reason: "invalid_tool_call", wantVErr: "tool_call_id"},
		{name: "tool calls on a user message", op: appendMsg(chatring.Message{Role: chatring.User, Content: "hi",
			ToolCalls: []chatring.ToolCall{{ID: "c1", Name: "f", Arguments: "{}"}}}),
			want: chatring.ErrInvalidToolCall, reason: "invalid_tool_call", wantVErr: "tool_calls"},
		{name: "tool calls on a tool message", op: appendMsg(chatring.Message{Role: chatring.Tool, Content: "1", ToolCallID: "c0",
			ToolCalls: []chatring.ToolCall{{ID: "c1", Name: "f", Arguments: "{}"}}}),
			want: chatring.ErrInvalidToolCall, reason: "invalid_tool_call", wantVErr: "tool_calls"},
		{name: "too many tool calls", op: appendMsg(manyCalls(chatring.MaxToolCalls + 1)),
			want: chatring.ErrMessageTooLarge, reason: "message_too_large", wantVErr: "tool_calls"},
		{name: "empty content without tool calls", op: appendMsg(chatring.Message{Role: chatring.Assistant}),
			want: chatring.ErrEmptyContent, reason: "empty_content", wantVErr: "content"},
		{name: "blank content with tool calls", op: appendMsg(withCalls(" \n", "c1", "f", "{}")),
			want: chatring.ErrEmptyContent, reason: "empty_content", wantVErr: "content"},
		{name: "tool call ID empty", op: appendMsg(withCalls("", "c1", "f", "{}", "", "f", "{}")),
			want: chatring.ErrInvalidToolCall, reason: "invalid_tool_call", wantVErr: "tool_calls[1].id"},
		{name: "tool call IDs repeated", op: appendMsg(withCalls("", "c1", "f", "{}", "c2", "g", "{}", "c1", "h", "{}")),
			want: chatring.ErrInvalidToolCall, reason: "invalid_tool_call", wantVErr: "tool_calls[2].id"},
		{name: "tool call ID with a space", op: appendMsg(withCalls("", "c 1", "f", "{}")),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "tool_calls[0].id"},
		{name: "tool call ID not ASCII", op: appendMsg(withCalls("", "cé", "f", "{}")),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "tool_calls[0].id"},
		{name: "tool call ID too long", op: appendMsg(withCalls("", strings.Repeat("i", chatring.MaxToolCallIDBytes+1), "f", "{}")),
			want: chatring.ErrMessageTooLarge, reason: "message_too_large", wantVErr: "tool_calls[0].id"},
		{name: "tool call name empty", op: appendMsg(withCalls("", "c1", "", "{}")),
			want: chatring.ErrInvalidToolCall, reason: "invalid_tool_call", wantVErr: "tool_calls[0].name"},
		{name: "tool call name with a tab", op: appendMsg(withCalls("", "c1", "get\tweather", "{}")),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "tool_calls[0].name"},
		{name: "tool call name too long", op: appendMsg(withCalls("", "c1", strings.Repeat("n", chatring.MaxToolNameBytes+1), "{}")),
			want: chatring.ErrMessageTooLarge, reason: "message_too_large", wantVErr: "tool_calls[0].name"},
		{name: "tool call arguments empty", op: appendMsg(withCalls("", "c1", "f", "")),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "tool_calls[0].arguments"},
		{name: "tool call arguments not JSON", op: appendMsg(withCalls("", "c1", "f", "{}", "c2", "f", `{"a":}`)),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "tool_calls[1].arguments"},
		{name: "tool call arguments two values", op: appendMsg(withCalls("", "c1", "f", "{} {}")),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "tool_calls[0].arguments"},
		{name: "tool call arguments an array", op: appendMsg(withCalls("", "c1", "f", "[1]")),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "tool_calls[0].arguments"},
		{name: "tool call arguments a string", op: appendMsg(withCalls("", "c1", "f", `"{}"`)),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "tool_calls[0].arguments"},
		{name: "tool call arguments invalid UTF-8", op: appendMsg(withCalls("", "c1", "f", "{\"a\":\"\xff\"}")),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "tool_calls[0].arguments"},
		{name: "tool call arguments with a C1 control", op: appendMsg(withCalls("", "c1", "f", "{\"a\":\"\u0085\"}")),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "tool_calls[0].arguments"},
		{name: "tool call arguments over the message limit", op: appendMsg(withCalls(strings.Repeat("x", testMaxBytes-8),
			"c1", "f", `{"a":1}`)),
			want: chatring.ErrMessageTooLarge, reason: "message_too_large", wantVErr: "tool_calls[0].arguments"},
		{name: "second tool call over the message limit", op: appendMsg(withCalls("",
			"c1", "f", "{\"a\":\""+strings.Repeat("x", testMaxBytes-12)+"\"}", "c2", "f", "{}")),
			want: chatring.ErrMessageTooLarge, reason: "message_too_large", wantVErr: "tool_calls[1].id"},
		{name: "tool_call_id over the message limit", op: appendMsg(chatring.Message{Role: chatring.Tool,
			Content: strings.Repeat("x", testMaxBytes-2), ToolCallID: "c12"}),
			want: chatring.ErrMessageTooLarge, reason: "message_too_large", wantVErr: "tool_call_id"},
		{name: "tool_call_id with a newline", op: appendMsg(chatring.Message{Role: chatring.Tool, Content: "1", ToolCallID: "c\n"}),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "tool_call_id"},
		{name: "system prompt too large", op: setPrompt(strings.Repeat("s", testMaxBytes+1)),
			want: chatring.ErrMessageTooLarge, reason: "message_too_large", wantVErr: "system_prompt"},
		{name: "system prompt control char", op: setPrompt("be\x07nice"),
			want: chatring.ErrInvalidContent, reason: "invalid_content", wantVErr: "system_prompt"},
		{name: "system prompt white space", op: setPrompt("  "),
			want: chatring.ErrEmptyContent, reason: "empty_content", wantVErr: "system_prompt"},
		{name: "append after close", closed: true, op: appendContent("hi"),
			want: chatring.ErrClosed, reason: "closed"},
		{name: "invalid append after close", closed: true, op: appendContent(""),
			want: chatring.ErrClosed, reason: "closed"},
		{name: "system prompt after close", closed: true, op: setPrompt("new"),
			want: chatring.ErrClosed, reason: "closed"},
		{name: "system prompt removal after close", closed: true, op: setPrompt(""),
			want: chatring.ErrClosed, reason: "closed"},
		{name: "clear after close", closed: true,
			op:   func(ctx context.Context, h *chatring.History) error { return h.Clear(ctx) },
			want: chatring.ErrClosed},
		{name: "append with canceled context", ctx: canceled, op: appendContent("hi"),
			want: context.Canceled, reason: "canceled"},
		{name: "clear with canceled context", ctx: canceled,
			op:   func(ctx context.Context, h *chatring.History) error { return h.Clear(ctx) },
			want: context.Canceled},
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := populated(t, backend)
				if tt.closed {
					if err := h.Close(); err != nil {
						t.Fatal(err)
					}
				}
				before := readState(t, h)
				ctx := tt.ctx
				if ctx == nil {
					ctx = t.Context()
				}
				err := tt.op(ctx, h)
				if !errors.Is(err, tt.want) {
					t.Fatalf("error = %v, want errors.Is %v", err, tt.want)
				}
				// ErrClosed is a *ValidationError too, with no Field.
				wantV := tt.wantVErr != "" || tt.want == chatring.ErrClosed
				var ve *chatring.ValidationError
				if errors.As(err, &ve) != wantV {
					t.Errorf("errors.As(%v, *ValidationError) = %v, want %v", err, ve != nil, wantV)
				} else if ve != nil && (ve.Field != tt.wantVErr || ve.Err != tt.want) {
					t.Errorf("ValidationError{Field: %q, Err: %v}, want {%q, %v}", ve.Field, ve.Err, tt.wantVErr, tt.want)
				}

				after := readState(t, h)
				if diff := cmp.Diff(before, after, ignoreVolatile); diff != "" {
					t.Errorf("rejected call changed the history (-before +after):\n%s", diff)
				}
				wantRejected := map[string]uint64{}
				if tt.reason != "" {
					wantRejected[tt.reason] = 1
				}
				if diff := cmp.Diff(wantRejected, after.Stats.RejectedByReason); diff != "" {
					t.Errorf("RejectedByReason (-want +got):\n%s", diff)
				}
				if got, want := after.Stats.Rejected, uint64(len(wantRejected)); got != want {
					t.Errorf("Rejected = %d, want %d", got, want)
				}
			})
		}
	})
}

func TestAcceptedInput(t *testing.T) {
	tests := []struct {
		name string
		msg  chatring.Message
	}{
		{"exactly the size limit", chatring.Message{Role: chatring.User, Content: strings.Repeat("x", testMaxBytes)}},
		{"tab newline carriage return", chatring.Message{Role: chatring.Assistant, Content: "a\tb\r\nc"}},
		{"multilingual", chatring.Message{Role: chatring.User, Content: "你好, café, 🙂"}},
		{"leading white space kept", chatring.Message{Role: chatring.User, Content: "  indented"}},
		{"tool with name", chatring.Message{Role: chatring.Tool, Content: `{"temp": 21}`, Name: "weather", ToolCallID: "c1"}},
		{"system in window", chatring.Message{Role: chatring.System, Content: "Switch to French."}},
		{"tool call without content", withCalls("", "call_1", "get_weather", `{"city": "Paris"}`)},
		{"tool calls with content", withCalls("Checking.", "call_1", "get_weather", `{"city":"Paris"}`,
			"call_2", "get_weather", " \t{\"city\":\"Rome\"}\n")},
		{"tool result", chatring.Message{Role: chatring.Tool, Content: `{"temp": 21}`, ToolCallID: "call_1"}},
		{"tool call IDs and names of printable ASCII", withCalls("", "!~|{}", "ns.fn:v2", "{}")},
		{"exactly the size limit with tool calls", withCalls(strings.Repeat("x", testMaxBytes-11), "c1", "fn", `{"a":1}`)},
		{"longest tool call ID and name", withCalls("", strings.Repeat("i", chatring.MaxToolCallIDBytes),
			strings.Repeat("n", chatring.MaxToolNameBytes), "{}")},
		{"most tool calls", manyCalls(chatring.MaxToolCalls)},

		{"caller Seq Time Tokens ignored", chatring.Message{Role: chatring.User, Content: "hi", Seq: 99, Tokens: -5}},
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				maxBytes := testMaxBytes
				if len(tt.msg.ToolCalls) > 1 || len(tt.msg.ToolCalls) == 1 && len(tt.msg.ToolCalls[0].ID) > 10 {
					maxBytes = 32 << 10 // room for many or long calls
				}
				h := newHistory(t, chatring.Config{Backend: backend, MaxMessageBytes: maxBytes})
				mustAppend(t, h, chatring.User, "first")
				got, err := h.Append(t.Context(), tt.msg)
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				want := tt.msg
				want.Seq = 2
				want.Tokens = approxTokens(tt.msg)
				if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(chatring.Message{}, "Time")); diff != "" {
					t.Errorf("Append returned (-want +got):\n%s", diff)
				}
				if got.Time.IsZero() {
					t.Error("Append left Time zero")
				}
				msgs, err := h.Messages(t.Context(), nil)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(got, msgs[len(msgs)-1]); diff != "" {
					t.Errorf("stored message differs from the returned one (-returned +stored):\n%s", diff)
				}
			})
		}
	})
}

func TestCloseIsIdempotentAndReadsWork(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		h := populated(t, backend)
		before := readState(t, h)
		for range 3 {
			if err := h.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
		after := readState(t, h)
		if !after.Stats.Closed {
			t.Error("Stats.Closed = false after Close")
		}
		if diff := cmp.Diff(before, after, ignoreVolatile, cmpopts.IgnoreFields(chatring.Stats{}, "Closed")); diff != "" {
			t.Errorf("Close changed what reads return (-before +after):\n%s", diff)
		}
	})
}

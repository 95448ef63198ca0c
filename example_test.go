package chatring_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/chatring/chatring"
)

func ExampleNew() {
	h, err := chatring.New(chatring.Config{Backend: "lockfree", MaxTurns: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()

	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		for _, m := range []chatring.Message{
			{Role: chatring.User, Content: fmt.Sprintf("question %d", i)},
			{Role: chatring.Assistant, Content: fmt.Sprintf("answer %d", i)},
		} {
			if _, err := h.Append(ctx, m); err != nil {
				log.Fatal(err) // permanent: never retry
			}
		}
	}
	msgs, err := h.Messages(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		fmt.Println(m.Seq, m.Role, m.Content)
	}
	s := h.Stats()
	fmt.Printf("appended %d, evicted %d, user %d\n", s.Appended, s.Evicted, s.ByRole[chatring.User])
	// Output:
	// 3 user question 2
	// 4 assistant answer 2
	// 5 user question 3
	// 6 assistant answer 3
	// appended 6, evicted 2, user 3
}

func ExampleHistory_Append() {
	h, _ := chatring.New(chatring.Config{})
	ctx := context.Background()

	m, err := h.Append(ctx, chatring.Message{Role: chatring.User, Content: "What is a ring buffer?"})
	fmt.Println(m.Seq, m.Tokens, err)

	// Invalid input is rejected with a sentinel error; never retry it.
	_, err = h.Append(ctx, chatring.Message{Role: "admin", Content: "hi"})
	fmt.Println(errors.Is(err, chatring.ErrInvalidRole))
	_, err = h.Append(ctx, chatring.Message{Role: chatring.User, Content: "bell\a"})
	var ve *chatring.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Field, ve.Reason)
	}

	h.Close()
	_, err = h.Append(ctx, chatring.Message{Role: chatring.User, Content: "still there?"})
	fmt.Println(err)
	// Output:
	// 1 6 <nil>
	// true
	// content control character U+0007 at byte 4
	// chatring: history closed: append after Close
}

func ExampleHistory_Window() {
	// One token per word keeps the arithmetic visible.
	words := chatring.TokenizerFunc(func(s string) int { return len(strings.Fields(s)) })
	h, _ := chatring.New(chatring.Config{}, chatring.WithTokenizer(words))
	ctx := context.Background()
	h.SetSystemPrompt("Answer briefly.")                                                // 2 tokens
	h.Append(ctx, chatring.Message{Role: chatring.User, Content: "Capital of France?"}) // 3
	h.Append(ctx, chatring.Message{Role: chatring.Assistant, Content: "Paris."})        // 1
	h.Append(ctx, chatring.Message{Role: chatring.User, Content: "And of Italy?"})      // 3
	h.Append(ctx, chatring.Message{Role: chatring.Assistant, Content: "Rome."})         // 1

	for _, budget := range []int{10, 6, 3} {
		win, _ := h.Window(ctx, budget)
		fmt.Printf("budget %d:", budget)
		for _, m := range win {
			fmt.Printf(" [%s] %s", m.Role, m.Content)
		}
		fmt.Println()
	}
	_, err := h.Window(ctx, 1)
	fmt.Println(err)
	// Output:
	// budget 10: [system] Answer briefly. [user] Capital of France? [assistant] Paris. [user] And of Italy? [assistant] Rome.
	// budget 6: [system] Answer briefly. [user] And of Italy? [assistant] Rome.
	// budget 3: [system] Answer briefly.
	// chatring: token budget too small: max_tokens: system prompt alone is 2 tokens, budget 1
}

func ExampleParseConfig() {
	cfg, err := chatring.ParseConfig([]byte(`{"backend": "sharded", "max_turns": 5, "shards": 4}`))
	fmt.Printf("%+v %v\n", cfg, err)

	_, err = chatring.ParseConfig([]byte(`{"max_turns": 5, "enable_logging": true}`))
	fmt.Println(err)
	_, err = chatring.ParseConfig([]byte(`{"max_turns": 0}`))
	fmt.Println(errors.Is(err, chatring.ErrInvalidConfig), err)
	// Output:
	// {Backend:sharded MaxTurns:5 MaxTokens:4096 MaxMessageBytes:32768 Shards:4 IdleTTL:24h0m0s MaxConversations:100000} <nil>
	// chatring: invalid config: enable_logging: unknown field; the fields are backend, max_turns, max_tokens, max_message_bytes, shards, idle_ttl, max_conversations
	// true chatring: invalid config: max_turns: explicit 0; leave the field out for the default
}

func ExampleHistory_Stats() {
	h, _ := chatring.New(chatring.Config{MaxTurns: 1})
	ctx := context.Background()
	h.Append(ctx, chatring.Message{Role: chatring.User, Content: "hi"})
	h.Append(ctx, chatring.Message{Role: chatring.Assistant, Content: "hello"})
	h.Append(ctx, chatring.Message{Role: chatring.User, Content: "bye"})
	h.Append(ctx, chatring.Message{Role: chatring.User, Content: ""})
	s := h.Stats()
	fmt.Println(s.Appended, s.Evicted, s.Rejected, s.RejectedByReason, s.WindowMessages, s.WindowBytes)
	// Output:
	// 3 1 1 map[empty_content:1] 2 8
}

// A fixed clock makes the times History stores reproducible, for golden
// tests of what a service sends or saves.
func ExampleWithClock() {
	t := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { // one second per reading
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
	h, err := chatring.New(chatring.Config{}, chatring.WithClock(clock))
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()

	ctx := context.Background()
	for _, m := range []chatring.Message{
		{Role: chatring.User, Content: "What time is it?"},
		{Role: chatring.Assistant, Content: "Nine, and a few seconds."},
	} {
		if _, err := h.Append(ctx, m); err != nil {
			log.Fatal(err)
		}
	}
	msgs, err := h.Messages(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		fmt.Println(m.Time.Format(time.TimeOnly), m.Role)
	}
	fmt.Println("uptime", h.Stats().Uptime)
	// Output:
	// 09:00:02 user
	// 09:00:03 assistant
	// uptime 3s
}

// Clear empties the window but keeps the pinned system prompt, and
// sequence numbers continue after it.
func ExampleHistory_Clear() {
	h, _ := chatring.New(chatring.Config{})
	ctx := context.Background()
	h.SetSystemPrompt("You are terse.")
	h.Append(ctx, chatring.Message{Role: chatring.User, Content: "hello"})
	h.Append(ctx, chatring.Message{Role: chatring.Assistant, Content: "hi"})

	if err := h.Clear(ctx); err != nil {
		log.Fatal(err)
	}
	msgs, _ := h.Messages(ctx, nil)
	fmt.Println(len(msgs), h.Stats().Cleared)

	h.Append(ctx, chatring.Message{Role: chatring.User, Content: "new topic"})
	window, _ := h.Window(ctx, 0)
	for _, m := range window {
		fmt.Println(m.Seq, m.Role, m.Content)
	}
	// Output:
	// 0 2
	// 0 system You are terse.
	// 3 user new topic
}

// WithLogger sends the History's structured logs to a log/slog logger:
// appends at Debug, rejections at Warn. Sizes, token counts, sequence
// numbers and reasons are logged; message content and names never are.
func ExampleWithLogger() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // reproducible output
			}
			return a
		},
	}))
	h, _ := chatring.New(chatring.Config{}, chatring.WithLogger(logger))
	ctx := context.Background()
	h.Append(ctx, chatring.Message{Role: chatring.User, Content: "my card number is 4111 1111 1111 1111"})
	h.Append(ctx, chatring.Message{Role: chatring.User, Content: "secret\x00"})
	// Output:
	// level=DEBUG msg="chatring: append" role=user bytes=37 tokens=16 seq=1
	// level=WARN msg="chatring: rejected" op=append reason=invalid_content role=user bytes=7 field=content detail="control character U+0000 at byte 6"
}

// SystemPrompt returns the pinned prompt, with Seq 0 and its token count;
// the empty string removes it.
func ExampleHistory_SystemPrompt() {
	h, _ := chatring.New(chatring.Config{})
	if err := h.SetSystemPrompt("You are a helpful assistant."); err != nil {
		log.Fatal(err)
	}
	p, ok := h.SystemPrompt()
	fmt.Println(ok, p.Seq, p.Role, p.Content, p.Tokens)

	h.SetSystemPrompt("")
	_, ok = h.SystemPrompt()
	fmt.Println(ok)
	// Output:
	// true 0 system You are a helpful assistant. 8
	// false
}

// Backends lists the names Config.Backend accepts, the default first;
// every backend behaves the same and differs only in cost.
func ExampleBackends() {
	for _, b := range chatring.Backends() {
		h, err := chatring.New(chatring.Config{Backend: b, MaxTurns: 3})
		if err != nil {
			log.Fatal(err)
		}
		s := h.Stats()
		fmt.Println(s.Backend, s.Capacity)
	}
	// Output:
	// mutex 6
	// lockfree 6
	// sharded 6
}

// Validate checks a Config built in Go before New does: the zero value is
// valid (every field takes its default), and a bad field is reported as a
// *ValidationError that names it.
func ExampleConfig_Validate() {
	fmt.Println(chatring.Config{}.Validate())

	err := chatring.Config{Backend: chatring.BackendLockFree, Shards: 4}.Validate()
	var ve *chatring.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(errors.Is(err, chatring.ErrInvalidConfig), ve.Field)
	}
	fmt.Println(err)
	// Output:
	// <nil>
	// true shards
	// chatring: invalid config: shards: only applies to backend "sharded", not "lockfree"
}

// Window shows a tool exchange whose results are still coming in;
// CompleteExchanges leaves it out of the request to a model.
func ExampleCompleteExchanges() {
	h, _ := chatring.New(chatring.Config{})
	ctx := context.Background()
	h.Append(ctx, chatring.Message{Role: chatring.User, Content: "Weather in Paris and Rome?"})
	// The model calls two tools; the application runs them.
	h.Append(ctx, chatring.Message{Role: chatring.Assistant, ToolCalls: []chatring.ToolCall{
		{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`},
		{ID: "call_2", Name: "get_weather", Arguments: `{"city":"Rome"}`},
	}})
	h.Append(ctx, chatring.Message{Role: chatring.Tool, ToolCallID: "call_2", Content: "25C"})

	show := func(label string, win []chatring.Message) {
		fmt.Printf("%s:", label)
		for _, m := range win {
			fmt.Printf(" %s", m.Role)
			for _, c := range m.ToolCalls {
				fmt.Printf(" ->%s", c.ID)
			}
			if m.ToolCallID != "" {
				fmt.Printf(" <-%s", m.ToolCallID)
			}
		}
		fmt.Println()
	}
	// One result is still missing: Window shows the exchange in flight,
	// CompleteExchanges leaves it out of a request.
	win, _ := h.Window(ctx, 0)
	show("window", win)
	show("request", chatring.CompleteExchanges(win))

	h.Append(ctx, chatring.Message{Role: chatring.Tool, ToolCallID: "call_1", Content: "21C"})
	win, _ = h.Window(ctx, 0)
	show("request", chatring.CompleteExchanges(win))
	// Output:
	// window: user assistant ->call_1 ->call_2 tool <-call_2
	// request: user
	// request: user assistant ->call_1 ->call_2 tool <-call_2 tool <-call_1
}

package chatanthropic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/chatring/chatring"
	chatanthropic "github.com/chatring/chatring/adapters/anthropic"
)

// fakeAnthropic stands in for the API: it prints the shape of each
// request and answers first with a tool call, then with text.
func fakeAnthropic() *httptest.Server {
	replies := []string{
		`[{"type":"text","text":"Let me look."},` +
			`{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}}]`,
		`[{"type":"text","text":"It is 21C in Paris."}]`,
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			System   []struct{ Text string }
			Messages []struct {
				Role    string
				Content []struct{ Type string }
			}
		}
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &req)
		fmt.Printf("request: system %q;", req.System[0].Text)
		for _, m := range req.Messages {
			fmt.Print(" ", m.Role, "[")
			for i, b := range m.Content {
				if i > 0 {
					fmt.Print(" ")
				}
				fmt.Print(b.Type)
			}
			fmt.Print("]")
		}
		fmt.Println()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, message(replies[0]))
		replies = replies[1:]
	}))
}

// A tool-using turn: append the user's message, build the request from
// Window, append the model's reply with its tool call, append the tool's
// result, and ask again.
func Example() {
	api := fakeAnthropic() // the real API: leave out the base URL
	defer api.Close()
	client := anthropic.NewClient(option.WithBaseURL(api.URL), option.WithAPIKey("sk-ant-..."))

	ctx := context.Background()
	h, err := chatring.New(chatring.Config{MaxTurns: 20})
	if err != nil {
		log.Fatal(err)
	}
	h.SetSystemPrompt("You are a weather assistant.")
	if _, err := h.Append(ctx, chatring.Message{Role: chatring.User, Content: "Weather in Paris?"}); err != nil {
		log.Fatal(err)
	}
	for {
		win, err := h.Window(ctx, 0)
		if err != nil {
			log.Fatal(err)
		}
		system, messages := chatanthropic.Messages(chatring.CompleteExchanges(win))
		resp, err := client.Messages.New(ctx, anthropic.MessageNewParams{
			Model: anthropic.ModelClaudeSonnet5_5, MaxTokens: 1024,
			System: system, Messages: messages,
		})
		if err != nil {
			log.Fatal(err)
		}
		reply, err := chatanthropic.FromMessage(resp)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := h.Append(ctx, reply); err != nil {
			log.Fatal(err)
		}
		if len(reply.ToolCalls) == 0 {
			fmt.Println("answer:", reply.Content)
			return
		}
		for _, c := range reply.ToolCalls {
			result := "21C" // run the tool c.Name with c.Arguments
			fmt.Printf("tool: %s(%s) = %s\n", c.Name, c.Arguments, result)
			if _, err := h.Append(ctx, chatring.Message{Role: chatring.Tool, ToolCallID: c.ID, Content: result}); err != nil {
				log.Fatal(err)
			}
		}
	}
	// Output:
	// request: system "You are a weather assistant."; user[text]
	// tool: get_weather({"city":"Paris"}) = 21C
	// request: system "You are a weather assistant."; user[text] assistant[text tool_use] user[tool_result]
	// answer: It is 21C in Paris.
}

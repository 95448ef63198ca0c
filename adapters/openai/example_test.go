package chatopenai_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/chatring/chatring"
	chatopenai "github.com/chatring/chatring/adapters/openai"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// fakeOpenAI stands in for the API: it prints the roles of each request
// and answers first with a tool call, then with text.
func fakeOpenAI() *httptest.Server {
	replies := []string{
		`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",` +
			`"function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}`,
		`{"role":"assistant","content":"It is 21C in Paris."}`,
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Messages []struct{ Role string } }
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &req)
		fmt.Print("request:")
		for _, m := range req.Messages {
			fmt.Print(" ", m.Role)
		}
		fmt.Println()
		reply := replies[0]
		replies = replies[1:]
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, completion(reply))
	}))
}

// A tool-using turn: append the user's message, build the request from
// Window, append the model's reply with its tool call, append the tool's
// result, and ask again.
func Example() {
	api := fakeOpenAI() // the real API: leave out the base URL
	defer api.Close()
	client := openai.NewClient(option.WithBaseURL(api.URL), option.WithAPIKey("sk-..."))

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
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    openai.ChatModelGPT5_5,
			Messages: chatopenai.Messages(chatring.CompleteExchanges(win)),
		})
		if err != nil {
			log.Fatal(err)
		}
		reply, err := chatopenai.FromCompletion(resp.Choices[0].Message)
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
	// request: system user
	// tool: get_weather({"city":"Paris"}) = 21C
	// request: system user assistant tool
	// answer: It is 21C in Paris.
}

package chatlangchain_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/chatring/chatring"
	chatlangchain "github.com/chatring/chatring/adapters/langchaingo"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"
	"github.com/tmc/langchaingo/memory"
)

// fakeOpenAI stands in for the API behind langchaingo's OpenAI model: it
// prints the roles of each request and answers first with a tool call,
// then with text.
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
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o",`+
			`"choices":[{"index":0,"finish_reason":"stop","message":`+replies[0]+`}]}`)
		replies = replies[1:]
	}))
}

// A tool-using turn with llms.Model.GenerateContent: append the user's
// message, build the request from Window, append the model's reply with
// its tool call, append the tool's result, and ask again.
func Example() {
	api := fakeOpenAI() // the real API: leave out the base URL
	defer api.Close()
	llm, err := openai.New(openai.WithBaseURL(api.URL), openai.WithToken("sk-..."), openai.WithModel("gpt-4o"))
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	store, err := chatring.NewMemoryStore(chatring.Config{MaxTurns: 20})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close(ctx)
	const conv = "user-42"
	store.SetSystemPrompt(ctx, conv, "You are a weather assistant.")
	if _, err := store.Append(ctx, conv, chatring.Message{Role: chatring.User, Content: "Weather in Paris?"}); err != nil {
		log.Fatal(err)
	}
	for {
		win, err := store.Window(ctx, conv, 0)
		if err != nil {
			log.Fatal(err)
		}
		resp, err := llm.GenerateContent(ctx, chatlangchain.MessageContent(chatring.CompleteExchanges(win)),
			llms.WithTools([]llms.Tool{{Type: "function", Function: &llms.FunctionDefinition{
				Name: "get_weather", Description: "Current weather of a city",
				Parameters: map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
			}}}))
		if err != nil {
			log.Fatal(err)
		}
		reply, err := chatlangchain.FromContentChoice(resp.Choices[0])
		if err != nil {
			log.Fatal(err)
		}
		if _, err := store.Append(ctx, conv, reply); err != nil {
			log.Fatal(err)
		}
		if len(reply.ToolCalls) == 0 {
			fmt.Println("answer:", reply.Content)
			return
		}
		for _, c := range reply.ToolCalls {
			result := "21C" // run the tool c.Name with c.Arguments
			fmt.Printf("tool: %s(%s) = %s\n", c.Name, c.Arguments, result)
			if _, err := store.Append(ctx, conv, chatring.Message{Role: chatring.Tool, ToolCallID: c.ID, Content: result}); err != nil {
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

// langchaingo's memory types keep their messages in a chatring Store
// through a History.
func ExampleNewHistory() {
	ctx := context.Background()
	store, err := chatring.NewMemoryStore(chatring.Config{MaxTurns: 20})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close(ctx)
	mem := memory.NewConversationBuffer(memory.WithChatHistory(chatlangchain.NewHistory(store, "user-42")))

	mem.SaveContext(ctx, map[string]any{"input": "Hi, I'm Ada."}, map[string]any{"output": "Hello Ada!"})
	vars, _ := mem.LoadMemoryVariables(ctx, nil)
	fmt.Println(vars["history"])

	msgs, _ := store.Messages(ctx, "user-42", nil)
	for _, m := range msgs {
		fmt.Printf("%d %s: %s\n", m.Seq, m.Role, m.Content)
	}
	// Output:
	// Human: Hi, I'm Ada.
	// AI: Hello Ada!
	// 1 user: Hi, I'm Ada.
	// 2 assistant: Hello Ada!
}

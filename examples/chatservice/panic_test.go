package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/chatring/chatring"
)

// panicStore is a Store with bugs: Append panics with a message that
// quotes the content, Messages with a runtime error.
type panicStore struct{ chatring.Store }

func (panicStore) Append(_ context.Context, _ string, m chatring.Message) (chatring.Message, error) {
	panic(fmt.Sprintf("cannot store %q", m.Content))
}

func (panicStore) Messages(_ context.Context, _ string, dst []chatring.Message) ([]chatring.Message, error) {
	return dst[:len(dst)+1], nil // slice bounds out of range
}

// TestHandlerPanic sends requests whose handler panics: before it wrote
// anything, the request is answered with a JSON 500; after it began the
// answer, the connection is cut (the client sees a broken answer, not a
// short one). Either way the request is counted as a 500 of its route and
// logged at Error with the stack, without the panic's text unless it is
// a runtime error (a panic may quote content), and the service keeps
// serving.
func TestHandlerPanic(t *testing.T) {
	var log logBuffer
	srv, a := testServerLog(t, chatring.Config{}, panicStore{}, slog.New(slog.NewJSONHandler(&log, nil)))
	a.mux.HandleFunc("GET /test/partial", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"messages":[`)
		http.NewResponseController(w).Flush()
		panic("half way")
	})
	const content = "my secret plans"
	for _, tc := range []struct {
		method, path, body string
		logged             string // in the log record
	}{
		{"POST", "/conversations/c/messages", `{"role":"user","content":"` + content + `"}`, `"panic":"string"`},
		{"GET", "/conversations/c/messages", "", `"panic":"runtime error: slice bounds out of range [:1] with capacity 0"`},
	} {
		got := do(t, srv, tc.method, tc.path, tc.body)
		if got.code != http.StatusInternalServerError || got.errorCode(t) != "internal" {
			t.Errorf("%s %s: %d %s, want 500 internal", tc.method, tc.path, got.code, got.body)
		}
		if route := tc.method + " /conversations/{id}/messages"; requestCount(t, a, route, 500) != 1 {
			t.Errorf("%s: requests counted 500: %v, want 1", route, requestCount(t, a, route, 500))
		}
		if !strings.Contains(log.String(), tc.logged) {
			t.Errorf("the log lacks %s:\n%s", tc.logged, log.String())
		}
	}

	resp, err := srv.Client().Get(srv.URL + "/test/partial")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Errorf("an answer cut by a panic read as whole: %d %q", resp.StatusCode, b)
	}
	if got := requestCount(t, a, "GET /test/partial", 500); got != 1 {
		t.Errorf("requests counted 500 after a panic mid-answer: %v, want 1", got)
	}
	if got := requestCount(t, a, "GET /test/partial", 200); got != 0 {
		t.Errorf("requests counted 200 after a panic mid-answer: %v, want 0", got)
	}

	records := 0
	for line := range strings.Lines(log.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "chatservice: handler panicked" {
			records++
			if rec["level"] != "ERROR" || !strings.Contains(fmt.Sprint(rec["stack"]), "panic_test.go") {
				t.Errorf("log record %s: want level ERROR and the stack of the panic", line)
			}
		}
	}
	if records != 3 {
		t.Errorf("%d log records of a panic, want 3:\n%s", records, log.String())
	}
	if strings.Contains(log.String(), content) {
		t.Errorf("the log quotes the content:\n%s", log.String())
	}
	if got := do(t, srv, "GET", "/healthz", ""); got.code != http.StatusOK {
		t.Errorf("/healthz after the panics: %d", got.code)
	}
}

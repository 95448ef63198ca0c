package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// testServer serves a newAPI on store (a MemoryStore with cfg if nil).
func testServer(t *testing.T, cfg chatring.Config, store chatring.Store) (*httptest.Server, *api) {
	t.Helper()
	return testServerLog(t, cfg, store, slog.New(slog.DiscardHandler))
}

// testServerLog is testServer with the service's log sent to log.
func testServerLog(t *testing.T, cfg chatring.Config, store chatring.Store, log *slog.Logger) (*httptest.Server, *api) {
	t.Helper()
	if store == nil {
		s, err := chatring.NewMemoryStore(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		store = s
	}
	maxBytes := cfg.MaxMessageBytes
	if maxBytes == 0 {
		maxBytes = chatring.DefaultMaxMessageBytes
	}
	a := newAPI(store, maxBytes, log, prometheus.NewRegistry())
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv, a
}

// answer is a response read whole.
type answer struct {
	code   int
	header http.Header
	body   []byte
}

// do sends a request with a body (none if "") and reads the answer.
func do(t *testing.T, srv *httptest.Server, method, path, body string, header ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// errorCode returns the code of a JSON error answer, failing the test if
// the answer is not one.
func (a answer) errorCode(t *testing.T) string {
	t.Helper()
	var e errorResponse
	if err := json.Unmarshal(a.body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("answer %d %q is not a JSON error: %v", a.code, a.body, err)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error answer has Content-Type %q", ct)
	}
	return e.Error.Code
}

func (a answer) messages(t *testing.T) []chatring.Message {
	t.Helper()
	var r messagesResponse
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatalf("answer %d %q: %v", a.code, a.body, err)
	}
	return r.Messages
}

func (a answer) message(t *testing.T) chatring.Message {
	t.Helper()
	var m chatring.Message
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer %d %q: %v", a.code, a.body, err)
	}
	return m
}

func TestConversationRoutes(t *testing.T) {
	srv, _ := testServer(t, chatring.Config{MaxTurns: 2}, nil)
	post := func(conv, body string, header ...string) answer {
		return do(t, srv, "POST", "/conversations/"+conv+"/messages", body, header...)
	}
	for i, body := range []string{
		`{"role":"user","content":"What is 6 x 7?"}`,
		`{"role":"assistant","content":"42","name":"calc"}`,
		`{"role":"user","content":"And 6 x 8?","id":"q2"}`,
	} {
		a := post("a%2Fb", body) // the ID "a/b", escaped
		if a.code != http.StatusCreated || a.message(t).Seq != uint64(i+1) {
			t.Fatalf("append %d: %d %s", i, a.code, a.body)
		}
	}
	// A retry, by body ID or by header, answers with the stored message.
	if a := post("a%2Fb", `{"role":"user","content":"And 6 x 8?","id":"q2"}`); a.code != http.StatusCreated || a.message(t).Seq != 3 {
		t.Errorf("retried append: %d %s, want 201 and seq 3", a.code, a.body)
	}
	if a := post("a%2Fb", `{"role":"assistant","content":"48"}`, "Idempotency-Key", "r4"); a.message(t).Seq != 4 || a.message(t).ID != "r4" {
		t.Errorf("append with Idempotency-Key: %s", a.body)
	}
	if a := post("a%2Fb", `{"role":"assistant","content":"48"}`, "Idempotency-Key", "r4"); a.message(t).Seq != 4 {
		t.Errorf("retried append with Idempotency-Key: %s, want seq 4", a.body)
	}

	got := do(t, srv, "GET", "/conversations/a%2Fb/messages", "").messages(t)
	var seqs []uint64
	for _, m := range got {
		seqs = append(seqs, m.Seq)
	}
	if diff := cmp.Diff([]uint64{1, 2, 3, 4}, seqs); diff != "" {
		t.Errorf("window seqs (-want +got):\n%s", diff)
	}
	if other := do(t, srv, "GET", "/conversations/a/messages", "").messages(t); len(other) != 0 {
		t.Errorf("conversation \"a\" sees %d messages of \"a/b\"", len(other))
	}

	if a := do(t, srv, "PUT", "/conversations/a%2Fb/system-prompt", `{"content":"Be brief."}`); a.code != http.StatusNoContent {
		t.Fatalf("PUT system-prompt: %d %s", a.code, a.body)
	}
	w := do(t, srv, "GET", "/conversations/a%2Fb/window?max_tokens=100", "").messages(t)
	if len(w) != 5 || w[0].Role != chatring.System || w[0].Content != "Be brief." {
		t.Errorf("window with prompt: %+v", w)
	}
	if a := do(t, srv, "DELETE", "/conversations/a%2Fb/system-prompt", ""); a.code != http.StatusNoContent {
		t.Fatalf("DELETE system-prompt: %d %s", a.code, a.body)
	}
	if w := do(t, srv, "GET", "/conversations/a%2Fb/window", "").messages(t); len(w) != 4 || w[0].Role == chatring.System {
		t.Errorf("window after removing the prompt: %+v", w)
	}

	if a := do(t, srv, "DELETE", "/conversations/a%2Fb/messages", ""); a.code != http.StatusNoContent {
		t.Fatalf("clear: %d %s", a.code, a.body)
	}
	if a := post("a%2Fb", `{"role":"user","content":"again"}`); a.message(t).Seq != 5 {
		t.Errorf("append after Clear: %s, want seq 5", a.body)
	}
	if a := do(t, srv, "DELETE", "/conversations/a%2Fb", ""); a.code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", a.code, a.body)
	}
	if a := do(t, srv, "GET", "/conversations/a%2Fb/messages", ""); a.code != http.StatusOK || string(a.body) != "{\"messages\":[]}\n" {
		t.Errorf("GET after Delete: %d %q, want 200 and []", a.code, a.body)
	}
	if a := post("a%2Fb", `{"role":"user","content":"anew"}`); a.message(t).Seq != 1 {
		t.Errorf("append after Delete: %s, want seq 1", a.body)
	}
}

// TestToolExchange posts a tool call and its result, and reads them back
// in the window; the window leaves out the call while its result is
// missing only once something else follows it.
func TestToolExchange(t *testing.T) {
	srv, _ := testServer(t, chatring.Config{}, nil)
	for _, body := range []string{
		`{"role":"user","content":"Weather in Paris?"}`,
		`{"role":"assistant","tool_calls":[{"id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"}]}`,
		`{"role":"tool","tool_call_id":"call_1","content":"21C"}`,
		`{"role":"assistant","content":"21C in Paris."}`,
	} {
		if a := do(t, srv, "POST", "/conversations/c/messages", body); a.code != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", body, a.code, a.body)
		}
	}
	w := do(t, srv, "GET", "/conversations/c/window", "").messages(t)
	want := []chatring.ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`}}
	if len(w) != 4 || !cmp.Equal(w[1].ToolCalls, want) || w[2].ToolCallID != "call_1" {
		t.Errorf("window: %+v", w)
	}
}

func TestErrors(t *testing.T) {
	const maxBytes = 100
	srv, a := testServer(t, chatring.Config{MaxMessageBytes: maxBytes}, nil)
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		errCode                  string
	}{
		{"invalid role", "POST", "/conversations/c/messages", `{"role":"robot","content":"x"}`, 400, "invalid_role"},
		{"empty content", "POST", "/conversations/c/messages", `{"role":"user","content":" \n"}`, 400, "empty_content"},
		{"control character", "POST", "/conversations/c/messages", `{"role":"user","content":"a\u0000b"}`, 400, "invalid_content"},
		{"invalid conversation", "POST", "/conversations/%01/messages", `{"role":"user","content":"x"}`, 400, "invalid_conversation"},
		{"conversation too long", "GET", "/conversations/" + strings.Repeat("x", chatring.MaxConversationBytes+1) + "/messages", "", 400, "invalid_conversation"},
		{"broken JSON", "POST", "/conversations/c/messages", `{"role":"user",`, 400, "invalid_request"},
		{"unknown field", "POST", "/conversations/c/messages", `{"role":"user","content":"x","seq":9}`, 400, "invalid_request"},
		{"two objects", "POST", "/conversations/c/messages", `{"role":"user","content":"x"}{}`, 400, "invalid_request"},
		{"stray brace after the object", "POST", "/conversations/c/messages", `{"role":"user","content":"x"}}`, 400, "invalid_request"},
		{"stray bracket after the object", "POST", "/conversations/c/messages", `{"role":"user","content":"x"}]`, 400, "invalid_request"},
		{"invalid UTF-8", "POST", "/conversations/c/messages", "{\"role\":\"user\",\"content\":\"a\xffb\"}", 400, "invalid_request"},
		{"invalid UTF-8 in the prompt", "PUT", "/conversations/c/system-prompt", "{\"content\":\"\xc3\"}", 400, "invalid_request"},
		{"invalid id", "POST", "/conversations/c/messages", `{"role":"user","content":"x","id":"\u00e9"}`, 400, "invalid_content"},
		{"tool result without call ID", "POST", "/conversations/c/messages", `{"role":"tool","content":"21C"}`, 400, "invalid_tool_call"},
		{"tool call arguments not JSON", "POST", "/conversations/c/messages",
			`{"role":"assistant","tool_calls":[{"id":"c1","name":"f","arguments":"{"}]}`, 400, "invalid_content"},
		{"negative budget", "GET", "/conversations/c/window?max_tokens=-1", "", 400, "budget_too_small"},
		{"budget not a number", "GET", "/conversations/c/window?max_tokens=ten", "", 400, "invalid_request"},
		{"empty system prompt", "PUT", "/conversations/c/system-prompt", `{"content":""}`, 400, "empty_content"},
		{"content too large", "POST", "/conversations/c/messages",
			`{"role":"user","content":"` + strings.Repeat("x", maxBytes+1) + `"}`, 413, "message_too_large"},
		{"body too large", "POST", "/conversations/c/messages",
			`{"role":"user","content":"` + strings.Repeat("x", int(bodyLimit(maxBytes))) + `"}`, 413, "request_too_large"},
		{"white space over the body limit", "POST", "/conversations/c/messages",
			`{"role":"user","content":"x"}` + strings.Repeat(" ", int(bodyLimit(maxBytes))), 413, "request_too_large"},
		{"unknown route", "GET", "/conversation/c", "", 404, "not_found"},
		{"wrong method", "PATCH", "/conversations/c/messages", "", 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := do(t, srv, tc.method, tc.path, tc.body)
			if got.code != tc.code {
				t.Errorf("status %d %s, want %d", got.code, got.body, tc.code)
			}
			if code := got.errorCode(t); code != tc.errCode {
				t.Errorf("error code %q, want %q", code, tc.errCode)
			}
		})
	}
	// None of them stored anything.
	if got := do(t, srv, "GET", "/conversations/c/messages", "").messages(t); len(got) != 0 {
		t.Errorf("rejected requests stored %d messages", len(got))
	}
	if got := a.store.(*chatring.MemoryStore).Len(); got != 0 {
		t.Errorf("rejected requests created %d conversations", got)
	}
	// White space after the object, within the limit, is fine.
	if got := do(t, srv, "POST", "/conversations/c/messages", "{\"role\":\"user\",\"content\":\"x\"}\n\t "); got.code != http.StatusCreated {
		t.Errorf("append followed by white space: %d %s, want 201", got.code, got.body)
	}
	if got := do(t, srv, "PATCH", "/conversations/c/messages", ""); got.header.Get("Allow") == "" {
		t.Error("405 without an Allow header")
	}
}

// logBuffer collects a log's output; the handlers write it while tests
// read it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// failingStore is a Store whose service fails: Append, Messages and Ready
// fail with err.
type failingStore struct {
	chatring.Store
	err error
}

func (s failingStore) Append(context.Context, string, chatring.Message) (chatring.Message, error) {
	return chatring.Message{}, s.err
}

func (s failingStore) Messages(_ context.Context, _ string, dst []chatring.Message) ([]chatring.Message, error) {
	return dst, s.err
}

func (s failingStore) Ready(context.Context) error { return s.err }

// The detail of a failure that only the log may show: a Redis client's
// error names the server's address.
const internalDetail = "dial tcp 10.0.0.7:6379: connect: connection refused"

// TestUnavailable sends requests to a store that fails as a Redis store
// does when Redis is down, wrapping the client's error: they are answered
// 503 with Retry-After and a JSON error whose message is the service's
// (none quotes the client's error, or the Redis address in it), and the
// log has that detail: for each /readyz, and at most once a second for
// the others.
func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err     error
		errCode string
	}{
		{fmt.Errorf("%w: %s", chatring.ErrUnavailable, internalDetail), "unavailable"},
		{fmt.Errorf("redisstore: append: %w (%s)", context.DeadlineExceeded, internalDetail), "timeout"},
		{fmt.Errorf("%w: %s", chatring.ErrClosed, internalDetail), "shutting_down"},
	} {
		t.Run(tc.errCode, func(t *testing.T) {
			var log logBuffer
			srv, _ := testServerLog(t, chatring.Config{}, failingStore{err: tc.err}, slog.New(slog.NewJSONHandler(&log, nil)))
			answers := []answer{
				do(t, srv, "POST", "/conversations/c/messages", `{"role":"user","content":"x"}`),
				do(t, srv, "GET", "/conversations/c/messages", ""),
			}
			if tc.errCode == "unavailable" {
				answers = append(answers, do(t, srv, "GET", "/readyz", ""))
			}
			for _, a := range answers {
				if a.code != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
					t.Errorf("answer %d, Retry-After %q; want 503 with Retry-After", a.code, a.header.Get("Retry-After"))
				}
				if code := a.errorCode(t); code != tc.errCode {
					t.Errorf("error code %q, want %s", code, tc.errCode)
				}
				if bytes.Contains(a.body, []byte("10.0.0.7")) || bytes.Contains(a.body, []byte("refused")) {
					t.Errorf("answer %s quotes the store's error", a.body)
				}
			}
			if n := strings.Count(log.String(), internalDetail); n < len(answers)-1 || n > len(answers) {
				t.Errorf("the log has the error's detail %d times, want %d or %d:\n%s", n, len(answers)-1, len(answers), log.String())
			}
			if a := do(t, srv, "GET", "/healthz", ""); a.code != http.StatusOK {
				t.Errorf("/healthz: %d, want 200: the process is alive", a.code)
			}
		})
	}
}

func TestClosedStore(t *testing.T) {
	s, err := chatring.NewMemoryStore(chatring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := testServer(t, chatring.Config{}, s)
	s.Close(t.Context())
	a := do(t, srv, "POST", "/conversations/c/messages", `{"role":"user","content":"x"}`)
	if a.code != http.StatusServiceUnavailable || a.errorCode(t) != "shutting_down" {
		t.Errorf("append to a closed store: %d %s, want 503 shutting_down", a.code, a.body)
	}
}

func TestErrorStatusInternal(t *testing.T) {
	if code, name, msg := errorStatus(errors.New("disk on fire")); code != http.StatusInternalServerError || name != "internal" || msg != "internal error" {
		t.Errorf("errorStatus(unknown) = %d %q %q, want 500 internal", code, name, msg)
	}
}

func TestReadyz(t *testing.T) {
	srv, a := testServer(t, chatring.Config{}, nil)
	if got := do(t, srv, "GET", "/readyz", ""); got.code != http.StatusOK {
		t.Errorf("/readyz: %d %s, want 200", got.code, got.body)
	}
	a.draining.Store(true)
	if got := do(t, srv, "GET", "/readyz", ""); got.code != http.StatusServiceUnavailable || got.errorCode(t) != "shutting_down" {
		t.Errorf("/readyz while draining: %d %s, want 503", got.code, got.body)
	}
	if got := do(t, srv, "GET", "/healthz", ""); got.code != http.StatusOK {
		t.Errorf("/healthz while draining: %d, want 200", got.code)
	}
	// Requests are still served while draining.
	if got := do(t, srv, "POST", "/conversations/c/messages", `{"role":"user","content":"x"}`); got.code != http.StatusCreated {
		t.Errorf("append while draining: %d %s", got.code, got.body)
	}
}

func TestMetricsRoute(t *testing.T) {
	srv, _ := testServer(t, chatring.Config{}, nil)
	do(t, srv, "POST", "/conversations/c/messages", `{"role":"user","content":"x"}`)
	do(t, srv, "POST", "/conversations/c/messages", `{"role":"robot","content":"x"}`)
	got := do(t, srv, "GET", "/metrics", "")
	for _, want := range []string{
		`chatservice_http_requests_total{code="201",route="POST /conversations/{id}/messages"} 1`,
		`chatservice_http_requests_total{code="400",route="POST /conversations/{id}/messages"} 1`,
		`chatservice_http_request_duration_seconds_count{route="POST /conversations/{id}/messages"} 2`,
	} {
		if !bytes.Contains(got.body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestLogSampler lets the first line through, then none for a second,
// then one that says how many it left out.
func TestLogSampler(t *testing.T) {
	var s logSampler
	t0 := time.Unix(1000, 0)
	for i, tc := range []struct {
		at   time.Duration
		ok   bool
		left uint64
	}{
		{0, true, 0},
		{500 * time.Millisecond, false, 0},
		{999 * time.Millisecond, false, 0},
		{time.Second, true, 2},
		{1500 * time.Millisecond, false, 0},
		{3 * time.Second, true, 1},
	} {
		if ok, left := s.allow(t0.Add(tc.at)); ok != tc.ok || left != tc.left {
			t.Errorf("line %d, at %v: allow = %v, %d; want %v, %d", i, tc.at, ok, left, tc.ok, tc.left)
		}
	}
}

// TestRequestSeriesFromStart gathers the HTTP metrics of a service that
// has answered nothing: the series the alerts read exist at 0 from the
// start (a series that appears with its first 503 has no earlier sample,
// so rate() misses that first interval): for every route, its success
// code and 500, and 503 for the routes that can answer it. Those are
// all: a fixed number, whatever the traffic. Each route's duration
// histogram exists too.
func TestRequestSeriesFromStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	newAPI(idleStore{}, chatring.DefaultMaxMessageBytes, slog.New(slog.DiscardHandler), reg)
	want := map[string][]string{
		"POST /conversations/{id}/messages":        {"201", "500", "503"},
		"GET /conversations/{id}/messages":         {"200", "500", "503"},
		"DELETE /conversations/{id}/messages":      {"204", "500", "503"},
		"GET /conversations/{id}/window":           {"200", "500", "503"},
		"PUT /conversations/{id}/system-prompt":    {"204", "500", "503"},
		"DELETE /conversations/{id}/system-prompt": {"204", "500", "503"},
		"DELETE /conversations/{id}":               {"204", "500", "503"},
		"GET /metrics":                             {"200", "500"},
		"GET /healthz":                             {"200", "500"},
		"GET /readyz":                              {"200", "500", "503"},
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	histograms := map[string][]string{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			route := labelValue(m, "route")
			switch f.GetName() {
			case "chatservice_http_requests_total":
				got[route] = append(got[route], labelValue(m, "code"))
				if v := m.GetCounter().GetValue(); v != 0 {
					t.Errorf("%s{code=%s} = %v before any request", route, labelValue(m, "code"), v)
				}
			case "chatservice_http_request_duration_seconds":
				histograms[route] = want[route]
			}
		}
	}
	for _, codes := range got {
		slices.Sort(codes)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chatservice_http_requests_total series before any request (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, histograms); diff != "" {
		t.Errorf("routes of chatservice_http_request_duration_seconds before any request (-want +got):\n%s", diff)
	}
}

// idleStore is a Store that is never called.
type idleStore struct{ chatring.Store }

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatring/chatring"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The end-to-end tests build the service, start it as a process on a free
// loopback port and drive it over HTTP, as a deployment would.

var binDir string // set by TestMain: where the service binary is built

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chatservice-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildService builds the service once per test binary, with the race
// detector when the tests have it. "go" resolves to the toolchain running
// the tests: go test puts its GOROOT/bin first in the PATH of the tests.
var buildService = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "chatservice")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// service is a chatservice process started by a test.
type service struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string // host:port it listens on
	url  string

	mu   sync.Mutex
	logs []map[string]any // stderr, one JSON record per line

	exited  chan struct{} // closed when the process has exited
	waitErr error         // cmd.Wait's error, set before exited is closed
}

// startService starts the service with args (after -addr 127.0.0.1:0)
// and waits until it listens.
func startService(t *testing.T, args ...string) *service {
	t.Helper()
	bin, err := buildService()
	if err != nil {
		t.Fatal(err)
	}
	s := &service{t: t, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				rec = map[string]any{"msg": "unparsed", "line": sc.Text()}
			}
			s.mu.Lock()
			s.logs = append(s.logs, rec)
			s.mu.Unlock()
			if rec["msg"] == "chatservice: listening" {
				listening <- rec["addr"].(string)
			}
		}
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
	select {
	case s.addr = <-listening:
		s.url = "http://" + s.addr
	case <-s.exited:
		t.Fatalf("the service exited before listening: %v; logs %v", s.waitErr, s.logs)
	case <-time.After(30 * time.Second):
		t.Fatal("the service did not listen within 30s")
	}
	return s
}

// logRecord returns the last log record with message msg, or nil.
func (s *service) logRecord(msg string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.logs) - 1; i >= 0; i-- {
		if s.logs[i]["msg"] == msg {
			return s.logs[i]
		}
	}
	return nil
}

// stop sends SIGTERM and waits for the process to exit 0 within timeout.
func (s *service) stop(timeout time.Duration) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	s.waitExit(time.Now(), timeout)
}

// waitExit waits until the process exited 0, at most timeout after since.
func (s *service) waitExit(since time.Time, timeout time.Duration) {
	s.t.Helper()
	select {
	case <-s.exited:
	case <-time.After(time.Until(since.Add(timeout))):
		s.t.Fatalf("the service did not exit within %v of SIGTERM", timeout)
	}
	if took := time.Since(since); took > timeout {
		s.t.Errorf("the service exited %v after SIGTERM, over its %v deadline", took, timeout)
	}
	if s.waitErr != nil {
		s.t.Errorf("the service exited with %v; logs %v", s.waitErr, s.logs)
	}
}

// newClient returns a client with a connection pool sized for workers.
func newClient(workers int) *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers},
	}
}

// post sends a JSON body and returns the status code and the body.
func post(ctx context.Context, c *http.Client, url, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return send(c, req)
}

func send(c *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// scrape reads /metrics.
func scrape(t *testing.T, c *http.Client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := c.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// value returns the value of the series of family name with exactly the
// given label values (name, value pairs), failing the test if it is absent.
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := families[name]
	if f == nil {
		t.Fatalf("/metrics has no %s", name)
	}
series:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels)/2 {
			continue
		}
		for i := 0; i < len(labels); i += 2 {
			if labelValue(m, labels[i]) != labels[i+1] {
				continue series
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("/metrics has no %s%v", name, labels)
	return 0
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestEndToEnd drives the service over many conversations from several
// clients, reads the windows back, scrapes /metrics and checks every
// counter against what was sent, then stops the service with SIGTERM.
func TestEndToEnd(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "chatring.json")
	const maxTurns, maxBytes = 3, 1024
	if err := os.WriteFile(cfgFile, fmt.Appendf(nil,
		`{"max_turns": %d, "max_message_bytes": %d, "max_conversations": 10000, "idle_ttl": "1h"}`,
		maxTurns, maxBytes), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startService(t, "-config", cfgFile)
	const convs, perConv, workers = 200, 20, 8
	client := newClient(workers)
	ctx := t.Context()

	// What was sent and what the service answered, per worker, summed
	// after the workers are done.
	type tally struct {
		appended, retried, bytes int
		rejected                 map[string]int // by expected reason
		statusErrors             []string
	}
	tallies := make([]tally, workers)
	convURL := func(c int) string { return fmt.Sprintf("%s/conversations/user%%2F%d/messages", s.url, c) }
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			tl := &tallies[w]
			tl.rejected = map[string]int{}
			expect := func(what string, code int, want int, body []byte, err error) {
				if err != nil || code != want {
					tl.statusErrors = append(tl.statusErrors, fmt.Sprintf("%s: %d %s %v, want %d", what, code, body, err, want))
				}
			}
			for c := w; c < convs; c += workers {
				for i := 1; i <= perConv; i++ {
					role := chatring.User
					if i%2 == 0 {
						role = chatring.Assistant
					}
					content := fmt.Sprintf("conversation %d, message %d", c, i)
					body := fmt.Sprintf(`{"role":%q,"content":%q,"id":"m%d"}`, role, content, i)
					code, b, err := post(ctx, client, convURL(c), body)
					expect("append", code, http.StatusCreated, b, err)
					tl.appended++
					tl.bytes += len(content)
					if i%10 == 0 { // a retry: stored once, answered with the same message
						code, b, err := post(ctx, client, convURL(c), body)
						expect("retried append", code, http.StatusCreated, b, err)
						var m chatring.Message
						if json.Unmarshal(b, &m) != nil || m.Seq != uint64(i) {
							tl.statusErrors = append(tl.statusErrors, fmt.Sprintf("retry of seq %d answered %s", i, b))
						}
						tl.retried++
					}
				}
				if c%10 != 0 {
					continue
				}
				for _, bad := range []struct {
					url, body, reason string
					code              int
				}{
					{convURL(c), `{"role":"user","content":"   "}`, "empty_content", 400},
					{convURL(c), `{"role":"robot","content":"beep"}`, "invalid_role", 400},
					{convURL(c), fmt.Sprintf(`{"role":"user","content":%q}`, strings.Repeat("x", maxBytes+1)), "message_too_large", 413},
					{s.url + "/conversations/%7F/messages", `{"role":"user","content":"x"}`, "invalid_conversation", 400},
				} {
					code, b, err := post(ctx, client, bad.url, bad.body)
					expect(bad.reason, code, bad.code, b, err)
					tl.rejected[bad.reason]++
				}
			}
		})
	}
	wg.Wait()
	var appended, retried, bytes int
	rejected := map[string]int{}
	for _, tl := range tallies {
		for _, e := range tl.statusErrors {
			t.Error(e)
		}
		appended += tl.appended
		retried += tl.retried
		bytes += tl.bytes
		for r, n := range tl.rejected {
			rejected[r] += n
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Every window holds the last 2 x max_turns messages, contiguous.
	for c := range convs {
		resp, err := client.Get(convURL(c))
		if err != nil {
			t.Fatal(err)
		}
		var got messagesResponse
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Messages) != 2*maxTurns {
			t.Fatalf("conversation %d: window of %d messages, want %d", c, len(got.Messages), 2*maxTurns)
		}
		for j, m := range got.Messages {
			i := perConv - 2*maxTurns + 1 + j
			if want := fmt.Sprintf("conversation %d, message %d", c, i); m.Seq != uint64(i) || m.Content != want {
				t.Fatalf("conversation %d: window[%d] = seq %d %q, want seq %d %q", c, j, m.Seq, m.Content, i, want)
			}
		}
	}

	// Clear 20 conversations, delete 10 others.
	for c := range 30 {
		path := convURL(c)
		if c >= 20 {
			path = strings.TrimSuffix(path, "/messages")
		}
		req, _ := http.NewRequestWithContext(ctx, "DELETE", path, nil)
		if code, b, err := send(client, req); err != nil || code != http.StatusNoContent {
			t.Fatalf("DELETE %s: %d %s %v", path, code, b, err)
		}
	}

	m := scrape(t, client, s.url)
	for _, c := range []struct {
		name   string
		labels []string
		want   int
	}{
		{"chatring_messages_appended_total", []string{"role", "user"}, appended / 2},
		{"chatring_messages_appended_total", []string{"role", "assistant"}, appended / 2},
		{"chatring_messages_appended_total", []string{"role", "system"}, 0},
		{"chatring_messages_deduplicated_total", nil, retried},
		{"chatring_appended_bytes_total", nil, bytes},
		{"chatring_messages_rejected_total", []string{"reason", "empty_content"}, rejected["empty_content"]},
		{"chatring_messages_rejected_total", []string{"reason", "invalid_role"}, rejected["invalid_role"]},
		{"chatring_messages_rejected_total", []string{"reason", "message_too_large"}, rejected["message_too_large"]},
		{"chatring_messages_rejected_total", []string{"reason", "invalid_conversation"}, rejected["invalid_conversation"]},
		{"chatring_messages_rejected_total", []string{"reason", "closed"}, 0},
		{"chatring_conversations_created_total", nil, convs},
		{"chatring_conversations", nil, convs - 10},
		{"chatring_conversations_deleted_total", nil, 10},
		{"chatring_conversations_evicted_total", []string{"reason", "capacity"}, 0},
		{"chatring_clears_total", nil, 20},
		{"chatring_max_conversations", nil, 10000},
		{"chatring_window_capacity_messages", nil, 2 * maxTurns},
		{"chatring_closed", nil, 0},
		{"chatservice_http_requests_total", []string{"route", "POST /conversations/{id}/messages", "code", "201"}, appended + retried},
		{"chatservice_http_requests_total", []string{"route", "POST /conversations/{id}/messages", "code", "413"}, rejected["message_too_large"]},
		{"chatservice_http_requests_total", []string{"route", "GET /conversations/{id}/messages", "code", "200"}, convs},
	} {
		if got := value(t, m, c.name, c.labels...); got != float64(c.want) {
			t.Errorf("%s%v = %v, want %d", c.name, c.labels, got, c.want)
		}
	}
	if held := value(t, m, "chatring_held_bytes"); held < float64(bytes)/perConv*2*maxTurns {
		t.Errorf("chatring_held_bytes = %v, less than the content of the windows", held)
	}

	s.stop(15 * time.Second)
	rec := s.logRecord("chatservice: stopped")
	if rec == nil || rec["clean"] != true || rec["appended"] != float64(appended) {
		t.Errorf("stop record %v, want clean and appended %d", rec, appended)
	}
}

// TestShutdownUnderLoad sends SIGTERM while clients append as fast as
// they can and while one request is being read: every request the service
// accepted gets its answer, the process exits 0 within its deadline, and
// the store appended exactly the messages that were answered 201.
func TestShutdownUnderLoad(t *testing.T) {
	const timeout = 10 * time.Second
	s := startService(t, "-shutdown-timeout", timeout.String())
	load := appendUntilShutdown(t, s, timeout)
	rec := s.logRecord("chatservice: stopped")
	if rec == nil || rec["clean"] != true {
		t.Fatalf("stop record %v, want clean", rec)
	}
	if len(load.uncertain) > 0 {
		t.Errorf("the memory store answered %d appends 503 unavailable", len(load.uncertain))
	}
	// Every message the store appended was answered 201: no request was
	// cut off after the service acted on it.
	if got := rec["appended"]; got != float64(len(load.acked)) {
		t.Errorf("the store appended %v messages, the clients got %d answers 201", got, len(load.acked))
	}
}

// ack is an append answered 201: its conversation and the stored message.
type ack struct {
	conv string
	m    chatring.Message
}

// loadResult is what appendUntilShutdown's clients saw.
type loadResult struct {
	acked []ack
	// uncertain holds the IDs of appends answered 503 unavailable (the
	// store could not reach its backend in time) and never answered 201:
	// they may or may not be stored.
	uncertain map[string]bool
}

// appendUntilShutdown drives s with 16 clients appending, each over 50
// conversations of its own (load-W-K), as fast as they can, every message
// with an ID, plus one request (conversation "slow", ID "slow-1") whose
// body the service is reading when SIGTERM arrives. It sends SIGTERM once
// 2000 appends were answered and checks that every request the service
// accepted got its answer (a 201, or a 503 unavailable retried with the
// same ID until it got one, as the API asks), that at least one was
// answered after SIGTERM and that the process exited 0 within timeout.
func appendUntilShutdown(t *testing.T, s *service, timeout time.Duration) loadResult {
	const workers = 16
	client := newClient(workers)
	ctx := t.Context()

	var (
		mu          sync.Mutex
		res         = loadResult{uncertain: map[string]bool{}}
		ackedAfter  atomic.Int64 // answered 201 after SIGTERM was sent
		sigterm     atomic.Bool
		failures    = make(chan string, workers+1)
		workersDone sync.WaitGroup
	)
	record := func(conv string, body []byte) error {
		var m chatring.Message
		if err := json.Unmarshal(body, &m); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		res.acked = append(res.acked, ack{conv, m})
		delete(res.uncertain, m.ID)
		if sigterm.Load() {
			ackedAfter.Add(1)
		}
		return nil
	}
	acked := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(res.acked)
	}
	for w := range workers {
		workersDone.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				conv := fmt.Sprintf("load-%d-%d", w, i%50)
				body := fmt.Sprintf(`{"role":"user","content":"load %d","id":%q}`, i, id)
			retry:
				code, b, err := post(ctx, client, fmt.Sprintf("%s/conversations/%s/messages", s.url, conv), body)
				switch {
				case err == nil && code == http.StatusCreated:
					if err := record(conv, b); err != nil {
						failures <- fmt.Sprintf("worker %d: 201 %s: %v", w, b, err)
						return
					}
				case err == nil && code == http.StatusServiceUnavailable && bytes.Contains(b, []byte(`"unavailable"`)):
					mu.Lock()
					res.uncertain[id] = true
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
					goto retry
				case err != nil && sigterm.Load():
					// The listener is closed, or the connection was
					// idle when shutdown closed it: this request was not
					// accepted. The worker is done.
					return
				default:
					failures <- fmt.Sprintf("worker %d: %d %s %v", w, code, b, err)
					return
				}
			}
		})
	}

	// One request whose body the service is reading when SIGTERM arrives:
	// with Expect: 100-continue, the client sends the body only once the
	// handler reads it, and the trace says when that happened.
	bodyR, bodyW := io.Pipe()
	reading := make(chan struct{})
	slowCtx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got100Continue: func() { close(reading) }})
	req, err := http.NewRequestWithContext(slowCtx, "POST", s.url+"/conversations/slow/messages", bodyR)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Expect", "100-continue")
	slowClient := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	type result struct {
		code int
		body []byte
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		code, b, err := send(slowClient, req)
		slow <- result{code, b, err}
	}()
	select {
	case <-reading:
	case r := <-slow:
		t.Fatalf("the slow request ended before its body was sent: %d %s %v", r.code, r.body, r.err)
	case <-time.After(20 * time.Second):
		t.Fatal("the service did not start reading the slow request")
	}

	// Let the load run, then SIGTERM.
	for deadline := time.Now().Add(20 * time.Second); acked() < 2000 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	sigterm.Store(true)
	sentAt := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Shutdown closes the listener first; then finish the slow body.
	for {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			break
		}
		c.Close()
		if time.Since(sentAt) > timeout {
			t.Fatal("the service still accepts connections long after SIGTERM")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := io.WriteString(bodyW, `{"role":"user","content":"sent while shutting down","id":"slow-1"}`); err != nil {
		t.Fatal(err)
	}
	bodyW.Close()
	r := <-slow
	if r.err != nil || r.code != http.StatusCreated {
		t.Errorf("the request being read at SIGTERM got %d %s %v, want 201", r.code, r.body, r.err)
	} else if err := record("slow", r.body); err != nil {
		t.Errorf("the request being read at SIGTERM: 201 %s: %v", r.body, err)
	}

	s.waitExit(sentAt, timeout)
	workersDone.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	if ackedAfter.Load() == 0 {
		t.Error("no request was answered after SIGTERM: the test did not shut down under load")
	}
	t.Logf("%d appends answered, %d of them after SIGTERM, %d uncertain", len(res.acked), ackedAfter.Load(), len(res.uncertain))
	return res
}

// TestBadConfig checks that the service refuses a config file that
// ParseConfig rejects, and exits 1 naming the field.
func TestBadConfig(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "chatring.json")
	if err := os.WriteFile(cfgFile, []byte(`{"max_turns": 0}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-config", cfgFile}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "max_turns") {
		t.Errorf("run with max_turns 0: %v, want an error naming max_turns", err)
	}
}

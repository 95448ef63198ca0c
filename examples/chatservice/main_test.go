package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatring/chatring/redisstore/redistest"
	"go.uber.org/goleak"
)

// TestDrain runs the service in process with a drain delay and stops it
// (as a signal would) by canceling run's context: during the delay
// /readyz answers 503 while requests are still served, on a connection
// opened before; then run returns nil.
func TestDrain(t *testing.T) {
	const drain = 2 * time.Second
	url, done, stop := runInProcess(t, "-drain-delay", drain.String())
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}} // one kept-alive connection

	get := func(path string) int {
		resp, err := client.Get(url + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz before shutdown: %d", code)
	}
	stop()
	start := time.Now()
	deadline := start.Add(drain / 2)
	for get("/readyz") != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("/readyz still 200 well into the drain delay")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := client.Post(url+"/conversations/c/messages", "application/json",
		strings.NewReader(`{"role":"user","content":"during the drain"}`))
	if err != nil {
		t.Fatalf("append during the drain delay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("append during the drain delay: %d, want 201", resp.StatusCode)
	}
	if time.Since(start) >= drain {
		t.Fatalf("the checks took %v, longer than the drain delay; they proved nothing", time.Since(start))
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(drain + 10*time.Second):
		t.Fatal("run did not return after the drain delay and shutdown")
	}
}

// runInProcess runs the service in process on a free loopback port with
// args, and returns its URL, the channel run's error arrives on, and the
// function that stops it as a signal would.
func runInProcess(t *testing.T, args ...string) (url string, done <-chan error, stop func()) {
	t.Helper()
	ctx, stop := context.WithCancel(t.Context())
	t.Cleanup(stop)
	logR, logW := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), logW)
		logW.Close()
		errc <- err
	}()
	logs := bufio.NewScanner(logR)
	for logs.Scan() {
		var rec map[string]any
		if json.Unmarshal(logs.Bytes(), &rec) == nil && rec["msg"] == "chatservice: listening" {
			go io.Copy(io.Discard, logR) // keep the service's logging unblocked
			return "http://" + rec["addr"].(string), errc, stop
		}
	}
	t.Fatal("no log record \"chatservice: listening\"")
	return "", nil, nil
}

// TestShutdownTimeout stops the service while a request's body is still
// being sent and never finishes: Shutdown cannot drain it within
// -shutdown-timeout, so run cuts the connection and returns an error
// (main exits 1) soon after the deadline instead of waiting for it.
func TestShutdownTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	url, done, stop := runInProcess(t, "-shutdown-timeout", timeout.String())
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /conversations/c/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"role\":")
	// Give the server a moment to read the headers and start the
	// handler, which then waits for the rest of the body. (Had it not,
	// Shutdown would still wait: it treats a new connection as busy.)
	time.Sleep(100 * time.Millisecond)
	stop()
	start := time.Now()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "draining requests") {
			t.Errorf("run = %v, want the error of a drain that timed out", err)
		}
		if took := time.Since(start); took < timeout {
			t.Errorf("run returned %v after the stop, before its %v deadline", took, timeout)
		}
	case <-time.After(timeout + 10*time.Second):
		t.Fatal("run did not return after its shutdown deadline")
	}
	// The unfinished request got no answer: its connection was cut.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(conn)
	if len(b) != 0 {
		t.Errorf("the cut request was answered: %q", b)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Error("the connection of the unfinished request is still open after run returned")
	}
}

// TestReadyzRedisDown runs the service in process with -redis on a port
// where nothing listens: /readyz answers 503 unavailable before any call
// (the breaker is closed, but Redis does not answer its PING); appends
// fail with 503 unavailable, the circuit breaker opens, and from then on
// /readyz answers 503 naming the breaker; the shutdown is still clean.
func TestReadyzRedisDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now
	url, done, stop := runInProcess(t, "-redis", dead)
	if code, body := getReadyz(t, url); code != http.StatusServiceUnavailable || !strings.Contains(body, `"unavailable"`) || !strings.Contains(body, "PING") {
		t.Fatalf("/readyz before any call: %d %s, want 503 unavailable naming the PING", code, body)
	} else if strings.Contains(body, dead) {
		t.Errorf("/readyz quotes the Redis address: %s", body)
	}
	code, body := 0, ""
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		resp, err := http.Post(url+"/conversations/c/messages", "application/json",
			strings.NewReader(`{"role":"user","content":"hello","id":"m1"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("append with Redis down: %d %s, want 503", resp.StatusCode, b)
		}
		if bytes.Contains(b, []byte(dead)) {
			t.Fatalf("append with Redis down: %s quotes the Redis address", b)
		}
		if code, body = getReadyz(t, url); strings.Contains(body, "breaker") {
			break
		}
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"unavailable"`) || !strings.Contains(body, "breaker") {
		t.Errorf("/readyz with Redis down: %d %s, want 503 unavailable naming the breaker", code, body)
	}
	// A Redis that refuses connections is counted as unavailable, not
	// as a timeout: the attempts fail at once and do not wait out the
	// resilient wrapper's attempt timeout in the client's own retries.
	families := scrape(t, http.DefaultClient, url)
	if got := value(t, families, "chatring_redis_errors_total", "op", "append", "kind", "unavailable"); got == 0 {
		t.Errorf("chatring_redis_errors_total{op=append,kind=unavailable} = 0 with Redis refusing connections")
	}
	if got := value(t, families, "chatring_redis_errors_total", "op", "append", "kind", "timeout"); got != 0 {
		t.Errorf("chatring_redis_errors_total{op=append,kind=timeout} = %v with Redis refusing connections, want 0", got)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

// TestRunLeavesNoGoroutines runs the service in process with the memory
// store and with -redis (on a redis-server of its own when there is one),
// appends, reads and scrapes, and stops it: once run has returned, every
// goroutine it started (the server's, the store's, resilient's) has
// ended, and the Redis client has closed its connections.
func TestRunLeavesNoGoroutines(t *testing.T) {
	for _, mode := range []string{"memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			var args []string
			var server *redistest.Server
			if mode == "redis" {
				if redistest.Available() != nil {
					t.Skip("no redis-server")
				}
				server = redistest.NewServer(t)
				args = []string{"-redis", server.Addr}
			}
			before := goleak.IgnoreCurrent()
			client := &http.Client{Transport: &http.Transport{}}
			url, done, stop := runInProcess(t, args...)
			for _, req := range []struct{ method, path, body string }{
				{"POST", "/conversations/c/messages", `{"role":"user","content":"hello"}`},
				{"GET", "/conversations/c/window", ""},
				{"GET", "/metrics", ""},
				{"GET", "/readyz", ""},
			} {
				r, err := http.NewRequest(req.method, url+req.path, strings.NewReader(req.body))
				if err != nil {
					t.Fatal(err)
				}
				resp, err := client.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					t.Errorf("%s %s: %d", req.method, req.path, resp.StatusCode)
				}
			}
			stop()
			if err := <-done; err != nil {
				t.Fatalf("run: %v", err)
			}
			client.CloseIdleConnections()
			goleak.VerifyNone(t, before)
			if server != nil { // and the Redis client's connections are closed
				clients := ""
				for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
					info, err := server.Command(t.Context(), "INFO", "clients")
					if err != nil {
						t.Fatal(err)
					}
					// The one connected client is the one asking.
					if clients = infoField(info, "connected_clients"); clients == "1" {
						break
					}
				}
				if clients != "1" {
					t.Errorf("Redis has %s clients connected after run returned, want only the one asking", clients)
				}
			}
		})
	}
}

// getReadyz returns the status and body of GET url/readyz.
func getReadyz(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReadyzRedisStartsLater runs the service with -redis on the port of
// a redis-server the test stopped: with no call made, /readyz answers 503
// (Redis does not answer its PING; the breaker, closed, cannot tell);
// once the redis-server runs again on that port, /readyz answers 200,
// still with no call made, and an append is stored.
func TestReadyzRedisStartsLater(t *testing.T) {
	redistest.Require(t)
	server := redistest.NewServer(t)
	server.Kill() // its port is free now; Restart binds it again
	url, done, stop := runInProcess(t, "-redis", server.Addr)
	for range 3 {
		if code, body := getReadyz(t, url); code != http.StatusServiceUnavailable || !strings.Contains(body, "PING") {
			t.Fatalf("/readyz with Redis not started: %d %s, want 503 naming the PING", code, body)
		}
	}
	if err := server.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	code, body := 0, ""
	for deadline := time.Now().Add(10 * time.Second); code != http.StatusOK && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		code, body = getReadyz(t, url)
	}
	if code != http.StatusOK {
		t.Fatalf("/readyz not 200 within 10 s of Redis answering: %d %s", code, body)
	}
	resp, err := http.Post(url+"/conversations/c/messages", "application/json", strings.NewReader(`{"role":"user","content":"hello"}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("append once Redis answers: %d, want 201", resp.StatusCode)
	}
	// A Redis that accepts connections and answers nothing (stopped):
	// the probe's PING gives up at readyTimeout, and /readyz answers 503
	// instead of hanging as long as its client waits.
	if err := server.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, body = getReadyz(t, url)
	took := time.Since(start)
	if err := server.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "PING") {
		t.Errorf("/readyz with Redis stopped: %d %s, want 503 naming the PING", code, body)
	}
	if took < readyTimeout || took > readyTimeout+2*time.Second {
		t.Errorf("/readyz with Redis stopped took %v, want readyTimeout (%v) and little more", took, readyTimeout)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

// infoField returns the value of field in the text of Redis's INFO.
func infoField(info, field string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// TestReadyzRedisComesBack runs the service with -redis on an address
// that forwards to nothing at first and then to a live redis-server: while
// nothing answers, appends are answered 503 with Retry-After and the
// breaker opens (/readyz 503 naming it); once Redis answers, /readyz is
// 200 again within a few of the breaker's OpenFor (1 s), the next append
// is stored, and the breaker is closed.
func TestReadyzRedisComesBack(t *testing.T) {
	redistest.Require(t)
	server := redistest.NewServer(t)
	fwd := newForwarder(t)
	url, done, stop := runInProcess(t, "-redis", fwd.addr)
	status := func(method, path, body string) (int, http.Header) {
		r, err := http.NewRequest(method, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	appendOne := func(id string) (int, http.Header) {
		return status("POST", "/conversations/c/messages", `{"role":"user","content":"hello","id":"`+id+`"}`)
	}
	for i := 0; ; i++ {
		code, h := appendOne(fmt.Sprint("down-", i))
		if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
			t.Fatalf("append with Redis down: %d, Retry-After %q; want 503 with Retry-After", code, h.Get("Retry-After"))
		}
		if code, body := getReadyz(t, url); code == http.StatusServiceUnavailable && strings.Contains(body, "breaker") {
			break
		}
		if i == 100 {
			t.Fatal("/readyz still 200 after 100 failed appends")
		}
	}

	fwd.target.Store(&server.Addr)
	ready := false
	for deadline := time.Now().Add(10 * time.Second); !ready && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		code, _ := status("GET", "/readyz", "")
		ready = code == http.StatusOK
	}
	if !ready {
		t.Fatal("/readyz not 200 within 10 s of Redis answering")
	}
	if code, _ := appendOne("up"); code != http.StatusCreated {
		t.Fatalf("append with Redis back: %d, want 201", code)
	}
	families := scrape(t, http.DefaultClient, url)
	if got := value(t, families, "chatring_breaker_state", "state", "closed"); got != 1 {
		t.Errorf("chatring_breaker_state{state=closed} = %v after a stored append, want 1", got)
	}
	if got := value(t, families, "chatring_breaker_transitions_total", "from", "half-open", "to", "closed"); got < 1 {
		t.Errorf("chatring_breaker_transitions_total{from=half-open,to=closed} = %v, want at least 1", got)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

// forwarder is a loopback TCP forwarder whose target can change: a
// connection it accepts is piped to *target, or closed at once while
// target is nil (nothing answers).
type forwarder struct {
	addr   string
	target atomic.Pointer[string]
}

func newForwarder(t *testing.T) *forwarder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			target := f.target.Load()
			if target == nil {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", *target)
			if err != nil {
				c.Close()
				continue
			}
			wg.Go(func() { io.Copy(up, c); up.Close() })
			wg.Go(func() { io.Copy(c, up); c.Close() })
		}
	})
	return f
}

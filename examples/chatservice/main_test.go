package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDrain runs the service in process with a drain delay and stops it
// (as a signal would) by canceling run's context: during the delay
// /readyz answers 503 while requests are still served, on a connection
// opened before; then run returns nil.
func TestDrain(t *testing.T) {
	const drain = 2 * time.Second
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	logR, logW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"-addr", "127.0.0.1:0", "-drain-delay", drain.String()}, logW)
		logW.Close()
		done <- err
	}()
	logs := bufio.NewScanner(logR)
	next := func(msg string) map[string]any {
		for logs.Scan() {
			var rec map[string]any
			if json.Unmarshal(logs.Bytes(), &rec) == nil && rec["msg"] == msg {
				return rec
			}
		}
		t.Fatalf("no log record %q", msg)
		return nil
	}
	url := "http://" + next("chatservice: listening")["addr"].(string)
	go io.Copy(io.Discard, logR)                                           // keep the service's logging unblocked after this
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

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// blockingStore is a Store whose Append waits until its ctx ends and
// then fails with end's error for it; called receives once per call, when
// it starts waiting.
type blockingStore struct {
	chatring.Store
	called chan struct{}
	end    func(ctx context.Context) error
}

func (s blockingStore) Append(ctx context.Context, _ string, _ chatring.Message) (chatring.Message, error) {
	s.called <- struct{}{}
	<-ctx.Done()
	return chatring.Message{}, s.end(ctx)
}

func (blockingStore) Close(context.Context) error { return nil }

// requestCount returns chatservice_http_requests_total{route, code}.
func requestCount(t *testing.T, a *api, route string, code int) float64 {
	t.Helper()
	var m dto.Metric
	if err := a.requests.WithLabelValues(route, fmt.Sprint(code)).(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

const appendRoute = "POST /conversations/{id}/messages"

// TestClientClosedRequest cancels appends while the store works on them,
// from the client's side and from the server's, and reads how they were
// counted. A client that went away (its connection closed: the request's
// context is canceled, without a cause) is counted as 499, nginx's
// "client closed request", not as 503: the store did nothing wrong, and
// ChatserviceUnavailable must not see it. A store that fails on its own
// (ErrUnavailable, or its deadline) while the client leaves is still 503,
// and so is a request that the shutdown cut at its deadline.
func TestClientClosedRequest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		end    func(ctx context.Context) error // the store's error
		server bool                            // the shutdown cuts the request, not the client
		want   int
	}{
		{"client canceled", func(ctx context.Context) error { return fmt.Errorf("store: %w", ctx.Err()) }, false, 499},
		{"client canceled, store unavailable", func(context.Context) error { return chatring.ErrUnavailable }, false, 503},
		{"client canceled, store deadline", func(context.Context) error { return context.DeadlineExceeded }, false, 503},
		{"shutdown deadline", func(ctx context.Context) error { return ctx.Err() }, true, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := blockingStore{called: make(chan struct{}, 1), end: tc.end}
			a := newAPI(store, chatring.DefaultMaxMessageBytes, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
			handled := make(chan struct{})
			srv, cut := newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(handled)
				a.ServeHTTP(w, r)
			}), slog.New(slog.DiscardHandler))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			defer srv.Close()

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go func() {
				<-store.called
				if !tc.server {
					cancel() // the client gives up: its connection closes
					return
				}
				// Shutdown waits for the request, which does not end,
				// then cancels it and cuts its connection.
				if err := shutdown(srv, cut, a.store, a, slog.New(slog.DiscardHandler), 0, 100*time.Millisecond); err == nil {
					t.Error("shutdown drained a request that never ends")
				}
			}()
			req, err := http.NewRequestWithContext(ctx, "POST", "http://"+ln.Addr().String()+"/conversations/c/messages",
				strings.NewReader(`{"role":"user","content":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				t.Fatalf("the request was answered %d; its connection should have closed first", resp.StatusCode)
			}
			select {
			case <-handled:
			case <-time.After(10 * time.Second):
				t.Fatal("the handler did not return")
			}
			for _, code := range []int{499, 503} {
				want := 0.0
				if code == tc.want {
					want = 1
				}
				if got := requestCount(t, a, appendRoute, code); got != want {
					t.Errorf("requests counted %d: %v, want %v", code, got, want)
				}
			}
		})
	}
}

package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkHandler measures the service's handler without the network: an
// append through the router, the JSON decoding and encoding, the store and
// the HTTP metrics, over 10 000 conversations. It is the part of a
// request's cost that is this service's; loadtest/run.sh measures the rest
// (net/http, loopback TCP) with wrk.
func BenchmarkHandler(b *testing.B) {
	store, err := chatring.NewMemoryStore(chatring.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close(b.Context())
	a := newAPI(store, chatring.DefaultMaxMessageBytes, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	b.Run("route=append", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			req, err := http.NewRequestWithContext(b.Context(), "POST", fmt.Sprintf("/conversations/c%d/messages", i%10_000),
				strings.NewReader(`{"role":"user","content":"load test message number 12345"}`))
			if err != nil {
				b.Fatal(err)
			}
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Fatalf("append: %d %s", rec.Code, rec.Body)
			}
		}
	})
}

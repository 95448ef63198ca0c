package promexport_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/promexport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// BenchmarkScrape measures a scrape of a MemoryStore holding a number of
// conversations of 4 messages each: what=stats is the store's Stats call
// alone, the baseline; what=scrape is what a Prometheus scrape costs the
// process: Gather on a registry holding the collector, then encoding in
// the text format.
func BenchmarkScrape(b *testing.B) {
	for _, convs := range []int{1000, 100_000} {
		s, err := chatring.NewMemoryStore(chatring.Config{MaxTurns: 2, MaxConversations: convs})
		if err != nil {
			b.Fatal(err)
		}
		for i := range convs {
			conv := fmt.Sprint("user-", i)
			for _, m := range []chatring.Message{
				{Role: chatring.User, Content: "What is the capital of France?"},
				{Role: chatring.Assistant, Content: "Paris."},
				{Role: chatring.User, Content: "And of Italy?"},
				{Role: chatring.Assistant, Content: "Rome."},
			} {
				if _, err := s.Append(b.Context(), conv, m); err != nil {
					b.Fatal(err)
				}
			}
		}
		if n := s.Stats().Conversations; n != convs {
			b.Fatalf("the store holds %d conversations, want %d", n, convs)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(promexport.NewMemoryStoreCollector(s))
		b.Run(fmt.Sprintf("conversations=%d/what=stats", convs), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Stats()
			}
		})
		b.Run(fmt.Sprintf("conversations=%d/what=scrape", convs), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				families, err := reg.Gather()
				if err != nil {
					b.Fatal(err)
				}
				enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
				for _, f := range families {
					if err := enc.Encode(f); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		s.Close(b.Context())
	}
}

package resilient_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
)

// benchStores returns the bare MemoryStore, a resilient Store over
// another one with the default policies, and one without the attempt
// timeout (AttemptTimeout -1: no timer per attempt), in a fixed order.
func benchStores(b *testing.B) []struct {
	name  string
	store chatring.Store
} {
	b.Helper()
	cfg := chatring.Config{MaxTurns: 10, MaxConversations: 10_000}
	mem, err := chatring.NewMemoryStore(cfg)
	if err != nil {
		b.Fatal(err)
	}
	inner, err := chatring.NewMemoryStore(cfg)
	if err != nil {
		b.Fatal(err)
	}
	wrapped, err := resilient.New(inner)
	if err != nil {
		b.Fatal(err)
	}
	inner2, err := chatring.NewMemoryStore(cfg)
	if err != nil {
		b.Fatal(err)
	}
	untimed, err := resilient.New(inner2, resilient.WithRetry(resilient.RetryPolicy{AttemptTimeout: -1}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = mem.Close(context.Background())
		_ = wrapped.Close(context.Background())
		_ = untimed.Close(context.Background())
	})
	return []struct {
		name  string
		store chatring.Store
	}{{"memory", mem}, {"resilient", wrapped}, {"resilient-untimed", untimed}}
}

// BenchmarkAppend is the wrapper's happy-path overhead on Append over a
// MemoryStore: id=none appends messages without an ID (the wrapper gives
// each one, so the MemoryStore takes its ID path), id=caller messages
// with the caller's ID (the same work for the MemoryStore either way).
// Besides ns/op it reports cpu-ns/op, the process's CPU time per call,
// which a loaded machine inflates far less.
func BenchmarkAppend(b *testing.B) {
	for _, s := range benchStores(b) {
		for _, id := range []string{"none", "caller"} {
			b.Run(fmt.Sprintf("store=%s/id=%s", s.name, id), func(b *testing.B) {
				ctx := context.Background()
				m := chatring.Message{Role: chatring.User, Content: "what is the weather in Paris today?"}
				b.ReportAllocs()
				i := 0
				cpu := cpuTime()
				for b.Loop() {
					if id == "caller" {
						m.ID = fmt.Sprint("req-", i)
					}
					if _, err := s.store.Append(ctx, "conv-"+id, m); err != nil {
						b.Fatal(err)
					}
					i++
				}
				reportCPU(b, cpu)
			})
		}
	}
}

// BenchmarkMessages is the wrapper's happy-path overhead on a read of a
// full window of 20 messages (the wrapper copies it into its mirror).
func BenchmarkMessages(b *testing.B) {
	for _, s := range benchStores(b) {
		b.Run("store="+s.name, func(b *testing.B) {
			ctx := context.Background()
			for i := range 20 {
				if _, err := s.store.Append(ctx, "conv", chatring.Message{Role: chatring.User, Content: fmt.Sprint("message ", i)}); err != nil {
					b.Fatal(err)
				}
			}
			var buf []chatring.Message
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = s.store.Messages(ctx, "conv", buf[:0]); err != nil || len(buf) != 20 {
					b.Fatal(len(buf), err)
				}
			}
		})
	}
}

// BenchmarkBreakerOpen is the latency of calls while the breaker is open:
// op=append fails fast with ErrBreakerOpen, op=messages is a degraded
// read from the mirror. Each call is timed; p50-ns, p99-ns and max-ns
// are reported besides ns/op (which includes the two clock reads).
func BenchmarkBreakerOpen(b *testing.B) {
	mem, err := chatring.NewMemoryStore(chatring.Config{MaxTurns: 10})
	if err != nil {
		b.Fatal(err)
	}
	fs := faultstore.New(mem)
	s, err := resilient.New(fs, resilient.WithBreaker(resilient.BreakerPolicy{Failures: 1, OpenFor: time.Hour}),
		resilient.WithRetry(resilient.RetryPolicy{Attempts: 1}))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx := context.Background()
	for i := range 20 {
		if _, err := s.Append(ctx, "conv", chatring.Message{Role: chatring.User, Content: fmt.Sprint("message ", i)}); err != nil {
			b.Fatal(err)
		}
	}
	fs.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	for s.Stats().Breaker != "open" {
		_, _ = s.Append(ctx, "conv", chatring.Message{Role: chatring.User, Content: "x"})
	}
	calls := map[string]func() error{
		"append": func() error {
			_, err := s.Append(ctx, "conv", chatring.Message{Role: chatring.User, Content: "x"})
			if !errors.Is(err, resilient.ErrBreakerOpen) {
				return fmt.Errorf("append: %v, want ErrBreakerOpen", err)
			}
			return nil
		},
		"messages": func() error {
			msgs, err := s.Messages(ctx, "conv", nil)
			if err != nil || len(msgs) != 20 {
				return fmt.Errorf("degraded read: %d messages, %v", len(msgs), err)
			}
			return nil
		},
	}
	for _, op := range []string{"append", "messages"} {
		b.Run("op="+op, func(b *testing.B) {
			call := calls[op]
			lat := make([]time.Duration, 0, 1<<16)
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				if err := call(); err != nil {
					b.Fatal(err)
				}
				if len(lat) < cap(lat) {
					lat = append(lat, time.Since(start))
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
			b.ReportMetric(float64(lat[len(lat)-1]), "max-ns")
		})
	}
}

// BenchmarkAppendCancelable is BenchmarkAppend's id=caller under a
// cancelable ctx without a deadline, as a server's request context
// usually is: the attempt's deadline is then a child of the caller's ctx
// (before: a context.WithDeadline per attempt).
func BenchmarkAppendCancelable(b *testing.B) {
	for _, s := range benchStores(b) {
		b.Run("store="+s.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			m := chatring.Message{Role: chatring.User, Content: "what is the weather in Paris today?"}
			b.ReportAllocs()
			i := 0
			cpu := cpuTime()
			for b.Loop() {
				m.ID = fmt.Sprint("req-", i)
				if _, err := s.store.Append(ctx, "conv", m); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportCPU(b, cpu)
		})
	}
}

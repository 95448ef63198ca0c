package resilient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a Store over a fault-injecting store over a MemoryStore, with
// its log captured.
type rig struct {
	*resilient.Store
	faults *faultstore.Store
	mem    *chatring.MemoryStore
	logs   *logBuffer
}

// fast are retry and breaker policies that keep tests short: quick
// retries, and a breaker that opens only when a test asks for it.
var (
	fastRetry   = resilient.RetryPolicy{BaseDelay: 100 * time.Microsecond, MaxDelay: time.Millisecond, AttemptTimeout: 2 * time.Second, MaxElapsed: 5 * time.Second}
	lazyBreaker = resilient.BreakerPolicy{Failures: 1 << 30}
)

// newRig returns a rig for cfg; opts come after the fast policies and
// the captured logger, so they override them. The Store is closed when
// the test ends (if the test did not close it).
func newRig(t *testing.T, cfg chatring.Config, opts ...resilient.Option) *rig {
	t.Helper()
	mem, err := chatring.NewMemoryStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{faults: faultstore.New(mem), mem: mem, logs: new(logBuffer)}
	all := append([]resilient.Option{
		resilient.WithRetry(fastRetry),
		resilient.WithBreaker(lazyBreaker),
		resilient.WithLogger(newLogger(r.logs)),
	}, opts...)
	if r.Store, err = resilient.New(r.faults, all...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.faults.SetPolicy(nil)
		_ = r.Close(ctx)
	})
	return r
}

// append appends content as a user message to conv, or fails the test.
func (r *rig) append(t *testing.T, conv, content string) chatring.Message {
	t.Helper()
	m, err := r.Append(context.Background(), conv, chatring.Message{Role: chatring.User, Content: content})
	if err != nil {
		t.Fatalf("Append(%q): %v", content, err)
	}
	return m
}

// stored returns conv's window in the MemoryStore behind the rig, as
// "seq:content" strings.
func (r *rig) stored(t *testing.T, conv string) []string {
	t.Helper()
	msgs, err := r.mem.Messages(context.Background(), conv, nil)
	if err != nil {
		t.Fatal(err)
	}
	return brief(msgs)
}

// brief renders messages as "seq:content".
func brief(msgs []chatring.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = fmt.Sprintf("%d:%s", m.Seq, m.Content)
	}
	return out
}

// eventually polls cond every millisecond until it holds or 10 seconds
// pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// logBuffer collects JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything logged.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the log records whose message is msg.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// newLogger returns a JSON logger at Debug that writes to b.
func newLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

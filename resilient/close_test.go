package resilient_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
	"github.com/google/go-cmp/cmp"
)

// TestCloseFlushes: Close replays the outbox to a primary that is back,
// then closes the primary, and returns nil.
func TestCloseFlushes(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt, resilient.WithOutbox(10), resilient.WithFlushInterval(time.Hour))
	r.down()
	r.buffered(t, "c", "one")
	r.buffered(t, "c", "two")
	r.buffered(t, "d", "three")
	r.faults.SetPolicy(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if diff := cmp.Diff([]string{"1:one", "2:two"}, r.stored(t, "c")); diff != "" {
		t.Errorf("c (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1:three"}, r.stored(t, "d")); diff != "" {
		t.Errorf("d (-want +got):\n%s", diff)
	}
	if err := r.try("c"); !errors.Is(err, chatring.ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	if _, err := r.mem.Append(context.Background(), "c", chatring.Message{Role: chatring.User, Content: "x"}); !errors.Is(err, chatring.ErrClosed) {
		t.Errorf("the primary after Close: %v, want ErrClosed (Close closes it)", err)
	}
	if recs := r.logs.records(t, "resilient: closed"); len(recs) != 1 || recs[0]["replayed"] != 3.0 {
		t.Errorf("log records of Close: %v", recs)
	}
}

// TestCloseUnflushed: when the primary stays down, Close gives up at its
// ctx's deadline and says how many buffered appends, in how many
// conversations, were not flushed — in its error and in the log, without
// content.
func TestCloseUnflushed(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt, resilient.WithOutbox(10), resilient.WithFlushInterval(5*time.Millisecond))
	r.down()
	r.buffered(t, "c", "secret one")
	r.buffered(t, "c", "secret two")
	r.buffered(t, "d", "secret three")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := r.Close(ctx)
	var ue *resilient.UnflushedError
	if !errors.As(err, &ue) || ue.Messages != 3 || ue.Conversations != 2 {
		t.Fatalf("Close: %v, want an *UnflushedError for 3 messages in 2 conversations", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("Close: %v, want it to match the ctx's DeadlineExceeded and ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "3 buffered appends in 2 conversations not flushed") {
		t.Errorf("Close's error %q does not say what was not flushed", err)
	}
	if st := r.Stats(); st.Unflushed != 3 || st.Outbox != 3 {
		t.Errorf("Stats after Close: unflushed %d, outbox %d; want 3 and 3", st.Unflushed, st.Outbox)
	}
	if r.faults.Calls(faultstore.Append) < 2 {
		t.Errorf("Close made %d replay attempts, want it to keep trying until its deadline", r.faults.Calls(faultstore.Append))
	}
	recs := r.logs.records(t, "resilient: closed with buffered appends not flushed")
	if len(recs) != 1 || recs[0]["level"] != "ERROR" || recs[0]["unflushed_messages"] != 3.0 || recs[0]["unflushed_conversations"] != 2.0 {
		t.Errorf("log records of Close: %v", recs)
	}
	if strings.Contains(r.logs.String(), "secret") {
		t.Error("the log holds message content")
	}
	if again := r.Close(context.Background()); again != err {
		t.Errorf("second Close: %v, want the first one's error", again)
	}
}

// TestCloseWaitsForWrites: Close stops new writes at once and waits for
// those in flight, up to its ctx.
func TestCloseWaitsForWrites(t *testing.T) {
	r := newRig(t, chatring.Config{}, resilient.WithRetry(resilient.RetryPolicy{Attempts: 1, AttemptTimeout: time.Second}))
	r.faults.SetPolicy(faultstore.Always(faultstore.Append, faultstore.Hang))
	inFlight := make(chan error)
	go func() { inFlight <- r.try("c") }()
	eventually(t, "the append reaches the primary", func() bool { return r.faults.Calls(faultstore.Append) == 1 })

	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := r.Close(short)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 calls still in flight") {
		t.Errorf("Close with a write in flight past its deadline: %v", err)
	}
	if err := r.try("c"); !errors.Is(err, chatring.ErrClosed) {
		t.Errorf("Append during Close: %v, want ErrClosed", err)
	}
	if err := <-inFlight; !errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("the write in flight: %v, want its own ErrUnavailable", err)
	}
}

package resilient_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
	"github.com/chatring/chatring/resilient/internal/faultstore"
	"github.com/google/go-cmp/cmp"
)

// buffered appends content to conv and fails t unless it was buffered.
func (r *rig) buffered(t *testing.T, conv, content string) chatring.Message {
	t.Helper()
	m, err := r.Append(context.Background(), conv, chatring.Message{Role: chatring.User, Content: content})
	if !errors.Is(err, resilient.ErrBuffered) || !errors.Is(err, chatring.ErrUnavailable) {
		t.Fatalf("Append(%q) = %v, want ErrBuffered matching ErrUnavailable", content, err)
	}
	return m
}

// down makes every call of the primary fail before reaching it.
func (r *rig) down() { r.faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before)) }

// TestOutboxAcks: while the primary is unavailable an Append is buffered
// (ErrBuffered, a provisional Seq, the ID it will be replayed with) and
// shown by degraded reads; a nil error always means the primary has it.
func TestOutboxAcks(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt, resilient.WithOutbox(10), resilient.WithFlushInterval(time.Hour))
	ctx := context.Background()
	durable := r.append(t, "c", "durable")
	if diff := cmp.Diff([]string{"1:durable"}, r.stored(t, "c")); diff != "" || durable.Seq != 1 {
		t.Fatalf("a nil error: Seq %d, the primary holds (-want +got):\n%s", durable.Seq, diff)
	}
	r.down()
	b := r.buffered(t, "c", "buffered")
	if b.Seq != 2 || !strings.HasPrefix(b.ID, resilient.IDPrefix) || b.Time.IsZero() || b.Tokens == 0 {
		t.Errorf("buffered message %+v: want provisional Seq 2, a generated ID, a Time and Tokens", b)
	}
	if diff := cmp.Diff([]string{"1:durable"}, r.stored(t, "c")); diff != "" {
		t.Errorf("the primary holds a buffered append (-want +got):\n%s", diff)
	}
	got, err := r.Messages(ctx, "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1:durable", "2:buffered"}, brief(got)); diff != "" || got[1].ID != "" {
		t.Errorf("degraded read (-want +got):\n%s\nIDs %q", diff, got[1].ID)
	}
	// Sending it again with its ID is idempotent, buffered or not.
	again, err := r.Append(ctx, "c", b)
	if !errors.Is(err, resilient.ErrBuffered) || again.Seq != 2 || again.ID != b.ID {
		t.Errorf("retry of a buffered append = %+v, %v; want the same buffered message", again, err)
	}
	dur, err := r.Append(ctx, "c", durable)
	if err == nil {
		t.Errorf("retry of a durable append with no ID of its own = %+v: want it buffered as a new message", dur)
	}
	withID, err := r.Append(ctx, "d", chatring.Message{Role: chatring.User, Content: "x", ID: "known"})
	if !errors.Is(err, resilient.ErrBuffered) || withID.ID != "known" || withID.Seq != 1 {
		t.Errorf("buffered append with a caller's ID = %+v, %v", withID, err)
	}
	st := r.Stats()
	if st.Buffered != 3 || st.Outbox != 3 || st.OutboxConversations != 2 || st.OutboxHighWater != 3 {
		t.Errorf("Stats: buffered %d, outbox %d in %d conversations, high water %d; want 3, 3, 2, 3",
			st.Buffered, st.Outbox, st.OutboxConversations, st.OutboxHighWater)
	}
}

// TestOutboxDurableIDWhileDown: an Append whose ID the mirror holds as
// stored is a durable ack even while the primary is down.
func TestOutboxDurableIDWhileDown(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt, resilient.WithOutbox(10))
	ctx := context.Background()
	first, err := r.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "x", ID: "req-1"})
	if err != nil {
		t.Fatal(err)
	}
	r.down()
	again, err := r.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: "x", ID: "req-1"})
	if err != nil || again.Seq != first.Seq {
		t.Errorf("retry of a stored ID while down = %+v, %v; want the stored message, nil", again, err)
	}
	if st := r.Stats(); st.Buffered != 0 {
		t.Errorf("%d appends buffered, want none", st.Buffered)
	}
}

// TestOutboxReplayOrder: the flusher replays the outbox when the primary
// is back, in order per conversation.
func TestOutboxReplayOrder(t *testing.T) {
	r := newRig(t, chatring.Config{MaxTurns: 10}, oneAttempt, resilient.WithOutbox(100), resilient.WithFlushInterval(5*time.Millisecond))
	r.append(t, "a", "a0")
	r.down()
	for i := 1; i <= 5; i++ {
		r.buffered(t, "a", fmt.Sprint("a", i))
		r.buffered(t, "b", fmt.Sprint("b", i))
	}
	time.Sleep(20 * time.Millisecond) // the flusher fails a few rounds
	r.faults.SetPolicy(nil)
	eventually(t, "the outbox drains", func() bool { return r.Stats().Outbox == 0 })
	if diff := cmp.Diff([]string{"1:a0", "2:a1", "3:a2", "4:a3", "5:a4", "6:a5"}, r.stored(t, "a")); diff != "" {
		t.Errorf("conversation a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1:b1", "2:b2", "3:b3", "4:b4", "5:b5"}, r.stored(t, "b")); diff != "" {
		t.Errorf("conversation b (-want +got):\n%s", diff)
	}
	if st := r.Stats(); st.Replayed != 10 {
		t.Errorf("Replayed %d, want 10", st.Replayed)
	}
	// Reads see them through the primary again.
	got, err := r.Messages(context.Background(), "b", nil)
	if err != nil || len(got) != 5 {
		t.Errorf("Messages after the drain = %v, %v", brief(got), err)
	}
}

// TestOutboxIdempotentReplay: a replay whose reply is lost after the
// primary stored the message is replayed again and stored once.
func TestOutboxIdempotentReplay(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt, resilient.WithOutbox(10), resilient.WithFlushInterval(2*time.Millisecond))
	r.down()
	r.buffered(t, "c", "once")
	r.buffered(t, "c", "twice?")
	r.faults.SetPolicy(faultstore.Times(faultstore.Append, faultstore.After, 5))
	eventually(t, "the outbox drains", func() bool { return r.Stats().Outbox == 0 })
	if diff := cmp.Diff([]string{"1:once", "2:twice?"}, r.stored(t, "c")); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	if n := r.faults.Calls(faultstore.Append); n < 7 {
		t.Errorf("%d replays, want at least 7: 5 lost replies and 2 answered", n)
	}
}

// TestOutboxFull: a full outbox refuses with ErrUnavailable
// (ErrOutboxFull), not ErrBuffered, and buffers nothing more.
func TestOutboxFull(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt, resilient.WithOutbox(2), resilient.WithFlushInterval(time.Hour))
	r.down()
	r.buffered(t, "c", "1")
	r.buffered(t, "d", "2")
	m, err := r.Append(context.Background(), "c", chatring.Message{Role: chatring.User, Content: "3"})
	if !errors.Is(err, resilient.ErrOutboxFull) || !errors.Is(err, chatring.ErrUnavailable) || errors.Is(err, resilient.ErrBuffered) {
		t.Errorf("Append to a full outbox: %v, want ErrOutboxFull and ErrUnavailable, not ErrBuffered", err)
	}
	if m.Seq != 0 || m.ID == "" {
		t.Errorf("refused message %+v: want no Seq, the ID to retry with", m)
	}
	if st := r.Stats(); st.OutboxFull != 1 || st.Outbox != 2 || st.OutboxHighWater != 2 || st.OutboxCapacity != 2 || st.Unflushed != 0 {
		t.Errorf("Stats: full %d, outbox %d, high water %d, capacity %d, unflushed %d; want 1, 2, 2, 2, 0",
			st.OutboxFull, st.Outbox, st.OutboxHighWater, st.OutboxCapacity, st.Unflushed)
	}
	got, _ := r.Messages(context.Background(), "c", nil)
	if diff := cmp.Diff([]string{"1:1"}, brief(got)); diff != "" {
		t.Errorf("degraded read (-want +got):\n%s", diff)
	}
}

// TestOutboxWritesComeAfter: a write to a conversation with buffered
// appends replays them first, so it lands after them; if it cannot, an
// Append is buffered behind them and any other write fails.
func TestOutboxWritesComeAfter(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt, resilient.WithOutbox(10), resilient.WithFlushInterval(time.Hour))
	ctx := context.Background()
	r.append(t, "c", "a")
	r.down()
	r.buffered(t, "c", "b")
	if err := r.Clear(ctx, "c"); !errors.Is(err, chatring.ErrUnavailable) {
		t.Errorf("Clear while the primary is down and c has buffered appends: %v", err)
	}
	r.buffered(t, "c", "c") // behind b
	r.faults.SetPolicy(nil)
	m := r.append(t, "c", "d") // replays b and c first
	if m.Seq != 4 {
		t.Errorf("the append after the buffered ones got Seq %d, want 4", m.Seq)
	}
	if diff := cmp.Diff([]string{"1:a", "2:b", "3:c", "4:d"}, r.stored(t, "c")); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}

	// A SetSystemPrompt, a read, a Clear: each replays first too.
	for name, call := range map[string]func() error{
		"SetSystemPrompt": func() error { return r.SetSystemPrompt(ctx, "c", "p") },
		"Messages":        func() error { _, err := r.Messages(ctx, "c", nil); return err },
		"Clear":           func() error { return r.Clear(ctx, "c") },
	} {
		r.down()
		r.buffered(t, "c", name)
		r.faults.SetPolicy(nil)
		if err := call(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st := r.Stats(); st.Outbox != 0 {
			t.Errorf("%s left %d buffered appends", name, st.Outbox)
		}
	}
}

// TestOutboxValidates: a buffered append is validated as the primary
// would; one the primary rejects anyway on replay (its Config differs
// from the one the Store was given) is discarded and logged without its
// content.
func TestOutboxValidates(t *testing.T) {
	// The Store believes messages of 100 bytes are fine; the primary's
	// limit is 10.
	mem, err := chatring.NewMemoryStore(chatring.Config{MaxMessageBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	logs := new(logBuffer)
	faults := faultstore.New(mem)
	s, err := resilient.New(faults, oneAttempt, resilient.WithOutbox(10), resilient.WithFlushInterval(time.Millisecond),
		resilient.WithConfig(chatring.Config{MaxMessageBytes: 100}), resilient.WithLogger(newLogger(logs)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	faults.SetPolicy(faultstore.Always(faultstore.Any, faultstore.Before))
	ctx := context.Background()
	if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: strings.Repeat("x", 101)}); !errors.Is(err, chatring.ErrMessageTooLarge) {
		t.Errorf("buffering an invalid message: %v, want ErrMessageTooLarge", err)
	}
	const secret = "forty-two bytes of very secret content...."
	if _, err := s.Append(ctx, "c", chatring.Message{Role: chatring.User, Content: secret}); !errors.Is(err, resilient.ErrBuffered) {
		t.Fatal(err)
	}
	faults.SetPolicy(nil)
	eventually(t, "the outbox drains", func() bool { return s.Stats().Outbox == 0 })
	if st := s.Stats(); st.Discarded != 1 || st.Replayed != 0 {
		t.Errorf("Discarded %d, Replayed %d; want 1, 0", st.Discarded, st.Replayed)
	}
	if recs := logs.records(t, "resilient: the primary rejected a buffered append; discarded"); len(recs) != 1 || recs[0]["level"] != "ERROR" {
		t.Errorf("log records of the discarded append: %v", recs)
	}
	if strings.Contains(logs.String(), "secret") {
		t.Error("the log holds message content")
	}
}

// TestOutboxKeepsOnErrClosed: ErrClosed from the primary (closed behind
// the Store's back) is not a rejection of the message: the outbox keeps
// it and Close reports it as not flushed.
func TestOutboxKeepsOnErrClosed(t *testing.T) {
	r := newRig(t, chatring.Config{}, oneAttempt, resilient.WithOutbox(10), resilient.WithFlushInterval(time.Millisecond))
	r.down()
	r.buffered(t, "c", "kept")
	if err := r.mem.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.faults.SetPolicy(nil)
	attempts := r.Stats().Attempts
	eventually(t, "replays reach the closed primary", func() bool { return r.Stats().Attempts > attempts+3 })
	if st := r.Stats(); st.Outbox != 1 || st.Discarded != 0 {
		t.Errorf("outbox %d, discarded %d; want the message kept", st.Outbox, st.Discarded)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // it stops at ErrClosed, not at the deadline
	defer cancel()
	var ue *resilient.UnflushedError
	if err := r.Close(ctx); !errors.As(err, &ue) || ue.Messages != 1 || !errors.Is(err, chatring.ErrClosed) {
		t.Errorf("Close: %v, want 1 message not flushed because of ErrClosed", err)
	}
}

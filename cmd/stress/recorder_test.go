package main

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
)

// batchMemory is a MemoryStore with an AppendBatch that appends one
// message at a time and fails with ErrUnavailable before message failAt.
type batchMemory struct {
	*chatring.MemoryStore
	failAt int
}

func (s *batchMemory) AppendBatch(ctx context.Context, conv string, ms []chatring.Message) ([]chatring.Message, error) {
	var out []chatring.Message
	for i, m := range ms {
		if i == s.failAt {
			return out, chatring.ErrUnavailable
		}
		got, err := s.Append(ctx, conv, m)
		if err != nil {
			return out, err
		}
		out = append(out, got)
	}
	return out, nil
}

// TestRecorderBatches: over a primary that is a resilient.BatchAppender
// the recorder is one too (the resilient Store replays its outbox in
// batches, as over the Redis store), and it records the Seq of each
// message a batch acknowledged, those before a failure included; over
// one that is not, it is not.
func TestRecorderBatches(t *testing.T) {
	mem, err := chatring.NewMemoryStore(chatring.Config{MaxTurns: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close(context.Background())
	if _, ok := newRecorder(mem).primary().(resilient.BatchAppender); ok {
		t.Error("the recorder of a MemoryStore is a BatchAppender")
	}
	r := newRecorder(&batchMemory{MemoryStore: mem, failAt: 2})
	ba, ok := r.primary().(resilient.BatchAppender)
	if !ok {
		t.Fatal("the recorder of a BatchAppender is not one")
	}
	var ms []chatring.Message
	for n := range uint64(3) {
		ms = append(ms, chatring.Message{Role: roleOf(n), Content: storeContent(nil, 7, 1, n, 0)})
	}
	got, err := ba.AppendBatch(context.Background(), "c", ms)
	if !errors.Is(err, chatring.ErrUnavailable) || len(got) != 2 {
		t.Fatalf("AppendBatch = %d messages, %v; want 2, ErrUnavailable", len(got), err)
	}
	for n, want := range [][]uint64{{1}, {2}, nil} {
		if seqs := r.seqs[msgKey{7, 1, uint64(n)}]; !slices.Equal(seqs, want) {
			t.Errorf("message #%d recorded at Seqs %v, want %v", n, seqs, want)
		}
	}
}

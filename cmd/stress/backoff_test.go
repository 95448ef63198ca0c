package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
)

// TestFullOutboxBackoff: a writer waits after an append refused for a
// full outbox, the bound of its wait doubling from fullWaitMin up to
// fullWaitMax while appends are refused, and any other outcome resets it.
func TestFullOutboxBackoff(t *testing.T) {
	fa := newFaultAcks(2, 0)
	full := fmt.Errorf("%w: %w", chatring.ErrUnavailable, resilient.ErrOutboxFull)
	want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond,
		16 * time.Millisecond, 32 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}
	ctx := context.Background()
	for i, w := range want {
		fa.backoff(ctx, 0, full)
		if fa.fullWait[0] != w {
			t.Fatalf("after %d refusals the bound is %v, want %v", i+1, fa.fullWait[0], w)
		}
	}
	if fa.fullWait[1] != 0 {
		t.Errorf("writer 1's bound moved with writer 0's: %v", fa.fullWait[1])
	}
	for _, err := range []error{nil, fmt.Errorf("%w: %w", chatring.ErrUnavailable, resilient.ErrBuffered), chatring.ErrUnavailable} {
		fa.fullWait[0] = fullWaitMax
		fa.backoff(ctx, 0, err)
		if fa.fullWait[0] != 0 {
			t.Errorf("after %v the bound is %v, want it reset", err, fa.fullWait[0])
		}
	}
}

package chatring_test

import (
	"context"
	"testing"

	"github.com/chatring/chatring"
)

// TestStatsAllocations checks what Stats' documentation says it
// allocates: 4 times (the window-sized slice and the two maps, on Go 1.26)
// when nothing changed since the last call, and 1 or 2 more when
// RejectedByReason is not empty. The window has wrapped round the ring
// (30 appends, capacity 20), as in any long conversation. The race
// detector's instrumentation makes slices.Grow allocate twice, so, like
// the standard library's allocation tests, this one runs without it (make
// cover runs it).
func TestStatsAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector; run without -race")
	}
	ctx := context.Background()
	for _, backend := range chatring.Backends() {
		t.Run(backend, func(t *testing.T) {
			h, err := chatring.New(chatring.Config{Backend: backend, MaxTurns: 10})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 30 {
				role := chatring.User
				if i%2 == 1 {
					role = chatring.Assistant
				}
				if _, err := h.Append(ctx, chatring.Message{Role: role, Content: "hello"}); err != nil {
					t.Fatal(err)
				}
			}
			h.Stats() // records the evictions
			if n := testing.AllocsPerRun(100, func() { h.Stats() }); n != 4 {
				t.Errorf("Stats allocated %v times per call with nothing changed, want 4", n)
			}
			if _, err := h.Append(ctx, chatring.Message{Role: "robot", Content: "hello"}); err == nil {
				t.Fatal("an invalid role was accepted")
			}
			if n := testing.AllocsPerRun(100, func() { h.Stats() }); n < 5 || n > 6 {
				t.Errorf("Stats allocated %v times per call with a rejection counted, want 5 or 6", n)
			}
		})
	}
}

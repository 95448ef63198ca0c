package rejection_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/internal/rejection"
	"github.com/google/go-cmp/cmp"
)

// TestCounter counts rejections from concurrent goroutines and checks
// ByReason's counts, keys (chatring.RejectionReason's) and sum.
func TestCounter(t *testing.T) {
	var c rejection.Counter
	if got, total := c.ByReason(); len(got) != 0 || total != 0 {
		t.Fatalf("a new Counter: %v, %d; want nothing", got, total)
	}
	errs := []error{
		fmt.Errorf("x: %w", chatring.ErrInvalidRole),
		chatring.ErrEmptyContent,
		context.Canceled,
		errors.New("a future error"),
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, err := range errs {
				if got := c.Add(err); got != err {
					t.Errorf("Add(%v) returned %v", err, got)
				}
			}
		})
	}
	wg.Wait()
	got, total := c.ByReason()
	want := map[string]uint64{"invalid_role": 4, "empty_content": 4, "canceled": 4, "other": 4}
	if diff := cmp.Diff(want, got); diff != "" || total != 16 {
		t.Errorf("ByReason: total %d, want 16; (-want +got):\n%s", total, diff)
	}
}

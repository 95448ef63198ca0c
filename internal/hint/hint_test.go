package hint

import (
	"sync"
	"testing"
)

// TestGoroutine checks that the hint is stable within a goroutine and
// spreads goroutines: it only steers which stripe is tried first, but a
// constant hint would put every goroutine on one stripe.
func TestGoroutine(t *testing.T) {
	if a, b := Goroutine(), Goroutine(); a != b {
		t.Errorf("Goroutine() changed between two calls in one goroutine: %d, %d", a, b)
	}
	const goroutines, stripes = 32, 4
	seen := make(map[uint64]bool)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			h := Goroutine() % stripes
			mu.Lock()
			seen[h] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) < 2 {
		t.Errorf("%d goroutines all hashed to stripe %v of %d", goroutines, seen, stripes)
	}
}

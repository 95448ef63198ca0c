// Package rejection counts the calls a store refuses, by
// chatring.RejectionReason. The Redis store and the resilient Store use
// it, so that their Stats.RejectedByReason have the keys of chatring's.
package rejection

import (
	"sync"
	"sync/atomic"

	"github.com/chatring/chatring"
)

// Counter counts rejections by reason. The zero Counter is ready to use;
// its methods are safe for concurrent use.
type Counter struct {
	// byReason maps a chatring.RejectionReason to its *atomic.Uint64,
	// created at the reason's first rejection. Rejections are rare, so a
	// sync.Map, which takes no lock once the reason is there, is cheap
	// enough for them, and a call that is not rejected costs nothing.
	byReason sync.Map
}

// Add counts err, the error of a refused call, under
// chatring.RejectionReason(err) with one atomic add, and returns err.
func (c *Counter) Add(err error) error {
	r := chatring.RejectionReason(err)
	n, ok := c.byReason.Load(r)
	if !ok {
		n, _ = c.byReason.LoadOrStore(r, new(atomic.Uint64))
	}
	n.(*atomic.Uint64).Add(1)
	return err
}

// ByReason returns the counts of the reasons that occurred, in a new map,
// and their sum. Each count is exact at the instant it is read.
func (c *Counter) ByReason() (byReason map[string]uint64, total uint64) {
	byReason = map[string]uint64{}
	c.byReason.Range(func(k, v any) bool {
		n := v.(*atomic.Uint64).Load()
		byReason[k.(string)] = n
		total += n
		return true
	})
	return byReason, total
}

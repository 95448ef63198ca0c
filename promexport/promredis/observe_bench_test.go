package promredis_test

import (
	"testing"
	"time"

	"github.com/chatring/chatring/promexport/promredis"
	"github.com/chatring/chatring/redisstore"
)

// BenchmarkObserve measures what the Collector adds to each operation of
// an observed redisstore.Store (besides the two clock reads redisstore
// makes): one histogram observation, and a counter increment for a
// failure.
func BenchmarkObserve(b *testing.B) {
	for _, bc := range []struct {
		name string
		kind redisstore.ErrorKind
	}{{"kind=none", redisstore.KindNone}, {"kind=unavailable", redisstore.KindUnavailable}} {
		b.Run(bc.name, func(b *testing.B) {
			c := promredis.New()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.Observe("append", 300*time.Microsecond, bc.kind)
				}
			})
		})
	}
}

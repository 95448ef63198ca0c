package promredis_test

import (
	"time"

	"github.com/chatring/chatring/promexport/promredis"
	"github.com/chatring/chatring/redisstore"
)

// feed makes c observe a fixed set of operations: the ones
// TestExposition's expected exposition counts.
func feed(c *promredis.Collector) {
	for _, o := range []struct {
		op   string
		d    time.Duration
		kind redisstore.ErrorKind
	}{
		{"append", 300 * time.Microsecond, redisstore.KindNone},        // le 0.0005
		{"append", 400 * time.Microsecond, redisstore.KindNone},        // le 0.0005
		{"append", 2 * time.Millisecond, redisstore.KindUnavailable},   // le 0.0025
		{"append", 500 * time.Millisecond, redisstore.KindUnavailable}, // le 0.5
		{"messages", 50 * time.Microsecond, redisstore.KindNone},       // le 0.0001
		{"window", 3 * time.Second, redisstore.KindTimeout},
		{"delete", 20 * time.Microsecond, redisstore.KindCanceled},     // le 0.0001           // +Inf only
		{"set_system_prompt", time.Millisecond, redisstore.KindFormat}, // le 0.001
		{"clear", 10 * time.Millisecond, redisstore.KindOther},         // le 0.01
		{"scan", time.Millisecond, redisstore.KindNone},                // an op promredis does not know: exported from now on
		{"scan", time.Millisecond, redisstore.ErrorKind(42)},           // a kind it does not know: "other"
	} {
		c.Observe(o.op, o.d, o.kind)
	}
}

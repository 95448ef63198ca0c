package workload

import (
	"github.com/chatring/chatring/lockfree"
	"github.com/chatring/chatring/ringbuf"
	"github.com/chatring/chatring/sharded"
)

// Backends are chatring's three ring backends at level ring, in the order
// every table shows them. sharded uses its default shard count (GOMAXPROCS
// at New), so it follows -cpu.
var Backends = []Contender{
	{Backend: "mutex", New: func(capacity int) Ring { return ringbuf.New[Msg](capacity) }},
	{Backend: "lockfree", New: func(capacity int) Ring { return lockfree.New[Msg](capacity) }},
	{Backend: "sharded", New: func(capacity int) Ring { return sharded.New[Msg](capacity) }},
}

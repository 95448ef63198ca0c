package sharded_test

import (
	"fmt"

	"github.com/chatring/chatring/sharded"
)

func ExampleNew() {
	r := sharded.New[string](3, sharded.WithShards(4))
	for _, m := range []string{"a", "b", "c", "d"} {
		r.Push(m)
	}
	window, last := r.Snapshot(nil)
	fmt.Println(window, last, r.Shards())
	// Output: [b c d] 4 4
}

package ringbuf_test

import (
	"fmt"

	"github.com/chatring/chatring/ringbuf"
)

func ExampleNew() {
	r := ringbuf.New[string](3)
	for _, m := range []string{"hi", "hello!", "how are you?", "fine", "bye"} {
		r.Push(m)
	}
	window, last := r.Snapshot(nil)
	fmt.Println(window, "newest:", last, "len:", r.Len())
	// Output: [how are you? fine bye] newest: 5 len: 3
}

// Snapshot appends to dst, so one slice can be reused across reads without
// allocating.
func ExampleRing_Snapshot() {
	r := ringbuf.New[int](4)
	buf := make([]int, 0, r.Cap())
	for i := 1; i <= 6; i++ {
		r.Push(i * 10)
		var last uint64
		buf, last = r.Snapshot(buf[:0])
		fmt.Println(last, buf)
	}
	// Output:
	// 1 [10]
	// 2 [10 20]
	// 3 [10 20 30]
	// 4 [10 20 30 40]
	// 5 [20 30 40 50]
	// 6 [30 40 50 60]
}

package lockfree_test

import (
	"fmt"
	"sync"

	"github.com/chatring/chatring/lockfree"
)

func ExampleNew() {
	r := lockfree.New[string](2)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() { r.Push(fmt.Sprint("message ", i)) })
	}
	wg.Wait()
	window, last := r.Snapshot(nil)
	fmt.Println(len(window), "newest:", last)
	// Output: 2 newest: 4
}

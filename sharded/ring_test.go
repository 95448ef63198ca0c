package sharded_test

import (
	"fmt"
	"testing"

	"github.com/chatring/chatring/ringbuf"
	"github.com/chatring/chatring/ringbuf/ringtest"
	"github.com/chatring/chatring/sharded"
)

func TestConformance(t *testing.T) {
	for _, shards := range []int{1, 5} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			ringtest.Run(t, func(capacity int) ringbuf.Buffer[ringtest.Item] {
				return sharded.New[ringtest.Item](capacity, sharded.WithShards(shards))
			})
		})
	}
	t.Run("shards=default", func(t *testing.T) {
		ringtest.Run(t, func(capacity int) ringbuf.Buffer[ringtest.Item] {
			return sharded.New[ringtest.Item](capacity)
		})
	})
}

// TestConformancePushPtr runs the suite with every Push made by PushPtr.
func TestConformancePushPtr(t *testing.T) {
	for _, shards := range []int{1, 5} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			ringtest.Run(t, func(capacity int) ringbuf.Buffer[ringtest.Item] {
				return ringtest.ViaPushPtr(sharded.New[ringtest.Item](capacity, sharded.WithShards(shards)))
			})
		})
	}
}

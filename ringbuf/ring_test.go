package ringbuf_test

import (
	"testing"

	"github.com/chatring/chatring/ringbuf"
	"github.com/chatring/chatring/ringbuf/ringtest"
)

func TestConformance(t *testing.T) {
	ringtest.Run(t, func(capacity int) ringbuf.Buffer[ringtest.Item] {
		return ringbuf.New[ringtest.Item](capacity)
	})
}

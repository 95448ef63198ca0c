package chatring_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatring/chatring"
)

// BenchmarkMemoryStoreAppendSizes appends from every P to 1000
// conversations of a MemoryStore messages whose sizes differ from the ones
// they overwrite, so that every Append changes the bytes its conversation
// holds and updates HeldBytes (bench's StoreAppend uses messages of one
// size, which change it only while the windows fill).
func BenchmarkMemoryStoreAppendSizes(b *testing.B) {
	const convs = 1000
	names := make([]string, convs)
	for i := range names {
		names[i] = fmt.Sprint("conv-", i)
	}
	var msgs [7]chatring.Message // 7 sizes: coprime with the window of 20
	for i := range msgs {
		msgs[i] = chatring.Message{Role: chatring.User, Content: strings.Repeat("x", 100+30*i)}
	}
	for _, backend := range chatring.Backends() {
		b.Run("backend="+backend, func(b *testing.B) {
			s, err := chatring.NewMemoryStore(chatring.Config{Backend: backend})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(b.Context())
			var next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				g := int(next.Add(1))
				for i := g * 7919; pb.Next(); i++ {
					if _, err := s.Append(b.Context(), names[i%convs], msgs[(i/convs)%len(msgs)]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

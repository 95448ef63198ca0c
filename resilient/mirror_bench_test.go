package resilient

import (
	"testing"
	"time"

	"github.com/chatring/chatring"
)

// BenchmarkMirrorAppended is the mirror's part of a durable Append on the
// happy path: the view's look-up and stamp when the call starts, and the
// recording of the primary's answer, the next Seq, in a full view of 20.
func BenchmarkMirrorAppended(b *testing.B) {
	m, err := newMirror(10, 20, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	defer m.close()
	msg := chatring.Message{Role: chatring.User, Content: "what is the weather in Paris today?", ID: "id"}
	b.ReportAllocs()
	for b.Loop() {
		v, st := m.view("c")
		msg.Seq++
		m.appended(v, st, msg)
	}
}

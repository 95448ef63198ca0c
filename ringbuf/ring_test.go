package ringbuf_test

import (
	"strconv"
	"testing"

	"github.com/chatring/chatring/ringbuf"
	"github.com/chatring/chatring/ringbuf/ringtest"
)

func TestConformance(t *testing.T) {
	ringtest.Run(t, func(capacity int) ringbuf.Buffer[ringtest.Item] {
		return ringbuf.New[ringtest.Item](capacity)
	})
}

// TestConformancePushPtr runs the suite with every Push made by PushPtr.
func TestConformancePushPtr(t *testing.T) {
	ringtest.Run(t, func(capacity int) ringbuf.Buffer[ringtest.Item] {
		return ringtest.ViaPushPtr(ringbuf.New[ringtest.Item](capacity))
	})
}

// TestSnapshotGrowsOnce: Snapshot into a dst without room grows it once,
// also when the window wraps round the array and is copied in two halves
// (it used to grow dst once per half). The race detector's
// instrumentation makes slices.Grow allocate twice, so the count is
// checked without it.
func TestSnapshotGrowsOnce(t *testing.T) {
	r := ringbuf.New[string](20)
	for i := range 30 {
		r.Push(strconv.Itoa(i))
	}
	if n := testing.AllocsPerRun(100, func() { r.Snapshot(nil) }); n != 1 && !raceEnabled {
		t.Errorf("Snapshot(nil) of a wrapped window allocated %v times per call, want 1", n)
	}
	got, last := r.Snapshot(make([]string, 1, 2))
	if len(got) != 21 || got[1] != "10" || got[20] != "29" || last != 30 {
		t.Errorf("Snapshot into a short dst = %q, %d", got, last)
	}
}

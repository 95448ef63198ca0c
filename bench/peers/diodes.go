package peers

import (
	"unsafe"

	diodes "code.cloudfoundry.org/go-diodes"

	"github.com/chatring/chatring/bench/internal/workload"
)

// Diode is go-diodes' ManyToOne: a lock-free ring for many writers that
// overwrites the oldest value when full. Its only reader drains it (TryNext
// consumes), so it cannot show the window: Snapshot panics, and the workloads
// that read skip it (workload.Contender.AppendOnly).
type Diode struct {
	d *diodes.ManyToOne
}

// NewDiode returns an empty ManyToOne of the given capacity that ignores
// overwrite alerts (a bounded history drops its oldest messages by design).
func NewDiode(capacity int) *Diode {
	return &Diode{d: diodes.NewManyToOne(capacity, nil)}
}

// Push stores a pointer to a copy of m, as a go-diodes user must: the diode
// holds unsafe.Pointers, so each message lives on the heap.
func (d *Diode) Push(m workload.Msg) uint64 {
	p := new(workload.Msg)
	*p = m
	d.d.Set(diodes.GenericDataType(unsafe.Pointer(p)))
	return 0
}

// Snapshot panics: a ManyToOne diode has no non-destructive read.
func (d *Diode) Snapshot([]workload.Msg) ([]workload.Msg, uint64) {
	panic("peers: go-diodes ManyToOne has no snapshot")
}

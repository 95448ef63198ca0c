// Package acks records how the Appends of a fault test were acknowledged
// and checks them against what the primary holds afterwards: the
// invariants that the resilient package's fault tests (in-process and on
// a real redis-server) prove.
package acks

import (
	"errors"
	"fmt"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/resilient"
)

// Ack is how one Append was acknowledged.
type Ack struct {
	Writer, N int // the writer and its n-th append
	Conv      string
	Content   string // unique per append
	Durable   bool   // a nil error
	Buffered  bool   // ErrBuffered
	Seq       uint64 // the Seq a durable ack returned
}

// Record returns a, acknowledged by the outcome of its Append, or an
// error for an outcome that a fault test must never see (anything but
// nil, ErrBuffered and ErrUnavailable).
func Record(a Ack, m chatring.Message, err error) (Ack, error) {
	switch {
	case err == nil:
		a.Durable, a.Seq = true, m.Seq
	case errors.Is(err, resilient.ErrBuffered):
		a.Buffered = true
	case errors.Is(err, chatring.ErrUnavailable):
		// not acknowledged: may be stored (a lost reply), at most once
	default:
		return a, fmt.Errorf("append %s: %w", a.Content, err)
	}
	return a, nil
}

// CheckWindow reports a window of the primary that is not contiguous in
// Seq or holds a content twice.
func CheckWindow(msgs []chatring.Message) error {
	return checkWindow(msgs, true)
}

// CheckRead reports a window read through the resilient Store that is
// not sorted by Seq without repeats or holds a content twice. It may
// have been a degraded read, from the mirror, which has gaps where this
// process does not know the messages; the primary's windows, which have
// none, are checked by CheckWindow.
func CheckRead(msgs []chatring.Message) error {
	return checkWindow(msgs, false)
}

func checkWindow(msgs []chatring.Message, contiguous bool) error {
	seen := map[string]uint64{}
	for i, m := range msgs {
		if i > 0 && contiguous && m.Seq != msgs[i-1].Seq+1 {
			return fmt.Errorf("not contiguous: Seq %d after %d", m.Seq, msgs[i-1].Seq)
		}
		if i > 0 && m.Seq <= msgs[i-1].Seq {
			return fmt.Errorf("not sorted: Seq %d after %d", m.Seq, msgs[i-1].Seq)
		}
		if prev, dup := seen[m.Content]; dup {
			return fmt.Errorf("%s stored twice, at Seq %d and %d", m.Content, prev, m.Seq)
		}
		seen[m.Content] = m.Seq
	}
	return nil
}

// Counts are the acknowledgments checked.
type Counts struct{ Durable, Buffered, Failed int }

// Check compares each writer's acks (in the order it made them) with
// windows, each conversation's final window in the primary, which must
// each pass CheckWindow and hold everything (nothing evicted). Every
// durable ack must be at its Seq, every buffered one stored (the Store
// was closed without an UnflushedError), and each writer's stored appends
// in its order per conversation.
func Check(windows map[string][]chatring.Message, acks [][]Ack) (Counts, []error) {
	var errs []error
	stored := map[string]map[string]uint64{} // conv -> content -> Seq
	for conv, msgs := range windows {
		if err := CheckWindow(msgs); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", conv, err))
		}
		if len(msgs) > 0 && msgs[0].Seq != 1 {
			errs = append(errs, fmt.Errorf("%s: the window starts at Seq %d, but nothing was evicted", conv, msgs[0].Seq))
		}
		stored[conv] = map[string]uint64{}
		for _, m := range msgs {
			stored[conv][m.Content] = m.Seq
		}
	}
	var c Counts
	for w, writer := range acks {
		last := map[string]uint64{}
		for _, a := range writer {
			seq, ok := stored[a.Conv][a.Content]
			switch {
			case a.Durable:
				c.Durable++
				if !ok || seq != a.Seq {
					errs = append(errs, fmt.Errorf("durable ack %s (Seq %d) is stored at %d (found: %v)", a.Content, a.Seq, seq, ok))
				}
			case a.Buffered:
				c.Buffered++
				if !ok {
					errs = append(errs, fmt.Errorf("buffered ack %s was never stored, yet Close reported nothing unflushed", a.Content))
				}
			default:
				c.Failed++
			}
			if ok {
				if seq < last[a.Conv] {
					errs = append(errs, fmt.Errorf("writer %d's %s (Seq %d) landed before its earlier append at Seq %d", w, a.Content, seq, last[a.Conv]))
				}
				last[a.Conv] = seq
			}
		}
	}
	return c, errs
}

package main

import (
	"fmt"
	"io"
	"time"
)

// progress is the live display shown on a terminal: one line on stderr,
// rewritten in place with \r, giving the backend, the time left (or the
// share of -ops done) and the current appends/s and snapshots/s. A nil
// *progress shows nothing, so callers need not check.
// counted is a running workload whose progress can be shown.
type counted interface {
	// progressCounts returns the appends begun and the reads done so far;
	// it is safe to call while the workload runs.
	progressCounts() (appends, snapshots uint64)
	// opsBound is the -ops bound, or 0 with a time bound.
	opsBound() uint64
}

type progress struct {
	w     io.Writer
	every time.Duration
	name  string
}

// label returns a copy of p that names the current backend, or nil.
func (p *progress) label(name string) *progress {
	if p == nil {
		return nil
	}
	c := *p
	c.name = name
	return &c
}

// start shows the progress of wl, bounded by d when wl has no ops bound,
// until the returned function is called; that function clears the line.
func (p *progress) start(wl counted, d time.Duration) (stop func()) {
	if p == nil {
		return func() {}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(p.every)
		defer t.Stop()
		began := time.Now()
		prevT := began
		var prevA, prevS uint64
		width := 0
		for {
			select {
			case <-done:
				fmt.Fprintf(p.w, "\r%*s\r", width, "")
				return
			case now := <-t.C:
				a, s := wl.progressCounts()
				dt := now.Sub(prevT).Seconds()
				var bound string
				if ops := wl.opsBound(); ops > 0 {
					bound = fmt.Sprintf("%3.0f%% of %d ops", 100*float64(a+s)/float64(ops), ops)
				} else {
					bound = fmt.Sprintf("%4.1fs left", max(d-now.Sub(began), 0).Seconds())
				}
				line := fmt.Sprintf("%s  %s  appends %s/s  snapshots %s/s",
					p.name, bound, fmtRate(float64(a-prevA)/dt), fmtRate(float64(s-prevS)/dt))
				fmt.Fprintf(p.w, "\r%-*s", width, line)
				width = max(width, len(line))
				prevT, prevA, prevS = now, a, s
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

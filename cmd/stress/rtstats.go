package main

import (
	"math"
	"runtime/metrics"
)

// The runtime/metrics this tool reads. They are process-wide: they count
// the load generator's own allocations and pauses too (see docs/stress.md).
const (
	metricAllocObjects = "/gc/heap/allocs:objects"
	metricAllocBytes   = "/gc/heap/allocs:bytes"
	metricGCCycles     = "/gc/cycles/total:gc-cycles"
	metricGCPauses     = "/sched/pauses/total/gc:seconds"
)

// rtSample is one reading of the runtime metrics above.
type rtSample struct {
	allocObjects, allocBytes, gcCycles uint64
	pauses                             *metrics.Float64Histogram
}

func readRuntime() rtSample {
	s := []metrics.Sample{
		{Name: metricAllocObjects},
		{Name: metricAllocBytes},
		{Name: metricGCCycles},
		{Name: metricGCPauses},
	}
	metrics.Read(s)
	var r rtSample
	if s[0].Value.Kind() == metrics.KindUint64 {
		r.allocObjects = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		r.allocBytes = s[1].Value.Uint64()
	}
	if s[2].Value.Kind() == metrics.KindUint64 {
		r.gcCycles = s[2].Value.Uint64()
	}
	if s[3].Value.Kind() == metrics.KindFloat64Histogram {
		r.pauses = s[3].Value.Float64Histogram()
	}
	return r
}

// runtimeDelta returns what happened between two samples. GC pauses are
// only known as a histogram, so their total is estimated from bucket
// midpoints and their maximum is the upper bound of the highest bucket
// that gained a pause.
func runtimeDelta(before, after rtSample) RuntimeStats {
	st := RuntimeStats{
		AllocObjects: after.allocObjects - before.allocObjects,
		AllocBytes:   after.allocBytes - before.allocBytes,
		GCCycles:     after.gcCycles - before.gcCycles,
	}
	if before.pauses == nil || after.pauses == nil || len(before.pauses.Counts) != len(after.pauses.Counts) {
		return st
	}
	b := after.pauses.Buckets // len(Counts)+1 boundaries; the outer ones may be infinite
	for i, c := range after.pauses.Counts {
		d := c - before.pauses.Counts[i]
		if d == 0 {
			continue
		}
		lo, hi := b[i], b[i+1]
		if math.IsInf(lo, -1) {
			lo = 0
		}
		if math.IsInf(hi, 1) {
			hi = lo
		}
		st.GCPauses += d
		st.GCPauseTotalSeconds += float64(d) * (lo + hi) / 2
		st.GCPauseMaxSeconds = hi
	}
	return st
}

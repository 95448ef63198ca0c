// Package promtest has the helpers that the tests of promexport and its
// subpackages share.
package promtest

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// Sample collects c and returns the value of the series of family name
// whose labels include labels: a counter's or a gauge's value, a
// histogram's sample count. It fails the test when there is none.
func Sample(t testing.TB, c prometheus.Collector, name string, labels map[string]string) float64 {
	t.Helper()
	families := Gather(t, c)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for k, v := range labels {
				if LabelValue(m, k) != v {
					continue series
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount())
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

// LabelValue returns the value of m's label name, "" when it has none.
func LabelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Lint fails t with every problem promlint finds in c's exposition.
func Lint(t testing.TB, c prometheus.Collector) {
	t.Helper()
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// Counters collects c and returns the value of every counter series, and
// the sample count of every histogram series, keyed by the family name
// and the series' labels.
func Counters(t testing.TB, c prometheus.Collector) map[string]float64 {
	t.Helper()
	families := Gather(t, c)
	out := make(map[string]float64)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName() + fmt.Sprint(m.GetLabel())
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// Monotonic fails t when a series of now is lower than in before.
func Monotonic(t testing.TB, before, now map[string]float64) {
	t.Helper()
	for k, v := range now {
		if v < before[k] {
			t.Errorf("%s went down: %v -> %v", k, before[k], v)
		}
	}
}

// Gather registers c alone in a pedantic registry and gathers it.
func Gather(t testing.TB, c prometheus.Collector) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return families
}

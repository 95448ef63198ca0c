// Package collect holds what the collectors of promexport and its
// subpackages share: their options, and the building of constant metrics
// computed at scrape time.
package collect

import (
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace is the prefix of every metric name (promexport.Namespace).
const Namespace = "chatring"

// Options are what promexport.Option sets.
type Options struct {
	// ConstLabels are added to every metric of the collector.
	ConstLabels prometheus.Labels
	// Rejections report the rejections, by reason, of the stores in
	// front of the collected one (promexport.WithRejectionsOf), which
	// Messages adds to the collected store's.
	Rejections []func() map[string]uint64
}

// Apply returns the Options that opts set.
func Apply[O ~func(*Options)](opts []O) Options {
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Metric is one exported series family: its Desc and its value type.
type Metric struct {
	Desc *prometheus.Desc
	Type prometheus.ValueType
}

// Describer builds metrics with the collector's constant labels and keeps
// their Descs for Describe.
type Describer struct {
	ConstLabels prometheus.Labels
	all         []*prometheus.Desc
}

// Counter returns a counter named Namespace_name.
func (d *Describer) Counter(name, help string, labels ...string) Metric {
	return d.New(name, help, prometheus.CounterValue, labels)
}

// Gauge returns a gauge named Namespace_name.
func (d *Describer) Gauge(name, help string, labels ...string) Metric {
	return d.New(name, help, prometheus.GaugeValue, labels)
}

// New returns a metric named Namespace_name of type typ.
func (d *Describer) New(name, help string, typ prometheus.ValueType, labels []string) Metric {
	desc := prometheus.NewDesc(Namespace+"_"+name, help, labels, d.ConstLabels)
	d.Add(desc)
	return Metric{desc, typ}
}

// Add adds desc to what Describe sends.
func (d *Describer) Add(desc *prometheus.Desc) { d.all = append(d.all, desc) }

// Describe sends the Descs of every metric built, as
// prometheus.Collector's Describe.
func (d *Describer) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range d.all {
		ch <- desc
	}
}

// Emit sends one sample of m.
func Emit(ch chan<- prometheus.Metric, m Metric, v float64, labelValues ...string) {
	ch <- prometheus.MustNewConstMetric(m.Desc, m.Type, v, labelValues...)
}

// EmitMap sends one sample of m per key of values, labelled with the key:
// first the keys in always (0 when absent from values), then the other
// keys of values in sorted order.
func EmitMap[K ~string](ch chan<- prometheus.Metric, m Metric, values map[K]uint64, always []K) {
	for _, k := range always {
		Emit(ch, m, float64(values[k]), string(k))
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if !slices.Contains(always, k) {
			Emit(ch, m, float64(values[k]), string(k))
		}
	}
}

// Bool is 1 for true and 0 for false.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

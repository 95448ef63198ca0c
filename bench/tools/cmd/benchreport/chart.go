package main

import (
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ChartWorkloads are the panels of the chart, at capacity 20 and level
// ring: throughput of every backend against the number of goroutines.
var ChartWorkloads = []struct{ Base, Title string }{
	{"Append", "append-only"},
	{"WriteHeavy", "write-heavy (1% snapshots)"},
	{"ChatMix", "chat mix (10% snapshots)"},
	{"ReadHeavy", "read-heavy (90% snapshots)"},
}

// palette gives each backend a fixed colour; unknown ones cycle through
// extra.
var palette = map[string]string{
	"mutex":       "#1f77b4",
	"lockfree":    "#d62728",
	"sharded":     "#2ca02c",
	"slicering":   "#7f7f7f",
	"langchaingo": "#9467bd",
	"diodes":      "#ff7f0e",
}
var extra = []string{"#8c564b", "#e377c2", "#17becf", "#bcbd22"}

const (
	panelW, panelH = 440, 260
	marginL        = 70
	marginT        = 40
	plotW, plotH   = panelW - marginL - 20, panelH - marginT - 45
	legendH        = 60
)

// Chart writes an SVG of throughput (million operations per second, from
// the median sec/op) against goroutines (GOMAXPROCS, one goroutine per P)
// for each workload of ChartWorkloads, one line per backend.
func Chart(w io.Writer, set *Set) error {
	procs := set.Procs()
	var backends []string
	for _, wl := range ChartWorkloads {
		for _, b := range set.Values(wl.Base, "backend") {
			if !slices.Contains(backends, b) {
				backends = append(backends, b)
			}
		}
	}
	if len(backends) == 0 {
		return errors.New("chart: no results of " + ChartWorkloads[0].Base + " or the other charted workloads")
	}
	color := func(b string) string {
		if c, ok := palette[b]; ok {
			return c
		}
		i := 0
		for _, x := range backends {
			if _, ok := palette[x]; !ok {
				if x == b {
					break
				}
				i++
			}
		}
		return extra[i%len(extra)]
	}
	cols := 2
	rows := (len(ChartWorkloads) + cols - 1) / cols
	width, height := cols*panelW, legendH+rows*panelH
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(w, `<text x="%d" y="20" font-size="15" font-weight="bold">chatring: throughput against goroutines (capacity 20, 64-byte messages, median of runs)</text>`+"\n", 10)
	for i, b := range backends {
		x := 10 + i*130
		fmt.Fprintf(w, `<line x1="%d" y1="42" x2="%d" y2="42" stroke="%s" stroke-width="3"/><text x="%d" y="46">%s</text>`+"\n",
			x, x+24, color(b), x+30, html.EscapeString(b))
	}
	for p, wl := range ChartWorkloads {
		ox, oy := (p%cols)*panelW, legendH+(p/cols)*panelH
		series := map[string][]float64{}
		top := 0.0
		for _, b := range backends {
			ys := make([]float64, len(procs))
			for j, n := range procs {
				ns, k := set.Median(Query{wl.Base, map[string]string{"backend": b, "level": "ring", "cap": "20"}}, n, "sec/op")
				ys[j] = math.NaN()
				if k > 0 && ns > 0 {
					ys[j] = 1 / ns / 1e6
					top = math.Max(top, ys[j])
				}
			}
			series[b] = ys
		}
		fmt.Fprintf(w, `<g transform="translate(%d,%d)">`+"\n", ox, oy)
		fmt.Fprintf(w, `<text x="%d" y="22" font-size="13" font-weight="bold">%s</text>`+"\n", marginL, html.EscapeString(wl.Title))
		if top == 0 {
			fmt.Fprintf(w, `<text x="%d" y="%d">not measured</text></g>`+"\n", marginL+10, marginT+plotH/2)
			continue
		}
		ymax, step := niceScale(top)
		y := func(v float64) float64 { return marginT + plotH - v/ymax*plotH }
		x := func(j int) float64 {
			if len(procs) == 1 {
				return marginL + plotW/2
			}
			return marginL + 15 + float64(j)*float64(plotW-30)/float64(len(procs)-1)
		}
		for v := 0.0; v <= ymax*1.0001; v += step {
			fmt.Fprintf(w, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
				marginL, y(v), marginL+plotW, y(v), marginL-6, y(v)+4, fmtNum(v))
		}
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", marginL, marginT, plotW, plotH)
		for j, n := range procs {
			fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x(j), marginT+plotH+16, n)
		}
		fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="middle">goroutines (= GOMAXPROCS, go test -cpu)</text>`+"\n", marginL+plotW/2, marginT+plotH+34)
		fmt.Fprintf(w, `<text transform="translate(16,%d) rotate(-90)" text-anchor="middle">million ops/s</text>`+"\n", marginT+plotH/2)
		for _, b := range backends {
			var pts []string
			for j, v := range series[b] {
				if !math.IsNaN(v) {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(j), y(v)))
					fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s, %d goroutines: %.3g M ops/s</title></circle>`+"\n",
						x(j), y(v), color(b), html.EscapeString(b), procs[j], v)
				}
			}
			if len(pts) > 1 {
				fmt.Fprintf(w, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), color(b))
			}
		}
		fmt.Fprintln(w, "</g>")
	}
	fmt.Fprintln(w, "</svg>")
	return nil
}

// niceScale returns an axis maximum >= top and a tick step: 1, 2 or 5
// times a power of ten, about five ticks.
func niceScale(top float64) (ymax, step float64) {
	raw := top / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		step = m * mag
		if step >= raw {
			break
		}
	}
	return math.Ceil(top/step) * step, step
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

package service

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Registry holds metrics and writes them in the Prometheus text exposition
// format (version 0.0.4), by hand: no client library is needed for
// counters, gauges and fixed-bucket histograms.
type Registry struct {
	mu   sync.Mutex
	fams []*family
}

type family struct {
	name, help, typ string
	labels          []string
	write           func(w io.Writer, f *family)
}

func (r *Registry) add(f *family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.fams {
		if g.name == f.name {
			panic("service: metric " + f.name + " registered twice")
		}
	}
	r.fams = append(r.fams, f)
}

// ContentType is the Content-Type of WriteText's output.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteText writes every metric, in the order registered.
func (r *Registry) WriteText(w io.Writer) {
	r.mu.Lock()
	fams := slices.Clone(r.fams)
	r.mu.Unlock()
	for _, f := range fams {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.typ)
		f.write(w, f)
	}
}

// CounterVec is a counter with labels.
type CounterVec struct {
	f      *family
	mu     sync.Mutex
	series map[string]*Counter
	keys   []string
}

// Counter only goes up.
type Counter struct{ v atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Value is the count so far.
func (c *Counter) Value() uint64 { return c.v.Load() }

// Counter registers a counter with the given label names.
func (r *Registry) Counter(name, help string, labels ...string) *CounterVec {
	cv := &CounterVec{series: map[string]*Counter{}}
	cv.f = &family{name: name, help: help, typ: "counter", labels: labels, write: func(w io.Writer, f *family) {
		cv.mu.Lock()
		keys := slices.Clone(cv.keys)
		cv.mu.Unlock()
		slices.Sort(keys)
		for _, k := range keys {
			cv.mu.Lock()
			c := cv.series[k]
			cv.mu.Unlock()
			fmt.Fprintf(w, "%s%s %d\n", f.name, k, c.Value())
		}
	}}
	r.add(cv.f)
	return cv
}

// With returns the counter for these label values (in the order of the
// label names), creating it at zero.
func (cv *CounterVec) With(values ...string) *Counter {
	if len(values) != len(cv.f.labels) {
		panic(fmt.Sprintf("service: %s has %d labels, given %d values", cv.f.name, len(cv.f.labels), len(values)))
	}
	k := labelString(cv.f.labels, values, "")
	cv.mu.Lock()
	defer cv.mu.Unlock()
	c, ok := cv.series[k]
	if !ok {
		c = new(Counter)
		cv.series[k] = c
		cv.keys = append(cv.keys, k)
	}
	return c
}

// Gauge goes up and down.
type Gauge struct{ v atomic.Int64 }

// Add adds d (which may be negative).
func (g *Gauge) Add(d int64) { g.v.Add(d) }

// Value is the gauge's value.
func (g *Gauge) Value() int64 { return g.v.Load() }

// Gauge registers a gauge.
func (r *Registry) Gauge(name, help string) *Gauge {
	g := new(Gauge)
	r.add(&family{name: name, help: help, typ: "gauge", write: func(w io.Writer, f *family) {
		fmt.Fprintf(w, "%s %d\n", f.name, g.Value())
	}})
	return g
}

// GaugeFunc registers a gauge read from fn at each scrape; when fn reports
// false (it could not tell) the gauge is left out of that scrape.
func (r *Registry) GaugeFunc(name, help string, fn func() (float64, bool)) {
	r.add(&family{name: name, help: help, typ: "gauge", write: func(w io.Writer, f *family) {
		if v, ok := fn(); ok {
			fmt.Fprintf(w, "%s %s\n", f.name, formatFloat(v))
		}
	}})
}

// GaugeFuncVec registers a gauge with one label, read from fn at each
// scrape: one series per key of the map fn returns, in sorted order, the
// key as the label's value. When fn reports false the gauge is left out of
// that scrape. A state is written so: evote_board_phase{phase="open"} 1
// beside the other phases at 0.
func (r *Registry) GaugeFuncVec(name, help, label string, fn func() (map[string]float64, bool)) {
	r.add(&family{name: name, help: help, typ: "gauge", labels: []string{label}, write: func(w io.Writer, f *family) {
		vs, ok := fn()
		if !ok {
			return
		}
		keys := make([]string, 0, len(vs))
		for k := range vs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "%s%s %s\n", f.name, labelString(f.labels, []string{k}, ""), formatFloat(vs[k]))
		}
	}})
}

// Histogram counts observations (seconds) in fixed cumulative buckets.
type Histogram struct {
	bounds []float64
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumNs  atomic.Int64
	n      atomic.Uint64
}

// LatencyBuckets are the bounds, in seconds, of the request latency
// histograms: 1 ms to 10 s.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Histogram registers a histogram with the given upper bounds (seconds,
// ascending).
func (r *Registry) Histogram(name, help string, bounds []float64) *Histogram {
	h := &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
	r.add(&family{name: name, help: help, typ: "histogram", write: func(w io.Writer, f *family) {
		var cum uint64
		for i, b := range h.bounds {
			cum += h.counts[i].Load()
			fmt.Fprintf(w, "%s_bucket{le=%q} %d\n", f.name, formatFloat(b), cum)
		}
		cum += h.counts[len(h.bounds)].Load()
		fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n", f.name, cum)
		fmt.Fprintf(w, "%s_sum %s\n", f.name, formatFloat(time.Duration(h.sumNs.Load()).Seconds()))
		fmt.Fprintf(w, "%s_count %d\n", f.name, cum)
	}})
	return h
}

// Observe records one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i, _ := slices.BinarySearch(h.bounds, s) // first bound >= s: le is inclusive
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
	h.n.Add(1)
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.n.Load() }

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func labelString(names, values []string, extra string) string {
	if len(names) == 0 && extra == "" {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(values[i]))
		b.WriteByte('"')
	}
	b.WriteString(extra)
	b.WriteByte('}')
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

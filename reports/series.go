package reports

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/wssbench/wssbench/bench"
)

// SeriesReport is several runs and their comparison: a termination
// comparison (one entry per topology, repeated and interleaved).
type SeriesReport struct {
	Schema     string     `json:"schema"`
	Build      Build      `json:"build"`
	Runs       []*Report  `json:"runs"`
	Comparison Comparison `json:"comparison"`
}

// Comparison sets each topology's medians beside the baseline's.
type Comparison struct {
	// Baseline is the topology others are divided by: direct when it ran.
	Baseline   string            `json:"baseline"`
	Topologies []TopologySummary `json:"topologies"`
	// Conclusions are one line per proxied topology.
	Conclusions []string `json:"conclusions"`
	// Mismatches says where topologies negotiated different TLS parameters
	// from the same client settings (so their handshake costs differ for that reason too).
	Mismatches []string `json:"mismatches,omitempty"`
}

// Stat is a figure's median and spread over repeated runs.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// TopologySummary is one topology's figures over its runs.
type TopologySummary struct {
	Topology string          `json:"topology"`
	Runs     int             `json:"runs"`
	Metrics  map[string]Stat `json:"metrics"`
	// RatioToBaseline divides each median by the baseline's median.
	RatioToBaseline map[string]float64 `json:"ratio_to_baseline,omitempty"`
}

// seriesMetrics are the figures compared, in display order.
var seriesMetrics = []struct {
	name string
	get  func(*Report) float64
}{
	{"tls_handshake_p50_us", func(r *Report) float64 { return r.Phases.TLSHandshake.P50Us }},
	{"tls_handshake_p99_us", func(r *Report) float64 { return r.Phases.TLSHandshake.P99Us }},
	{"connect_total_p50_us", func(r *Report) float64 { return r.Phases.ConnectTotal.P50Us }},
	{"connect_per_s", func(r *Report) float64 { return r.Connections.ConnectPerSec }},
	{"rtt_p50_us", func(r *Report) float64 { return r.Frames.RTT.P50Us }},
	{"rtt_p99_us", func(r *Report) float64 { return r.Frames.RTT.P99Us }},
	{"rtt_p999_us", func(r *Report) float64 { return r.Frames.RTT.P999Us }},
	{"driver_us_per_handshake", func(r *Report) float64 { return r.CPU.DriverUsPerHandshake }},
	{"driver_us_per_frame", func(r *Report) float64 { return r.CPU.DriverUsPerFrame }},
	{"target_us_per_handshake", func(r *Report) float64 { return r.CPU.TargetUsPerHandshake }},
	{"target_us_per_frame", func(r *Report) float64 { return r.CPU.TargetUsPerFrame }},
	{"proxy_us_per_handshake", func(r *Report) float64 { return r.CPU.ProxyUsPerHandshake }},
	{"proxy_us_per_frame", func(r *Report) float64 { return r.CPU.ProxyUsPerFrame }},
	{"server_us_per_handshake", func(r *Report) float64 { return r.CPU.TargetUsPerHandshake + r.CPU.ProxyUsPerHandshake }},
	{"server_us_per_frame", func(r *Report) float64 { return r.CPU.TargetUsPerFrame + r.CPU.ProxyUsPerFrame }},
	{"proxy_rss_per_conn_bytes", func(r *Report) float64 { return r.Memory.ProxyPerConn }},
}

func statOf(v []float64) Stat {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	st := Stat{Min: s[0], Max: s[len(s)-1], N: len(s)}
	if n := len(s); n%2 == 1 {
		st.Median = s[n/2]
	} else {
		st.Median = (s[n/2-1] + s[n/2]) / 2
	}
	return st
}

// FromSeries builds the report of a series of runs.
func FromSeries(results []*bench.Result, meta Meta) *SeriesReport {
	sr := &SeriesReport{Schema: Schema, Build: newBuild(meta)}
	byTopo := map[string][]*Report{}
	var order []string
	for _, res := range results {
		r := FromResult(res, meta)
		sr.Runs = append(sr.Runs, r)
		if _, ok := byTopo[res.Topology]; !ok {
			order = append(order, res.Topology)
		}
		byTopo[res.Topology] = append(byTopo[res.Topology], r)
	}
	c := &sr.Comparison
	if len(order) == 0 {
		return sr
	}
	c.Baseline = order[0]
	if _, ok := byTopo[bench.TopologyDirect]; ok {
		c.Baseline = bench.TopologyDirect
	}
	for _, t := range order {
		ts := TopologySummary{Topology: t, Runs: len(byTopo[t]), Metrics: map[string]Stat{}}
		for _, m := range seriesMetrics {
			var v []float64
			for _, r := range byTopo[t] {
				v = append(v, m.get(r))
			}
			ts.Metrics[m.name] = statOf(v)
		}
		c.Topologies = append(c.Topologies, ts)
	}
	c.Mismatches = mismatches(order, byTopo)
	base := c.Topologies[indexOf(order, c.Baseline)]
	for i := range c.Topologies {
		ts := &c.Topologies[i]
		if ts.Topology == c.Baseline {
			continue
		}
		ts.RatioToBaseline = map[string]float64{}
		for _, m := range seriesMetrics {
			if b := base.Metrics[m.name].Median; b > 0 {
				ts.RatioToBaseline[m.name] = ts.Metrics[m.name].Median / b
			}
		}
		c.Conclusions = append(c.Conclusions, conclusion(*ts, base))
	}
	return sr
}

// mismatches compares what each topology negotiated.
func mismatches(order []string, byTopo map[string][]*Report) []string {
	var out []string
	for _, kind := range []struct {
		name string
		get  func(*Report) map[string]int64
	}{
		{"TLS version", func(r *Report) map[string]int64 { return r.TLS.Versions }},
		{"cipher suite", func(r *Report) map[string]int64 { return r.TLS.CipherSuites }},
		{"key exchange group", func(r *Report) map[string]int64 { return r.TLS.Groups }},
	} {
		seen := map[string][]string{}
		var keys []string
		for _, t := range order {
			agg := map[string]int64{}
			for _, r := range byTopo[t] {
				for k, v := range kind.get(r) {
					agg[k] += v
				}
			}
			names := sortedKeys(agg)
			key := strings.Join(names, "+")
			if _, ok := seen[key]; !ok {
				keys = append(keys, key)
			}
			seen[key] = append(seen[key], t)
		}
		if len(keys) > 1 {
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s: %s", strings.Join(seen[k], ","), k))
			}
			out = append(out, fmt.Sprintf("%s differs (%s)", kind.name, strings.Join(parts, "; ")))
		}
	}
	return out
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return 0
}

// conclusion is one sentence on what a topology adds to the baseline.
func conclusion(t, base TopologySummary) string {
	m := func(ts TopologySummary, k string) float64 { return ts.Metrics[k].Median }
	rtt := m(t, "rtt_p50_us") - m(base, "rtt_p50_us")
	tlsd := m(t, "tls_handshake_p50_us") - m(base, "tls_handshake_p50_us")
	s := fmt.Sprintf("%s adds %+.0f µs to p50 RTT and %+.0f µs to p50 TLS handshake against %s; the proxy costs %.1f µs CPU per frame and %.0f µs per handshake",
		t.Topology, rtt, tlsd, base.Topology, m(t, "proxy_us_per_frame"), m(t, "proxy_us_per_handshake"))
	if b := m(base, "server_us_per_frame"); b > 0 {
		s += fmt.Sprintf(" (server side in all: %.1fx %s's CPU per frame)", m(t, "server_us_per_frame")/b, base.Topology)
	}
	if r := m(t, "proxy_rss_per_conn_bytes"); r > 0 {
		s += fmt.Sprintf(", %.1f KiB per connection", r/1024)
	}
	return s
}

// WriteSeriesText writes the comparison table and conclusions.
func WriteSeriesText(w io.Writer, sr *SeriesReport) error {
	p := &printer{w: w}
	c := sr.Comparison
	p.f("TLS termination compared: %d runs, medians [min..max], baseline %s\n\n", len(sr.Runs), c.Baseline)
	header := []string{"figure"}
	for _, t := range c.Topologies {
		header = append(header, fmt.Sprintf("%s (n=%d)", t.Topology, t.Runs))
	}
	p.f("%-26s", header[0])
	for _, h := range header[1:] {
		p.f(" %26s", h)
	}
	p.f("\n")
	for _, m := range seriesMetrics {
		p.f("%-26s", m.name)
		for _, t := range c.Topologies {
			st := t.Metrics[m.name]
			cell := fmt.Sprintf("%s [%s..%s]", num(st.Median), num(st.Min), num(st.Max))
			if r, ok := t.RatioToBaseline[m.name]; ok {
				cell = fmt.Sprintf("%s %.2fx", num(st.Median), r)
			}
			p.f(" %26s", cell)
		}
		p.f("\n")
	}
	p.f("\n")
	for _, line := range c.Conclusions {
		p.f("- %s\n", line)
	}
	for _, line := range c.Mismatches {
		p.f("! negotiated %s\n", line)
	}
	var bad []string
	for _, r := range sr.Runs {
		if !r.Verdict.OK {
			bad = append(bad, fmt.Sprintf("%s: %s", r.Target.Topology, strings.Join(r.Verdict.Reasons, "; ")))
		}
		for _, wn := range r.Warnings {
			bad = append(bad, fmt.Sprintf("%s: WARNING %s", r.Target.Topology, wn))
		}
	}
	if len(bad) == 0 {
		p.f("verdict: every run ok\n")
	} else {
		p.f("verdict: NOT OK\n  %s\n", strings.Join(bad, "\n  "))
	}
	return p.err
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// SeriesOK reports whether every run of a series is ok.
func SeriesOK(sr *SeriesReport) bool {
	for _, r := range sr.Runs {
		if !r.Verdict.OK {
			return false
		}
	}
	return true
}

package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/wssbench/wssbench/bench"
)

// Series is the one report model: the runs of a plan and their comparison.
// A single run is a series of one: its JSON is the run's report itself; a
// termination comparison (one cell per topology) or a TLS matrix (one cell
// per combination), each cell repeated and interleaved, is
// {schema, build, runs, comparison}.
type Series struct {
	Schema     string     `json:"schema"`
	Build      Build      `json:"build"`
	Runs       []*Report  `json:"runs"`
	Comparison Comparison `json:"comparison"`
	// single is set for one run of one cell: encoders write it as a run.
	single bool
}

// Single returns the run of a series of one run, or nil.
func (s *Series) Single() *Report {
	if s.single && len(s.Runs) == 1 {
		return s.Runs[0]
	}
	return nil
}

// MarshalJSON writes a series of one as the run's report, and any other as
// {schema, build, runs, comparison}.
func (s *Series) MarshalJSON() ([]byte, error) {
	type plain Series
	var v any = (*plain)(s)
	if r := s.Single(); r != nil {
		v = r
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // thresholds hold < and >
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Comparison sets each cell's medians beside the baseline's.
type Comparison struct {
	// Matrix is set for a TLS matrix, whose cells differ in their settings.
	Matrix bool `json:"matrix,omitempty"`
	// Baseline is the cell others are divided by: the first that ran (direct
	// in a termination comparison that includes it).
	Baseline string        `json:"baseline"`
	Cells    []CellSummary `json:"cells"`
	// Conclusions are one line per cell other than the baseline.
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

// CellSummary is one cell's figures over its runs.
type CellSummary struct {
	// Cell is the cell's name: its topology and matrix values.
	Cell     string `json:"cell"`
	Topology string `json:"topology"`
	Runs     int    `json:"runs"`
	// NotRun says why the cell did not run; Failure why its handshakes failed
	// (the first error class and message), for a cell that could not be negotiated.
	NotRun  string `json:"not_run,omitempty"`
	Failure string `json:"failure,omitempty"`
	// Negotiated is the most common version, suite and group of the cell's handshakes.
	Negotiated Negotiated      `json:"negotiated"`
	Metrics    map[string]Stat `json:"metrics"`
	// RatioToBaseline divides each median by the baseline's median.
	RatioToBaseline map[string]float64 `json:"ratio_to_baseline,omitempty"`
}

// Negotiated is what most handshakes of a cell agreed on.
type Negotiated struct {
	Version string `json:"version"`
	Suite   string `json:"suite"`
	Group   string `json:"group"`
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
	{"delivery_p50_us", func(r *Report) float64 { return deliveryOf(r).P50Us }},
	{"delivery_p99_us", func(r *Report) float64 { return deliveryOf(r).P99Us }},
	{"reach", func(r *Report) float64 { return derefOr(r.Reach) }},
	{"driver_us_per_handshake", func(r *Report) float64 { return r.CPU.DriverUsPerHandshake }},
	{"driver_us_per_frame", func(r *Report) float64 { return r.CPU.DriverUsPerFrame }},
	{"target_us_per_handshake", func(r *Report) float64 { return r.CPU.TargetUsPerHandshake }},
	{"target_us_per_frame", func(r *Report) float64 { return r.CPU.TargetUsPerFrame }},
	{"proxy_us_per_handshake", func(r *Report) float64 { return r.CPU.ProxyUsPerHandshake }},
	{"proxy_us_per_frame", func(r *Report) float64 { return r.CPU.ProxyUsPerFrame }},
	{"server_us_per_handshake", func(r *Report) float64 { return r.CPU.TargetUsPerHandshake + r.CPU.ProxyUsPerHandshake }},
	{"server_us_per_frame", func(r *Report) float64 { return r.CPU.TargetUsPerFrame + r.CPU.ProxyUsPerFrame }},
	{"proxy_rss_per_conn_bytes", func(r *Report) float64 { return r.Memory.ProxyPerConn }},
	{"resumed_share", func(r *Report) float64 { return share(r.TLS.Resumed, r.TLS.Handshakes) }},
	{"hello_retry_share", func(r *Report) float64 { return share(r.TLS.HelloRetry, r.TLS.Handshakes) }},
	{"handshake_bytes_out", func(r *Report) float64 { return r.TLS.HandshakeBytesOut }},
	{"handshake_bytes_in", func(r *Report) float64 { return r.TLS.HandshakeBytesIn }},
}

// deliveryOf is the run's delivery latency (zero without stamped frames).
func deliveryOf(r *Report) H {
	if r.Frames.Delivery == nil {
		return H{}
	}
	return *r.Frames.Delivery
}

func derefOr(v *float64) float64 {
	if v == nil {
		return 0
	}
	return *v
}

func share(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
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

// FromSeries builds the report of what a plan's runs measured: each run's
// report, its thresholds checked and its verdict judged, and the comparison
// of the cells.
func FromSeries(bs *bench.Series, meta Meta) *Series {
	sr := &Series{Schema: Schema, Build: NewBuild(meta), single: bs.Plan.Single()}
	sr.Comparison.Matrix = bs.Plan.Matrix
	for _, res := range bs.Runs {
		r := fromResult(res, meta)
		applyThresholds(r, bs.Plan.Thresholds)
		sr.Runs = append(sr.Runs, r)
	}
	sr.compare()
	return sr
}

// compare fills the comparison of the series' cells.
func (sr *Series) compare() {
	byCell := map[string][]*Report{}
	var order []string
	for _, r := range sr.Runs {
		key := cellKey(r)
		if _, ok := byCell[key]; !ok {
			order = append(order, key)
		}
		byCell[key] = append(byCell[key], r)
	}
	sr.Comparison.Cells, sr.Comparison.Conclusions, sr.Comparison.Mismatches = nil, nil, nil
	c := &sr.Comparison
	base := -1
	for _, name := range order {
		cs := summarizeCell(name, byCell[name])
		if base < 0 && cs.NotRun == "" && cs.Failure == "" {
			base = len(c.Cells)
		}
		if !c.Matrix && cs.Topology == bench.TopologyDirect && cs.NotRun == "" && cs.Failure == "" {
			base = len(c.Cells)
		}
		c.Cells = append(c.Cells, cs)
	}
	if base < 0 {
		return
	}
	c.Baseline = c.Cells[base].Cell
	if !c.Matrix {
		c.Mismatches = mismatches(order, byCell)
	}
	for i := range c.Cells {
		cs := &c.Cells[i]
		if i == base || cs.NotRun != "" || cs.Failure != "" {
			continue
		}
		cs.RatioToBaseline = map[string]float64{}
		for _, m := range seriesMetrics {
			if b := c.Cells[base].Metrics[m.name].Median; b > 0 {
				cs.RatioToBaseline[m.name] = cs.Metrics[m.name].Median / b
			}
		}
		c.Conclusions = append(c.Conclusions, conclusion(*cs, c.Cells[base], c.Matrix))
	}
}

// cellKey names the cell a run belongs to.
func cellKey(r *Report) string {
	if r.Cell != "" {
		return r.Cell
	}
	return r.Target.Topology
}

// summarizeCell takes the medians of a cell's runs.
func summarizeCell(name string, runs []*Report) CellSummary {
	cs := CellSummary{Cell: name, Topology: runs[0].Target.Topology, Metrics: map[string]Stat{}}
	var ran []*Report
	for _, r := range runs {
		if r.NotRun != "" {
			cs.NotRun = r.NotRun
			continue
		}
		ran = append(ran, r)
	}
	cs.Runs = len(ran)
	if len(ran) == 0 {
		return cs
	}
	versions, suites, groups := map[string]int64{}, map[string]int64{}, map[string]int64{}
	var established int64
	for _, r := range ran {
		established += r.Connections.Established
		for k, v := range r.TLS.Versions {
			versions[k] += v
		}
		for k, v := range r.TLS.CipherSuites {
			suites[k] += v
		}
		for k, v := range r.TLS.Groups {
			groups[k] += v
		}
	}
	if established == 0 {
		cs.Failure = firstFailure(ran[0])
	}
	cs.Negotiated = Negotiated{Version: mostCommon(versions), Suite: mostCommon(suites), Group: mostCommon(groups)}
	for _, m := range seriesMetrics {
		var v []float64
		for _, r := range ran {
			v = append(v, m.get(r))
		}
		cs.Metrics[m.name] = statOf(v)
	}
	return cs
}

// firstFailure is the most frequent error class of a run, with its first message.
func firstFailure(r *Report) string {
	class := mostCommon(r.Connections.Errors)
	if class == "" {
		return "no connection was established"
	}
	return fmt.Sprintf("not negotiated: %s: %s", class, r.Connections.ErrorSamples[class])
}

// mostCommon returns the key with the largest count (the first by name on a tie).
func mostCommon(m map[string]int64) string {
	best, n := "", int64(-1)
	for _, k := range sortedKeys(m) {
		if m[k] > n {
			best, n = k, m[k]
		}
	}
	return best
}

// mismatches compares what each cell negotiated.
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

// conclusion is one sentence on what a cell adds to the baseline.
func conclusion(t, base CellSummary, matrix bool) string {
	m := func(cs CellSummary, k string) float64 { return cs.Metrics[k].Median }
	rtt := m(t, "rtt_p50_us") - m(base, "rtt_p50_us")
	tlsd := m(t, "tls_handshake_p50_us") - m(base, "tls_handshake_p50_us")
	if matrix {
		s := fmt.Sprintf("%s: TLS handshake p50 %+.0f µs against the baseline; server CPU per handshake %.0f µs (%s), driver %.0f µs (%s); per frame server %.1f µs (%s)",
			t.Cell, tlsd, m(t, "server_us_per_handshake"), ratioText(t, "server_us_per_handshake"),
			m(t, "driver_us_per_handshake"), ratioText(t, "driver_us_per_handshake"),
			m(t, "server_us_per_frame"), ratioText(t, "server_us_per_frame"))
		if r := m(t, "resumed_share"); r > 0 {
			s += fmt.Sprintf("; %.0f%% resumed", 100*r)
		}
		return s
	}
	what := "RTT"
	if m(t, "rtt_p50_us") == 0 && m(t, "delivery_p50_us") > 0 {
		// A server that does not echo: what it adds is to the deliveries.
		what, rtt = "delivery latency", m(t, "delivery_p50_us")-m(base, "delivery_p50_us")
	}
	s := fmt.Sprintf("%s adds %+.0f µs to p50 %s and %+.0f µs to p50 TLS handshake against %s; the proxy costs %.1f µs CPU per frame and %.0f µs per handshake",
		t.Cell, rtt, what, tlsd, base.Cell, m(t, "proxy_us_per_frame"), m(t, "proxy_us_per_handshake"))
	if b := m(base, "server_us_per_frame"); b > 0 {
		s += fmt.Sprintf(" (server side in all: %.1fx %s's CPU per frame)", m(t, "server_us_per_frame")/b, base.Cell)
	}
	if r := m(t, "proxy_rss_per_conn_bytes"); r > 0 {
		s += fmt.Sprintf(", %.1f KiB per connection", r/1024)
	}
	return s
}

func ratioText(cs CellSummary, k string) string {
	if r, ok := cs.RatioToBaseline[k]; ok {
		return fmt.Sprintf("%.2fx", r)
	}
	return "n/a"
}

// OK reports whether every run of a series is ok. A matrix may hold cells
// whose settings cannot work together, and cells that no server could
// negotiate (every handshake refused as a handshake failure or an
// unsupported version): they are reported, and do not fail the series. Any
// other cell that did not run or connect fails it, and so does a matrix in
// which no cell connected at all.
func (sr *Series) OK() bool {
	connected := false
	for _, r := range sr.Runs {
		connected = connected || r.Connections.Established > 0
		if sr.Comparison.Matrix && (r.CannotWork || notNegotiated(r)) {
			continue
		}
		if r.NotRun != "" || !r.Verdict.OK {
			return false
		}
	}
	return connected || !sr.Comparison.Matrix
}

// notNegotiated reports whether a run connected nothing because every
// handshake was refused for what it offered, and nothing else went wrong.
func notNegotiated(r *Report) bool {
	if r.NotRun != "" || r.Connections.Established > 0 || r.Connections.Failed == 0 {
		return false
	}
	for class := range r.Connections.Errors {
		if class != "tls_handshake_failure" && class != "tls_protocol_version" {
			return false
		}
	}
	for _, why := range r.Verdict.Reasons {
		if why.Kind != bench.ReasonConnectionsFailed && why.Kind != bench.ReasonSaturated {
			return false
		}
	}
	return true
}

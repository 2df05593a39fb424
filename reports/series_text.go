package reports

import (
	"fmt"
	"io"
	"strings"
)

// seriesText writes the comparison: a table of figures by cell for a
// termination comparison, a row per cell for a matrix; then conclusions and
// the verdict.
func seriesText(w io.Writer, sr *Series) error {
	p := &printer{w: w}
	c := sr.Comparison
	if c.Matrix {
		writeMatrixRows(p, sr)
	} else {
		writeComparisonColumns(p, sr)
	}
	p.f("\n")
	for _, line := range c.Conclusions {
		p.f("- %s\n", line)
	}
	for _, line := range c.Mismatches {
		p.f("! negotiated %s\n", line)
	}
	if fails := sr.ThresholdFailures(); len(fails) > 0 {
		p.f("%s\n", strings.Join(fails, "\n"))
	} else if len(sr.Runs) > 0 && len(sr.Runs[0].Thresholds) > 0 {
		p.f("thresholds: all %d passed in every run\n", len(sr.Runs[0].Thresholds))
	}
	var bad []string
	for _, r := range sr.Runs {
		name := cellKey(r)
		if r.NotRun != "" {
			bad = append(bad, fmt.Sprintf("%s: not run: %s", name, r.NotRun))
			continue
		}
		if !r.Verdict.OK {
			bad = append(bad, fmt.Sprintf("%s: %s", name, r.Verdict.Text()))
		}
		for _, wn := range r.Warnings {
			bad = append(bad, fmt.Sprintf("%s: WARNING %s", name, wn))
		}
	}
	if len(bad) == 0 {
		p.f("verdict: every run ok\n")
	} else {
		p.f("verdict: NOT OK\n  %s\n", strings.Join(bad, "\n  "))
	}
	return p.err
}

func writeComparisonColumns(p *printer, sr *Series) {
	c := sr.Comparison
	p.f("TLS termination compared: %d runs, medians [min..max], baseline %s\n\n", len(sr.Runs), c.Baseline)
	p.f("%-26s", "figure")
	for _, t := range c.Cells {
		p.f(" %26s", fmt.Sprintf("%s (n=%d)", t.Cell, t.Runs))
	}
	p.f("\n")
	for _, m := range seriesMetrics {
		p.f("%-26s", m.name)
		for _, t := range c.Cells {
			st := t.Metrics[m.name]
			cell := fmt.Sprintf("%s [%s..%s]", num(st.Median), num(st.Min), num(st.Max))
			if r, ok := t.RatioToBaseline[m.name]; ok {
				cell = fmt.Sprintf("%s %.2fx", num(st.Median), r)
			}
			if t.NotRun != "" || t.Failure != "" {
				cell = "-"
			}
			p.f(" %26s", cell)
		}
		p.f("\n")
	}
}

// writeMatrixRows writes one row per cell: what it negotiated and what it cost.
func writeMatrixRows(p *printer, sr *Series) {
	c := sr.Comparison
	p.f("TLS matrix: %d cells, %d runs, medians; ratios against the baseline %q\n\n", len(c.Cells), len(sr.Runs), c.Baseline)
	width := 4
	for _, t := range c.Cells {
		width = max(width, len(t.Cell))
	}
	p.f("%-*s %-7s %-30s %-14s %5s %4s %11s %13s %7s %7s %6s %7s %6s %6s %6s\n", width, "cell",
		"version", "suite", "group", "resum", "hrr", "hs B out/in", "tls p50/p99us", "drv/hs", "srv/hs", "x base", "rtt p50", "drv/fr", "srv/fr", "x base")
	for _, t := range c.Cells {
		if t.NotRun != "" || t.Failure != "" {
			p.f("%-*s %s\n", width, t.Cell, cmpOr(t.Failure, "not run: "+t.NotRun))
			continue
		}
		m := func(k string) float64 { return t.Metrics[k].Median }
		x := func(k string) string {
			if r, ok := t.RatioToBaseline[k]; ok {
				return fmt.Sprintf("%.2fx", r)
			}
			return "base"
		}
		p.f("%-*s %-7s %-30s %-14s %4.0f%% %3.0f%% %11s %13s %7.0f %7.0f %6s %7.0f %6.1f %6.1f %6s\n", width, t.Cell,
			strings.TrimPrefix(t.Negotiated.Version, "TLS "), t.Negotiated.Suite, t.Negotiated.Group,
			100*m("resumed_share"), 100*m("hello_retry_share"),
			fmt.Sprintf("%.0f/%.0f", m("handshake_bytes_out"), m("handshake_bytes_in")),
			fmt.Sprintf("%.0f/%.0f", m("tls_handshake_p50_us"), m("tls_handshake_p99_us")),
			m("driver_us_per_handshake"), m("server_us_per_handshake"), x("server_us_per_handshake"),
			m("rtt_p50_us"), m("driver_us_per_frame"), m("server_us_per_frame"), x("server_us_per_frame"))
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
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

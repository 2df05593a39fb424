package reports

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// WriteCompareText writes a comparison as a table: for each metric the
// baseline, the candidate (medians, with [min..max] when runs were
// repeated), the change and the verdict; then notes and the result line.
func WriteCompareText(w io.Writer, c *CompareResult) error {
	if c.Search != nil {
		return writeSearchCompare(w, c)
	}
	p := &printer{w: w}
	p.f("wssbench compare: baseline %s (%s) against candidate %s (%s), tolerance %s\n",
		c.Base.Name, runsOf(c.Base), c.Cand.Name, runsOf(c.Cand), pct(c.Tolerance))
	// Column widths fit the widest cell, so spreads line up.
	wm, wb, wc := len("metric"), len("baseline"), len("candidate")
	for _, d := range c.Deltas {
		wm = max(wm, len(d.Metric))
		wb, wc = max(wb, utf8.RuneCountInString(cell(d, d.Base))), max(wc, utf8.RuneCountInString(cell(d, d.Cand)))
	}
	row := func(m, b, cd, ch, v string) {
		p.f("%-*s  %*s  %*s  %10s  %s\n", wm, m, wb, b, wc, cd, ch, v) // fmt pads by runes
	}
	topo := ""
	for _, d := range c.Deltas {
		if d.Topology != topo {
			topo = d.Topology
			p.f("\ntopology %s\n", topo)
			row("metric", "baseline", "candidate", "change", "verdict")
		}
		change := "-"
		if d.Verdict != "not measured" {
			change = signedPct(d.Change)
		}
		row(d.Metric, cell(d, d.Base), cell(d, d.Cand), change, d.Verdict)
	}
	p.f("\n")
	for _, n := range c.Notes {
		p.f("note: %s\n", n)
	}
	for _, w := range c.Warnings {
		p.f("warning: %s\n", w)
	}
	var regressed []string
	for _, d := range c.Deltas {
		if d.Regression {
			name := d.Metric
			if len(c.Deltas) > 0 && topologies(c) > 1 {
				name += " [" + d.Topology + "]"
			}
			regressed = append(regressed, fmt.Sprintf("%s (%s)", name, signedPct(d.Change)))
		}
	}
	switch {
	case !c.Failed():
		p.f("result: ok, no regression beyond %s\n", pct(c.Tolerance))
	case len(regressed) > 0:
		p.f("result: FAIL, %d regression(s): %s\n", len(regressed), strings.Join(regressed, ", "))
	case c.SaturatedFailures == len(c.Failures):
		p.f("result: FAIL, the candidate's generator saturated (--allow-saturated gates on it anyway)\n")
	default:
		p.f("result: FAIL, the candidate run was not clean\n")
	}
	return p.err
}

func runsOf(d *Document) string {
	if len(d.Runs) == 1 {
		return "1 run"
	}
	return fmt.Sprintf("%d runs", len(d.Runs))
}

func topologies(c *CompareResult) int {
	seen := map[string]bool{}
	for _, d := range c.Deltas {
		seen[d.Topology] = true
	}
	return len(seen)
}

// cell is a median, with its min..max when several runs measured it.
func cell(d Delta, s Stat) string {
	if s.N == 0 {
		return "-"
	}
	if s.N == 1 {
		return fmtStat(d.Kind, s.Median)
	}
	return fmt.Sprintf("%s [%s..%s]", fmtStat(d.Kind, s.Median), fmtStat(d.Kind, s.Min), fmtStat(d.Kind, s.Max))
}

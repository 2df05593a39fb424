package reports

import (
	"io"
	"strings"
)

// runMarkdown writes one run's summary for a pull-request comment: the
// verdict and its reasons, the headline figures, the latency table, and the
// config and build in collapsed sections.
func runMarkdown(w io.Writer, r *Report) error {
	p := &printer{w: w}
	p.f("### %s %s\n\n", mdVerdictMark(r.Verdict.OK, r.Verdict.Saturated), mdEscape(runTitle(r)))
	p.f("**Verdict: %s**", map[bool]string{true: "ok", false: "NOT OK"}[r.Verdict.OK])
	if r.Partial {
		p.f(" (partial: the run was interrupted)")
	}
	p.f("\n")
	for _, why := range r.Verdict.Reasons {
		p.f("- %s\n", mdEscape(why.String()))
	}
	for _, wn := range r.Warnings {
		p.f("- WARNING: %s\n", mdEscape(wn))
	}
	p.f("\n| figure | value |\n|---|---|\n")
	for _, f := range headlineFigures(r) {
		p.f("| %s | %s |\n", f.Name, mdEscape(f.Value))
	}
	if rows := latencyRows(r); len(rows) > 0 {
		p.f("\n| latency | count | p50 | p90 | p99 | p99.9 | max |\n|---|--:|--:|--:|--:|--:|--:|\n")
		for _, row := range rows {
			h := row.H
			p.f("| %s | %d | %s | %s | %s | %s | %s |\n", row.Name, h.Count, fmtUs(h.P50Us), fmtUs(h.P90Us), fmtUs(h.P99Us), fmtUs(h.P999Us), fmtUs(h.MaxUs))
		}
	}
	mdWorkload(p, r)
	p.f("\nTarget %s, started %s.\n", mdEscape(r.Target.URL), r.StartedAt.Format("2006-01-02 15:04:05 MST"))
	mdDetails(p, "Config", configFigures(r.Config))
	mdDetails(p, "Build and machine", buildFigures(r.Build, r.StartedAt, r.DurationS))
	return p.err
}

// seriesMarkdown writes a series' summary for a pull-request comment:
// the comparison table, conclusions, each run's verdict, config and build.
func seriesMarkdown(w io.Writer, sr *Series) error {
	p := &printer{w: w}
	ok := sr.OK()
	p.f("### %s wssbench comparison: %d runs\n\n", mdVerdictMark(ok, false), len(sr.Runs))
	p.f("**Verdict: %s**\n", map[bool]string{true: "every run ok", false: "NOT OK"}[ok])
	names, _ := runNames(sr)
	for i, r := range sr.Runs {
		p.f("- %s: %s\n", names[i], mdEscape(verdictLine(r.Verdict)))
	}
	header, rows := comparisonTable(sr.Comparison)
	p.f("\nMedians over repetitions; [min..max] for the baseline (%s), the ratio to it for the others.\n\n", sr.Comparison.Baseline)
	p.f("| %s |\n|---|%s\n", strings.Join(header, " | "), strings.Repeat("--:|", len(header)-1))
	for _, row := range rows {
		p.f("| %s |\n", strings.Join(row, " | "))
	}
	if len(sr.Comparison.Conclusions)+len(sr.Comparison.Mismatches) > 0 {
		p.f("\n")
	}
	for _, c := range sr.Comparison.Conclusions {
		p.f("- %s\n", mdEscape(c))
	}
	for _, m := range sr.Comparison.Mismatches {
		p.f("- **negotiated %s**\n", mdEscape(m))
	}
	if len(sr.Runs) > 0 {
		mdDetails(p, "Config (first run)", configFigures(sr.Runs[0].Config))
	}
	mdDetails(p, "Build and machine", buildFigures(sr.Build, seriesStart(sr), seriesDuration(sr)))
	return p.err
}

// mdWorkload writes the roles and stages tables (reach and the storm are
// headline figures).
func mdWorkload(p *printer, r *Report) {
	if rows := roleRows(r); len(rows) > 0 {
		p.f("\n| role | conns/planned | sent | received | errors | latency p50 / p99 | delivery p50 / p99 |\n|---|--:|--:|--:|--:|--:|--:|\n")
		for _, row := range rows {
			p.f("| %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(row.Name), row.Conns, row.Sent, row.Received, row.Errors, row.Latency, row.Delivery)
		}
		sep := "\n"
		for _, row := range rows {
			for _, s := range row.Samples {
				p.f("%s- %s: %s\n", sep, mdEscape(row.Name), mdEscape(s))
				sep = ""
			}
		}
	}
	if rows := stageRows(r); len(rows) > 0 {
		p.f("\n| stage | window | conns | open at end | frames/s | rtt p50 / p99 | delivery p50 / p99 | errors |\n|---|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, row := range rows {
			p.f("| %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(row.Name), row.Window, row.Conns, row.OpenAtEnd, row.FramesPerS, row.RTT, row.Delivery, row.Errors)
		}
	}
}

func mdVerdictMark(ok, saturated bool) string {
	switch {
	case !ok:
		return "❌"
	case saturated:
		return "⚠️"
	}
	return "✅"
}

// mdDetails writes figures as a two-column table inside a collapsed section.
func mdDetails(p *printer, summary string, figs []figure) {
	p.f("\n<details><summary>%s</summary>\n\n| key | value |\n|---|---|\n", summary)
	for _, f := range figs {
		p.f("| %s | %s |\n", f.Name, mdEscape(f.Value))
	}
	p.f("\n</details>\n")
}

// mdEscape keeps a value inside its table cell and out of Markdown and HTML syntax.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "\\`").Replace(s)
}

package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/wssbench/wssbench/bench/threshold"
)

// WriteSearchJSON writes a capacity search as indented JSON, as run reports are written.
func WriteSearchJSON(w io.Writer, s *SearchReport) error {
	out := *s
	if out.Schema == "" {
		out.Schema = Schema
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // SLOs hold < and >
	return enc.Encode(&out)
}

// searchTable is the probes as a header and rows of cells, in run order:
// the value, offered and achieved load, latency, each SLO's figure and
// the result.
func searchTable(s *Search) (header []string, rows [][]string) {
	header = []string{"#", s.Vary, "offered/s", "frames/s", "handshakes/s", "rtt p50", "rtt p99", "rtt p99.9", "tls p99"}
	for _, e := range s.SLO {
		header = append(header, sloName(e))
	}
	header = append(header, "result")
	for i, p := range s.Probes {
		row := []string{fmt.Sprint(i + 1), qty(p.Value), qty(p.OfferedPerSec), statCell(p.FramesPerSec, qty), statCell(p.HandshakesPerSec, qty),
			latCell(p.RTT.P50Us), latCell(p.RTT.P99Us), latCell(p.RTT.P999Us), latCell(p.TLSHandshake.P99Us)}
		for j := range s.SLO {
			row = append(row, sloCell(p, j))
		}
		rows = append(rows, append(row, probeResult(p)))
	}
	return header, rows
}

// statCell is a median, with [min..max] when several runs measured it.
func statCell(st Stat, f func(float64) string) string {
	switch st.N {
	case 0:
		return "-"
	case 1:
		return f(st.Median)
	}
	return fmt.Sprintf("%s [%s..%s]", f(st.Median), f(st.Min), f(st.Max))
}

func latCell(st Stat) string {
	if st.N == 0 {
		return "-"
	}
	return fmtUs(st.Median)
}

// sloCell is SLO j's median figure at p ("n/a" when it could not be measured).
func sloCell(p Probe, j int) string {
	if j >= len(p.SLO) {
		return "-"
	}
	r := p.SLO[j]
	if r.Note != "" {
		return "n/a"
	}
	return threshold.Format(sloKind(r.Expr), r.Measured)
}

// probeResult is pass or FAIL, and saturated when the generator was.
func probeResult(p Probe) string {
	out := "pass"
	if !p.Pass {
		out = "FAIL"
	}
	if p.Saturated {
		out += ", saturated"
	}
	return out
}

// probeNotes say why probes failed beyond their SLO figures: SLOs that could
// not be measured, failed runs, errors.
func probeNotes(s *Search) []string {
	var out []string
	for i, p := range s.Probes {
		var parts []string
		for _, r := range p.SLO {
			if r.Note != "" {
				parts = append(parts, sloName(r.Expr)+": "+r.Note)
			}
		}
		parts = append(parts, p.Failed...)
		if !p.Pass && len(p.Errors) > 0 {
			parts = append(parts, "errors "+counts(p.Errors))
		}
		if len(parts) > 0 {
			out = append(out, fmt.Sprintf("probe %d (%s %s): %s", i+1, s.Vary, qty(p.Value), strings.Join(parts, "; ")))
		}
	}
	return out
}

// searchTitle is "wssbench search: LABEL" or "wssbench search".
func searchTitle(sr *SearchReport) string {
	if sr.Label != "" {
		return "wssbench search: " + sr.Label
	}
	return "wssbench search"
}

// searchWhat says what was searched: "msg-rate from 10 to 100 frames/s per
// connection, precision 5%, 3 runs per probe".
func searchWhat(s *Search) string {
	unit := ""
	if s.Unit != "" {
		unit = " " + s.Unit
	}
	return fmt.Sprintf("%s from %s to %s%s, precision %s, %s per probe", s.Vary, qty(s.From), qty(s.To), unit, pct(s.Precision), plural(max(s.Repeat, 1), "run"))
}

// WriteSearchText writes a capacity search's summary: what was searched,
// the probes in run order, why each failed, and the answer.
func WriteSearchText(w io.Writer, sr *SearchReport) error {
	p := &printer{w: w}
	s := &sr.Search
	p.f("%s: %s\n", searchTitle(sr), searchWhat(s))
	if len(s.SLO) > 0 {
		p.f("  SLO: %s\n", strings.Join(s.SLO, ", "))
	}
	if sr.Partial {
		p.f("  PARTIAL: the search was interrupted; the probes cover what ran\n")
	}
	header, rows := searchTable(s)
	width := make([]int, len(header))
	for _, row := range append([][]string{header}, rows...) {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(row []string) {
		var b strings.Builder
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			switch {
			case i == len(row)-1:
				b.WriteString(c)
			default:
				b.WriteString(pad + c + "  ")
			}
		}
		p.f("%s\n", b.String())
	}
	p.f("\n")
	line(header)
	for _, row := range rows {
		line(row)
	}
	if notes := probeNotes(s); len(notes) > 0 {
		p.f("\n")
		for _, n := range notes {
			p.f("%s\n", n)
		}
	}
	p.f("\nstop: %s\nanswer: %s\n", cmpOr(s.Stop, "-"), s.Answer)
	return p.err
}

// WriteSearchMarkdown writes a capacity search for a CI job summary or a
// pull-request comment: the answer, the probe table and the notes.
func WriteSearchMarkdown(w io.Writer, sr *SearchReport) error {
	p := &printer{w: w}
	s := &sr.Search
	ok := s.Passed()
	p.f("### %s %s\n\n", mdVerdictMark(ok, s.Stop == StopGenerator), mdEscape(searchTitle(sr)))
	p.f("**%s**\n\n", mdEscape(upperFirst(s.Answer)))
	p.f("%s", mdEscape(searchWhat(s)))
	if len(s.SLO) > 0 {
		p.f("; SLO %s", mdEscape(strings.Join(s.SLO, ", ")))
	}
	p.f(". Stop: %s.", cmpOr(s.Stop, "-"))
	if sr.Partial {
		p.f(" Partial: the search was interrupted.")
	}
	header, rows := searchTable(s)
	for i, h := range header {
		header[i] = mdEscape(h)
	}
	p.f("\n\n| %s |\n|%s---|\n", strings.Join(header, " | "), strings.Repeat("--:|", len(header)-1))
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = mdEscape(c)
		}
		p.f("| %s |\n", strings.Join(cells, " | "))
	}
	if notes := probeNotes(s); len(notes) > 0 {
		p.f("\n")
		for _, n := range notes {
			p.f("- %s\n", mdEscape(n))
		}
	}
	if r := firstRun(s); r != nil {
		mdDetails(p, "Config (first probe)", configFigures(r.Config))
	}
	mdDetails(p, "Build and machine", buildFigures(sr.Build, sr.StartedAt, sr.DurationS))
	return p.err
}

// firstRun is the first run of the first probe, or nil.
func firstRun(s *Search) *Report {
	for _, p := range s.Probes {
		if len(p.Runs) > 0 {
			return p.Runs[0]
		}
	}
	return nil
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	var b bytes.Buffer
	r, n := utf8.DecodeRuneInString(s)
	b.WriteString(strings.ToUpper(string(r)))
	b.WriteString(s[n:])
	return b.String()
}

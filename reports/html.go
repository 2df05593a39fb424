package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var htmlTemplate string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{"us": fmtUs, "add": func(a, b int) int { return a + b }}).Parse(htmlTemplate))

// htmlPage is what the template renders: one run, or a series.
type htmlPage struct {
	Title  string
	Run    *htmlRun
	Series *htmlSeries
	Search *htmlSearch
}

// htmlRun is one run's page.
type htmlRun struct {
	R        *Report
	Headline []figure
	Latency  []latencyRow
	Roles    []roleRow
	Stages   []stageRow
	Config   []figure
	Build    []figure
	Plots    []htmlPlot
}

// htmlSeries is a comparison's page.
type htmlSeries struct {
	SR     *Series
	Header []string
	Rows   [][]string
	Runs   []seriesRunRow
	// OK is set when every run is ok; Saturated when a run's generator was.
	OK, Saturated bool
	Config        []figure
	Build         []figure
	Plots         []htmlPlot
	Conclusions   []string
}

// seriesRunRow is one run of a series in the runs table.
type seriesRunRow struct {
	Name, Verdict                                  string
	OK, Saturated                                  bool
	Established, TLSP50, TLSP99, RTTP50, RTTP99    string
	FramesPerS, DriverUsPerFrame, ServerUsPerFrame string
}

// runHTML writes one run's page.
func runHTML(w io.Writer, r *Report) error {
	plots, err := runPlots(r)
	if err != nil {
		return err
	}
	page := htmlPage{Title: runTitle(r), Run: &htmlRun{R: r, Headline: headlineFigures(r), Latency: latencyRows(r),
		Roles: roleRows(r), Stages: stageRows(r),
		Config: configFigures(r.Config), Build: buildFigures(r.Build, r.StartedAt, r.DurationS), Plots: plots}}
	return execute(w, page)
}

// seriesHTML writes a series (a topology comparison or repeated runs) as
// one page, the runs side by side.
func seriesHTML(w io.Writer, sr *Series) error {
	plots, err := seriesPlots(sr)
	if err != nil {
		return err
	}
	header, rows := comparisonTable(sr.Comparison)
	s := &htmlSeries{SR: sr, Header: header, Rows: rows, OK: sr.OK(), Plots: plots, Conclusions: sr.Comparison.Conclusions,
		Build: buildFigures(sr.Build, seriesStart(sr), seriesDuration(sr))}
	if len(sr.Runs) > 0 {
		s.Config = configFigures(sr.Runs[0].Config)
	}
	names, _ := runNames(sr)
	for i, r := range sr.Runs {
		s.Saturated = s.Saturated || r.Verdict.Saturated
		s.Runs = append(s.Runs, seriesRunRow{Name: names[i], OK: r.Verdict.OK, Saturated: r.Verdict.Saturated,
			Verdict: verdictLine(r.Verdict), Established: fmt.Sprintf("%d / %d", r.Connections.Established, r.Connections.Attempted),
			TLSP50: fmtUs(r.Phases.TLSHandshake.P50Us), TLSP99: fmtUs(r.Phases.TLSHandshake.P99Us),
			RTTP50: fmtUs(r.Frames.RTT.P50Us), RTTP99: fmtUs(r.Frames.RTT.P99Us), FramesPerS: num(r.Frames.PerSec),
			DriverUsPerFrame: num(r.CPU.DriverUsPerFrame), ServerUsPerFrame: num(r.CPU.TargetUsPerFrame + r.CPU.ProxyUsPerFrame)})
	}
	title := fmt.Sprintf("wssbench comparison: %d runs", len(sr.Runs))
	return execute(w, htmlPage{Title: title, Series: s})
}

func execute(w io.Writer, page htmlPage) error {
	// Render fully before writing, so a template error leaves no half page.
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, page); err != nil {
		return err
	}
	_, err := buf.WriteTo(w)
	return err
}

func runTitle(r *Report) string {
	t := "wssbench " + r.Config.Mode
	if r.Label != "" {
		t += ": " + r.Label
	}
	if r.Target.Topology != "" {
		t += " (" + r.Target.Topology + ")"
	}
	return t
}

// verdictLine is the verdict in words: "ok", "ok, but ...", "NOT OK: ...".
func verdictLine(v Verdict) string {
	switch {
	case v.OK && len(v.Reasons) == 0:
		return "ok"
	case v.OK:
		return "ok, but " + v.Text()
	default:
		return "NOT OK: " + v.Text()
	}
}

// comparisonTable is the comparison as a header and rows of cells: each
// figure's median with [min..max] for the baseline and the ratio for the
// others. A termination comparison has a column per cell; a matrix, whose
// cells are many, a row per cell.
func comparisonTable(c Comparison) ([]string, [][]string) {
	value := func(t CellSummary, name string) string {
		if t.NotRun != "" || t.Failure != "" {
			return "-"
		}
		st := t.Metrics[name]
		if r, ok := t.RatioToBaseline[name]; ok {
			return fmt.Sprintf("%s (%.2fx)", num(st.Median), r)
		}
		return fmt.Sprintf("%s [%s..%s]", num(st.Median), num(st.Min), num(st.Max))
	}
	if c.Matrix {
		header := []string{"cell", "negotiated"}
		for _, m := range seriesMetrics {
			header = append(header, m.name)
		}
		var rows [][]string
		for _, t := range c.Cells {
			n := t.Negotiated
			row := []string{t.Cell, strings.TrimSpace(n.Version + " " + n.Suite + " " + n.Group)}
			if why := cmpOr(t.Failure, t.NotRun); why != "" {
				row[1] = why
			}
			for _, m := range seriesMetrics {
				row = append(row, value(t, m.name))
			}
			rows = append(rows, row)
		}
		return header, rows
	}
	header := []string{"figure"}
	for _, t := range c.Cells {
		header = append(header, fmt.Sprintf("%s (n=%d)", t.Cell, t.Runs))
	}
	var rows [][]string
	for _, m := range seriesMetrics {
		row := []string{m.name}
		for _, t := range c.Cells {
			row = append(row, value(t, m.name))
		}
		rows = append(rows, row)
	}
	return header, rows
}

// seriesStart is when the first run of a series started.
func seriesStart(sr *Series) (t0 time.Time) {
	for _, r := range sr.Runs {
		if t0.IsZero() || r.StartedAt.Before(t0) {
			t0 = r.StartedAt
		}
	}
	return t0
}

// seriesDuration is the wall time from the first run's start to the last one's end, in seconds.
func seriesDuration(sr *Series) float64 {
	t0 := seriesStart(sr)
	var end time.Time
	for _, r := range sr.Runs {
		if e := r.StartedAt.Add(time.Duration(r.DurationS * float64(time.Second))); e.After(end) {
			end = e
		}
	}
	return end.Sub(t0).Seconds()
}

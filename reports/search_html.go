package reports

import (
	"io"
	"strings"
)

// htmlSearch is a capacity search's page.
type htmlSearch struct {
	SR *SearchReport
	// What says what was searched; Answer is the answer, first letter up.
	What, Answer string
	// OK is set when a capacity was found; Warn when the driver was the limit.
	OK, Warn bool
	Header   []string
	Rows     []htmlSearchRow
	Notes    []string
	Plots    []htmlPlot
	Config   []figure
	Build    []figure
}

// htmlSearchRow is one probe of the table.
type htmlSearchRow struct {
	Cells           []string
	Pass, Saturated bool
}

// WriteSearchHTML writes a capacity search as one self-contained page: the
// answer on top, the probe table, and plots of achieved against offered
// load and of latency against load with the SLOs and the knee.
func WriteSearchHTML(w io.Writer, sr *SearchReport) error {
	s := &sr.Search
	plots, err := searchPlots(s)
	if err != nil {
		return err
	}
	page := &htmlSearch{SR: sr, What: searchWhat(s), Answer: upperFirst(s.Answer), OK: s.Passed(), Warn: s.Stop == StopGenerator,
		Notes: probeNotes(s), Plots: plots, Build: buildFigures(sr.Build, sr.StartedAt, sr.DurationS)}
	if len(s.SLO) > 0 {
		page.What += "; SLO " + strings.Join(s.SLO, ", ")
	}
	header, rows := searchTable(s)
	page.Header = header
	for i, row := range rows {
		page.Rows = append(page.Rows, htmlSearchRow{Cells: row, Pass: s.Probes[i].Pass, Saturated: s.Probes[i].Saturated})
	}
	if r := firstRun(s); r != nil {
		page.Config = configFigures(r.Config)
	}
	return execute(w, htmlPage{Title: searchTitle(sr) + " (" + s.Vary + ")", Search: page})
}

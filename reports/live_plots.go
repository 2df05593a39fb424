package reports

import (
	"html/template"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/metrics"
)

// LivePlot is one figure of a page drawn while a run goes on: an inline SVG,
// or a note saying why there is none yet.
type LivePlot struct {
	Title string
	SVG   template.HTML
	Note  string
}

// LivePlots draws a run so far as the --html report draws a finished one:
// the percentile curves of hist (the run's histograms so far, by metric; nil
// for none), then its timeline points, in the report's order and look.
func LivePlots(hist *[metrics.NumMetrics]*hdr.Histogram, points []bench.TimelinePoint) ([]LivePlot, error) {
	byName := func(name string) (*hdr.Histogram, error) {
		if m, ok := metrics.ByName(name); ok && hist != nil {
			return hist[m], nil
		}
		return nil, nil
	}
	pp, err := percentilePlots(byName)
	if err != nil {
		return nil, err
	}
	tp, err := timelinePlots(timelineOf(points), timeMarks{})
	if err != nil {
		return nil, err
	}
	var out []LivePlot
	for _, p := range append(pp, tp...) {
		lp := LivePlot{Title: p.Title, SVG: p.SVG}
		if p.SVG == "" {
			lp.Note = "no samples yet"
		}
		out = append(out, lp)
	}
	return out, nil
}

// StyleSheet is the CSS of the HTML report (without the <style> element),
// for pages that share its look.
func StyleSheet() template.CSS {
	s := htmlTemplate
	if i := strings.Index(s, "<style>"); i >= 0 {
		s = s[i+len("<style>"):]
	}
	if i := strings.Index(s, "</style>"); i >= 0 {
		s = s[:i]
	}
	// The report's own stylesheet, a constant of this package.
	return template.CSS(s)
}

package reports

import (
	"fmt"
	"html/template"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot/plotter"
)

// htmlPlot is one figure of the HTML page: an inline SVG, or a note saying
// why there is none.
type htmlPlot struct {
	Title string
	SVG   template.HTML
	Note  string
}

// The metrics drawn as percentile curves, by histogram name.
var (
	phaseMetrics = []string{"tcp_connect", "tls_handshake", "ws_upgrade", "connect_total"}
	rttMetrics   = []string{"ws_rtt", "ws_rtt_uncorrected"}
)

// noHistograms explains an empty percentile plot.
const noHistograms = "no samples, or the report carries no histograms (written by a wssbench before 'histograms' was added)"

// runPlots are the figures of one run's page.
func runPlots(r *Report) ([]htmlPlot, error) {
	out, err := percentilePlots(r.Histogram)
	if err != nil {
		return nil, err
	}
	tl, err := timelinePlots(r.Timeline, runMarks(r))
	if err != nil {
		return nil, err
	}
	return append(out, tl...), nil
}

// percentilePlots are a run's percentile curves: connection setup, frame
// round trip and (when it has samples) one-way delivery, from the
// histograms that histogram returns by metric name.
func percentilePlots(histogram func(name string) (*hdr.Histogram, error)) ([]htmlPlot, error) {
	var out []htmlPlot
	hist := func(names []string) ([]namedHist, error) {
		var hs []namedHist
		for i, n := range names {
			h, err := histogram(n)
			if err != nil {
				return nil, err
			}
			name := n
			if n == "ws_rtt" {
				name = "ws_rtt (corrected)"
			}
			hs = append(hs, namedHist{name: name, h: h, style: style{color: i}})
		}
		return hs, nil
	}
	for _, pc := range []struct {
		title string
		names []string
	}{
		{"Connection setup latency by percentile", phaseMetrics},
		{"Frame round trip by percentile", rttMetrics},
	} {
		hs, err := hist(pc.names)
		if err != nil {
			return nil, err
		}
		svg, err := percentilePlot(pc.title, hs, smallPlot)
		if err != nil {
			return nil, err
		}
		out = append(out, plotOrNote(pc.title, svg, noHistograms))
	}
	if h, err := histogram("delivery"); err != nil {
		return nil, err
	} else if h != nil && h.TotalCount() > 0 {
		const title = "One-way delivery latency by percentile"
		svg, err := percentilePlot(title, []namedHist{{name: "delivery", h: h, style: style{color: 4}}}, smallPlot)
		if err != nil {
			return nil, err
		}
		out = append(out, plotOrNote(title, svg, noHistograms))
	}
	return out, nil
}

// timelinePlots are a run's figures over time, drawn over marks.
func timelinePlots(tl []TimelinePoint, marks timeMarks) ([]htmlPlot, error) {
	var out []htmlPlot
	get := func(f func(TimelinePoint) float64, skipZero bool) plotter.XYs {
		var xy plotter.XYs
		for _, p := range tl {
			if v := f(p); !skipZero || v > 0 {
				xy = append(xy, plotter.XY{X: p.TS, Y: v})
			}
		}
		return xy
	}
	ms := func(f func(TimelinePoint) float64) func(TimelinePoint) float64 {
		return func(p TimelinePoint) float64 { return f(p) / 1e3 }
	}
	for _, tc := range []struct {
		title, y string
		curves   []series
	}{
		{"Connections over time", "connections", []series{
			{"established (total)", get(func(p TimelinePoint) float64 { return float64(p.Established) }, false), style{color: 2}},
			{"open", get(func(p TimelinePoint) float64 { return float64(p.Open) }, false), style{color: 1, dashes: 1}},
		}},
		{"Frames received per second", "frames/s", []series{
			{"frames/s", get(func(p TimelinePoint) float64 { return p.FramesPerS }, false), style{color: 2}},
		}},
		{"Errors per interval", "errors", []series{
			{"errors", get(func(p TimelinePoint) float64 { return float64(p.Errors) }, false), style{color: 0}},
		}},
		{"Handshake latency per interval (through the ramp)", "latency (ms)", []series{
			{"tls_handshake p50", get(ms(func(p TimelinePoint) float64 { return p.TLSHandshakeP50Us }), true), style{color: 1}},
			{"tls_handshake p99", get(ms(func(p TimelinePoint) float64 { return p.TLSHandshakeP99Us }), true), style{color: 1, dashes: 1}},
			{"connect_total p50", get(ms(func(p TimelinePoint) float64 { return p.ConnectTotalP50Us }), true), style{color: 3}},
			{"connect_total p99", get(ms(func(p TimelinePoint) float64 { return p.ConnectTotalP99Us }), true), style{color: 3, dashes: 1}},
		}},
		{"Frame round trip per interval", "latency (ms)", []series{
			{"ws_rtt p50", get(ms(func(p TimelinePoint) float64 { return p.RTTP50Us }), true), style{color: 2}},
			{"ws_rtt p99", get(ms(func(p TimelinePoint) float64 { return p.RTTP99Us }), true), style{color: 2, dashes: 1}},
		}},
	} {
		svg, err := timePlot(tc.title, tc.y, tc.curves, smallPlot, marks)
		if err != nil {
			return nil, err
		}
		out = append(out, plotOrNote(tc.title, svg, "nothing to draw: the report has no timeline points with these figures"))
	}
	return out, nil
}

// runMarks are a run's stages, as bands, and its storm's drop, as a line,
// for its plots over time.
func runMarks(r *Report) timeMarks {
	var m timeMarks
	for _, s := range r.Stages {
		m.bands = append(m.bands, timeBand{from: s.StartS, to: s.EndS, label: s.Name})
	}
	if s := r.Storm; s != nil {
		label := "storm: drop"
		if s.TargetRestarted {
			label = "storm: target restart"
		}
		m.lines = append(m.lines, timeLine{at: s.AtS, label: label})
		if s.Recovered {
			m.lines = append(m.lines, timeLine{at: s.AtS + s.BackToFullS, label: "back to full", good: true})
		}
	}
	return m
}

// seriesPlots overlay the runs of a series: one colour per topology, one dash pattern per repetition.
func seriesPlots(sr *Series) ([]htmlPlot, error) {
	names, styles := runNames(sr)
	var out []htmlPlot
	for _, metric := range append(append([]string{}, phaseMetrics...), rttMetrics...) {
		var hs []namedHist
		for i, r := range sr.Runs {
			h, err := r.Histogram(metric)
			if err != nil {
				return nil, err
			}
			hs = append(hs, namedHist{name: names[i], h: h, style: styles[i]})
		}
		title := metric + " by percentile"
		svg, err := percentilePlot(title, hs, seriesPlot)
		if err != nil {
			return nil, err
		}
		out = append(out, plotOrNote(title, svg, noHistograms))
	}
	for _, tc := range []struct {
		title, y string
		get      func(TimelinePoint) float64
	}{
		{"Open connections over time", "connections", func(p TimelinePoint) float64 { return float64(p.Open) }},
		{"Frames received per second", "frames/s", func(p TimelinePoint) float64 { return p.FramesPerS }},
		{"Errors per interval", "errors", func(p TimelinePoint) float64 { return float64(p.Errors) }},
	} {
		var cs []series
		for i, r := range sr.Runs {
			var xy plotter.XYs
			for _, p := range r.Timeline {
				xy = append(xy, plotter.XY{X: p.TS, Y: tc.get(p)})
			}
			cs = append(cs, series{name: names[i], xy: xy, style: styles[i]})
		}
		svg, err := timePlot(tc.title, tc.y, cs, seriesPlot, timeMarks{})
		if err != nil {
			return nil, err
		}
		out = append(out, plotOrNote(tc.title, svg, "the runs have no timeline"))
	}
	return out, nil
}

// runNames names each run of a series "topology #repetition", and styles it.
func runNames(sr *Series) ([]string, []style) {
	topo := map[string]int{}
	reps := map[string]int{}
	var names []string
	var styles []style
	for _, r := range sr.Runs {
		t := cellKey(r)
		if _, ok := topo[t]; !ok {
			topo[t] = len(topo)
		}
		reps[t]++
		names = append(names, fmt.Sprintf("%s #%d", t, reps[t]))
		styles = append(styles, style{color: topo[t], dashes: reps[t] - 1})
	}
	return names, styles
}

func plotOrNote(title string, svg template.HTML, note string) htmlPlot {
	if svg == "" {
		return htmlPlot{Title: title, Note: note}
	}
	return htmlPlot{Title: title, SVG: svg}
}

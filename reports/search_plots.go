package reports

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"

	"github.com/wssbench/wssbench/bench/threshold"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// sloColor draws an SLO's bound: amber, so it stands apart from the knee's red.
var sloColor = color.NRGBA{R: 200, G: 120, B: 0, A: 255}

// searchAxis is where a probe sits on the search's latency plots, and the
// axis' label: offered frames/s on the msg-rate axis, the value in its
// unit on the others.
func searchAxis(s *Search) (func(Probe) float64, string) {
	switch s.Vary {
	case VaryConns:
		return func(p Probe) float64 { return p.Value }, "connections"
	case VaryConnectRate:
		return func(p Probe) float64 { return p.Value }, "connect rate (handshakes/s offered)"
	}
	return offeredX, "offered frames/s"
}

// offeredX is a probe's offered load (its value when it has none).
func offeredX(p Probe) float64 {
	if p.OfferedPerSec > 0 {
		return p.OfferedPerSec
	}
	return p.Value
}

// searchPlots are the figures of a search's page: offered against achieved
// load, and RTT and TLS handshake percentiles against the load, with the
// latency SLOs' bounds and the knee drawn on them.
func searchPlots(s *Search) ([]htmlPlot, error) {
	var out []htmlPlot
	load, err := loadPlot(s)
	if err != nil {
		return nil, err
	}
	out = append(out, load)
	x, xLabel := searchAxis(s)
	for _, lc := range []struct {
		title string
		hists []string
		get   func(Probe) Percentiles
	}{
		{"Frame round trip against load", []string{"ws_rtt", "ws_rtt_uncorrected"}, func(p Probe) Percentiles { return p.RTT }},
		{"TLS handshake against load", []string{"tls_handshake"}, func(p Probe) Percentiles { return p.TLSHandshake }},
	} {
		pl, err := latencyLoadPlot(s, lc.title, xLabel, x, lc.get, lc.hists)
		if err != nil {
			return nil, err
		}
		out = append(out, pl)
	}
	return out, nil
}

// byX are the probes ordered by x (a bisection runs them out of order).
func byX(s *Search, x func(Probe) float64) []Probe {
	ps := append([]Probe(nil), s.Probes...)
	sort.SliceStable(ps, func(i, j int) bool { return x(ps[i]) < x(ps[j]) })
	return ps
}

// kneeMark is the knee as a vertical line midway between the passing and
// the failing probe, in x's units.
func kneeMark(s *Search, x func(Probe) float64) []timeLine {
	pass, fail := s.KneeProbes()
	if pass == nil || fail == nil {
		return nil
	}
	return []timeLine{{at: (x(*pass) + x(*fail)) / 2, label: fmt.Sprintf("knee: %s pass, %s fail", qty(x(*pass)), qty(x(*fail)))}}
}

// loadPlot draws achieved against offered load, with y = x: where the
// curve leaves the line, the server (or the driver) stops keeping up.
func loadPlot(s *Search) (htmlPlot, error) {
	const title = "Offered against achieved load"
	x, y, what := offeredX, func(p Probe) Stat { return p.FramesPerSec }, "frames/s"
	if s.Vary == VaryConnectRate {
		x, y, what = func(p Probe) float64 { return p.Value }, func(p Probe) Stat { return p.HandshakesPerSec }, "handshakes/s"
	}
	var xy plotter.XYs
	top := 0.0
	for _, p := range byX(s, x) {
		if st := y(p); st.N > 0 {
			xy = append(xy, plotter.XY{X: x(p), Y: st.Median})
			top = math.Max(top, math.Max(st.Max, x(p)))
		}
	}
	if len(xy) == 0 {
		return htmlPlot{Title: title, Note: "no probe measured any load"}, nil
	}
	top = math.Max(top*1.05, 1)
	ch := newChart(title, "offered "+what, "achieved "+what)
	if err := ch.addMarks(timeMarks{lines: kneeMark(s, x)}, top); err != nil {
		return htmlPlot{}, err
	}
	ideal, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: top, Y: top}})
	if err != nil {
		return htmlPlot{}, err
	}
	ideal.LineStyle = draw.LineStyle{Color: color.NRGBA{R: 120, G: 130, B: 140, A: 255}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}
	ch.p.Add(ideal)
	ch.leg.Add("achieved = offered", ideal)
	if err := ch.addLine("achieved (median)", xy, style{color: 2}); err != nil {
		return htmlPlot{}, err
	}
	ch.p.X.Min, ch.p.Y.Min, ch.p.X.Max, ch.p.Y.Max = 0, 0, top, top
	svg, err := ch.renderSVG(smallPlot)
	if err != nil {
		return htmlPlot{}, err
	}
	return plotOrNote(title, svg, "nothing to draw"), nil
}

// latencyLoadPlot draws p50, p99 and p99.9 of a latency against the load,
// the bounds of the latency SLOs on hists as horizontal lines, and the knee.
func latencyLoadPlot(s *Search, title, xLabel string, x func(Probe) float64, get func(Probe) Percentiles, hists []string) (htmlPlot, error) {
	probes := byX(s, x)
	curves := []struct {
		name string
		stat func(Percentiles) Stat
	}{
		{"p50", func(p Percentiles) Stat { return p.P50Us }},
		{"p99", func(p Percentiles) Stat { return p.P99Us }},
		{"p99.9", func(p Percentiles) Stat { return p.P999Us }},
	}
	maxUs := 0.0
	drawn := 0
	for _, p := range probes {
		for _, c := range curves {
			if st := c.stat(get(p)); st.N > 0 {
				maxUs, drawn = math.Max(maxUs, st.Median), drawn+1
			}
		}
	}
	if drawn == 0 {
		return htmlPlot{Title: title, Note: "no probe recorded samples of it"}, nil
	}
	slos := latencySLOs(s.SLO, hists)
	for _, t := range slos {
		maxUs = math.Max(maxUs, t.Value)
	}
	unit, div := latencyUnit(maxUs * 1e3)
	yMax := math.Max(maxUs*1.1/(div/1e3), 1e-3)
	ch := newChart(title, xLabel, "latency ("+unit+")")
	if err := ch.addMarks(timeMarks{lines: kneeMark(s, x)}, yMax); err != nil {
		return htmlPlot{}, err
	}
	xMin, xMax := x(probes[0]), x(probes[len(probes)-1])
	if xMax <= xMin {
		xMin, xMax = xMin*0.9, xMax*1.1+1
	}
	for _, t := range slos {
		if err := ch.addLevel(xMin, xMax, t.Value/(div/1e3), "SLO "+t.Expr); err != nil {
			return htmlPlot{}, err
		}
	}
	for i, c := range curves {
		var xy plotter.XYs
		for _, p := range probes {
			if st := c.stat(get(p)); st.N > 0 {
				xy = append(xy, plotter.XY{X: x(p), Y: st.Median / (div / 1e3)})
			}
		}
		if len(xy) == 0 {
			continue
		}
		if err := ch.addLine(c.name, xy, style{color: i}); err != nil {
			return htmlPlot{}, err
		}
	}
	ch.p.Y.Min, ch.p.Y.Max = 0, yMax
	svg, err := ch.renderSVG(smallPlot)
	if err != nil {
		return htmlPlot{}, err
	}
	return plotOrNote(title, svg, "nothing to draw"), nil
}

// latencySLOs are the SLOs that bound a latency of hists over the whole run.
func latencySLOs(exprs []string, hists []string) []threshold.Threshold {
	var out []threshold.Threshold
	for _, e := range exprs {
		t, err := threshold.Parse(e)
		if err != nil || t.Kind != threshold.Latency || t.Selector.Key != "" {
			continue
		}
		if hist, _, ok := splitStat(t.Metric); ok && slices.Contains(hists, hist) {
			out = append(out, t)
		}
	}
	return out
}

// addLevel draws a horizontal line at y from x0 to x1, labelled above its
// left end and in the legend.
func (ch *chart) addLevel(x0, x1, y float64, label string) error {
	l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: y}, {X: x1, Y: y}})
	if err != nil {
		return fmt.Errorf("level %q: %w", label, err)
	}
	l.LineStyle = draw.LineStyle{Color: sloColor, Width: vg.Points(1.4), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
	ch.p.Add(l)
	ch.leg.Add(label, l)
	t, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x0, Y: y}}, Labels: []string{label}})
	if err != nil {
		return err
	}
	for i := range t.TextStyle {
		t.TextStyle[i].Font = sans(9)
		t.TextStyle[i].Color = sloColor
	}
	t.Offset = vg.Point{X: vg.Points(3), Y: vg.Points(3)}
	ch.p.Add(t)
	return nil
}

package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"strconv"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plot sizes: single-run plots sit two to a row; comparison plots are
// taller, for one curve and one legend entry per run.
var (
	smallPlot  = [2]vg.Length{5.6 * vg.Inch, 3.4 * vg.Inch}
	seriesPlot = [2]vg.Length{5.6 * vg.Inch, 4.2 * vg.Inch}
)

// style is how one curve is drawn: colour, and dashes for repeated runs.
type style struct {
	color  int
	dashes int
}

func (s style) line() draw.LineStyle {
	return draw.LineStyle{Color: plotutil.DarkColors[s.color%len(plotutil.DarkColors)], Width: vg.Points(1.6),
		Dashes: plotutil.Dashes(s.dashes)}
}

// namedHist is a histogram to draw as one percentile curve.
type namedHist struct {
	name  string
	h     *hdr.Histogram
	style style
}

// series is one curve of a plot over time or any x.
type series struct {
	name  string
	xy    plotter.XYs
	style style
}

// percentileX maps a percentile (0..100) to HdrHistogram's x axis, 1/(1-q).
func percentileX(q float64) float64 { return 1 / (1 - q/100) }

// percentileTicks labels the x axis at 0%, 50% (on short axes), 90%, 99%,
// 99.9%... up to max, with unlabelled ticks between.
func percentileTicks(max float64) plot.ConstantTicks {
	ticks := plot.ConstantTicks{{Value: 1, Label: "0%"}, {Value: 2}}
	if max <= 1000 {
		// Wider axes leave no room between 0% and 50%.
		ticks[1].Label = "50%"
	}
	for x, nines := 10.0, 1; x <= max*1.0001; x, nines = x*10, nines+1 {
		label := "90%"
		if nines > 1 {
			label = strings.TrimSuffix("99."+strings.Repeat("9", nines-2), ".") + "%"
		}
		for m := 2.0; m < 10; m++ {
			if x/10*m != 2 { // 2 is the labelled 50%
				ticks = append(ticks, plot.Tick{Value: x / 10 * m})
			}
		}
		ticks = append(ticks, plot.Tick{Value: x, Label: label})
	}
	return ticks
}

// latencyUnit picks µs or ms for a largest value in nanoseconds.
func latencyUnit(maxNs float64) (name string, div float64) {
	if maxNs >= 2e6 {
		return "ms", 1e6
	}
	return "µs", 1e3
}

// percentilePlot draws HdrHistogram's percentile distribution: latency
// against 1/(1-percentile) on a log scale, one curve per histogram.
func percentilePlot(title string, hs []namedHist, size [2]vg.Length) (template.HTML, error) {
	var maxNs, maxCount float64
	var drawn []namedHist
	for _, nh := range hs {
		if nh.h == nil || nh.h.TotalCount() == 0 {
			continue
		}
		drawn = append(drawn, nh)
		maxNs = math.Max(maxNs, float64(nh.h.Max()))
		maxCount = math.Max(maxCount, float64(nh.h.TotalCount()))
	}
	if len(drawn) == 0 {
		return "", nil
	}
	// The x axis reaches the percentile that the largest sample count resolves.
	xMax := math.Max(100, math.Pow(10, math.Ceil(math.Log10(maxCount))))
	unit, div := latencyUnit(maxNs)
	ch := newChart(title, "percentile", "latency ("+unit+")")
	p := ch.p
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = percentileTicks(xMax)
	for _, nh := range drawn {
		var xy plotter.XYs
		for _, b := range nh.h.CumulativeDistributionWithTicks(5) {
			x := math.Min(percentileX(b.Quantile), xMax)
			xy = append(xy, plotter.XY{X: x, Y: float64(b.ValueAt) / div})
		}
		if err := ch.addLine(nh.name, xy, nh.style); err != nil {
			return "", err
		}
	}
	p.X.Min, p.X.Max, p.Y.Min = 1, xMax, 0
	return ch.renderSVG(size)
}

// timeMarks are what a plot over time shows behind its curves: the stages
// of a staged run as shaded, labelled bands, and instants such as a storm's
// drop as labelled vertical lines.
type timeMarks struct {
	bands []timeBand
	lines []timeLine
}

// timeBand is a span of seconds from the run's start, labelled.
type timeBand struct {
	from, to float64
	label    string
}

// timeLine is an instant in seconds from the run's start, labelled, in
// red (or green, when good).
type timeLine struct {
	at    float64
	label string
	good  bool
}

// timePlot draws curves against seconds from the run's start, over marks.
func timePlot(title, yLabel string, curves []series, size [2]vg.Length, marks timeMarks) (template.HTML, error) {
	ch := newChart(title, "seconds from start", yLabel)
	var drawn []series
	yMax := 0.0
	for _, c := range curves {
		if len(c.xy) == 0 {
			continue
		}
		drawn = append(drawn, c)
		for _, pt := range c.xy {
			yMax = math.Max(yMax, pt.Y)
		}
	}
	if len(drawn) == 0 {
		return "", nil
	}
	yMax = math.Max(yMax*1.05, 1)
	// The marks first, so the curves are drawn over them.
	if err := ch.addMarks(marks, yMax); err != nil {
		return "", err
	}
	for _, c := range drawn {
		if err := ch.addLine(c.name, c.xy, c.style); err != nil {
			return "", err
		}
	}
	p := ch.p
	p.X.Min, p.Y.Min, p.Y.Max = 0, 0, yMax
	return ch.renderSVG(size)
}

// Colours of the marks: stages alternate two light shades; lines are red.
var (
	bandColors = [2]color.Color{color.NRGBA{R: 60, G: 110, B: 190, A: 34}, color.NRGBA{R: 60, G: 110, B: 190, A: 14}}
	bandEdge   = color.NRGBA{R: 60, G: 110, B: 190, A: 120}
	lineColor  = color.NRGBA{R: 190, G: 30, B: 30, A: 255}
	goodColor  = color.NRGBA{R: 30, G: 140, B: 60, A: 255}
)

// addMarks draws the bands and lines of marks up to yMax, each labelled at
// its top left; a line also gets a legend entry.
func (ch *chart) addMarks(marks timeMarks, yMax float64) error {
	label := func(x float64, text string) error {
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x, Y: yMax}}, Labels: []string{text}})
		if err != nil {
			return err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].Font = sans(9)
			l.TextStyle[i].Color = color.NRGBA{R: 60, G: 70, B: 80, A: 255}
		}
		l.Offset = vg.Point{X: vg.Points(3), Y: -vg.Points(11)}
		ch.p.Add(l)
		return nil
	}
	for i, b := range marks.bands {
		if b.to <= b.from {
			continue
		}
		poly, err := plotter.NewPolygon(plotter.XYs{{X: b.from, Y: 0}, {X: b.to, Y: 0}, {X: b.to, Y: yMax}, {X: b.from, Y: yMax}})
		if err != nil {
			return fmt.Errorf("stage band %q: %w", b.label, err)
		}
		poly.Color = bandColors[i%2]
		poly.LineStyle.Width = 0
		ch.p.Add(poly)
		edge, err := plotter.NewLine(plotter.XYs{{X: b.from, Y: 0}, {X: b.from, Y: yMax}})
		if err != nil {
			return fmt.Errorf("stage band %q: %w", b.label, err)
		}
		edge.LineStyle = draw.LineStyle{Color: bandEdge, Width: vg.Points(0.6)}
		ch.p.Add(edge)
		if err := label(b.from, b.label); err != nil {
			return err
		}
	}
	for _, m := range marks.lines {
		l, err := plotter.NewLine(plotter.XYs{{X: m.at, Y: 0}, {X: m.at, Y: yMax}})
		if err != nil {
			return fmt.Errorf("mark %q: %w", m.label, err)
		}
		c := color.Color(lineColor)
		if m.good {
			c = goodColor
		}
		l.LineStyle = draw.LineStyle{Color: c, Width: vg.Points(1.4), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
		ch.p.Add(l)
		ch.leg.Add(m.label, l)
		if err := label(m.at, m.label); err != nil {
			return err
		}
	}
	return nil
}

// chart is a plot and its legend, drawn to the right of the plot so it
// never hides a curve.
type chart struct {
	p   *plot.Plot
	leg plot.Legend
}

// sans is the plots' font: Liberation Sans, whose metrics lay the plot out.
func sans(size vg.Length) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
}

func newChart(title, xLabel, yLabel string) *chart {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(13)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(11)
		a.Tick.Label.Font = sans(10)
		a.Tick.Marker = plainTicks{}
	}
	p.Add(plotter.NewGrid())
	leg := plot.NewLegend()
	leg.TextStyle.Font = sans(10)
	leg.Top, leg.Left = true, true
	leg.Padding = vg.Points(4)
	return &chart{p: p, leg: leg}
}

// plainTicks are gonum's default ticks labelled without trailing zeros.
type plainTicks struct{}

// Ticks implements plot.Ticker.
func (plainTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = strconv.FormatFloat(t.Value, 'f', -1, 64)
		}
	}
	return ticks
}

// addLine adds a line (with point marks when there are few points) and its legend entry.
func (ch *chart) addLine(name string, xy plotter.XYs, st style) error {
	l, err := plotter.NewLine(xy)
	if err != nil {
		return fmt.Errorf("plot %q: %w", name, err)
	}
	l.LineStyle = st.line()
	ch.p.Add(l)
	if len(xy) <= 12 {
		s, err := plotter.NewScatter(xy)
		if err != nil {
			return fmt.Errorf("plot %q: %w", name, err)
		}
		s.GlyphStyle.Color, s.GlyphStyle.Radius, s.GlyphStyle.Shape = l.LineStyle.Color, vg.Points(2), draw.CircleGlyph{}
		ch.p.Add(s)
	}
	ch.leg.Add(name, l)
	return nil
}

// svgFont gives the SVG's text a fallback where the plot's font (Liberation
// Sans, whose metrics laid it out) is not installed.
const svgFont = "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"

// renderSVG draws p into an SVG element for inlining in HTML: without the XML
// prolog, with a viewBox so CSS can scale it.
func (ch *chart) renderSVG(size [2]vg.Length) (template.HTML, error) {
	c := vgsvg.New(size[0], size[1])
	dc := draw.New(c)
	ch.p.BackgroundColor = color.White
	const gap = 8
	legendW := ch.leg.Rectangle(dc).Size().X + gap
	ch.p.Draw(draw.Crop(dc, 0, -legendW, 0, 0))
	legend := draw.Crop(dc, size[0]-legendW+gap, 0, 0, 0)
	ch.leg.YOffs = -ch.p.Title.TextStyle.Rectangle(ch.p.Title.Text).Size().Y - 2*ch.p.Title.Padding
	ch.leg.Draw(legend)
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", err
	}
	s := buf.String()
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	s = strings.ReplaceAll(s, "font-family:Liberation Sans;", svgFont)
	// The SVG is gonum's output from numbers and escaped names only.
	return template.HTML(s), nil
}

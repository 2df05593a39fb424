package live

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/reports"
)

//go:embed page.html.tmpl
var pageText string

var tmpl = template.Must(template.New("live").Parse(pageText))

// snapshot is the state one render draws, copied out under the lock.
type snapshot struct {
	seq    int64
	run    string
	prog   bench.Progress
	seen   bool
	hist   [metrics.NumMetrics]*hdr.Histogram
	points []bench.TimelinePoint
	cores  float64
}

// take copies the page's state for a render (the lock is held briefly, to
// merge the histograms into fresh ones).
func (p *Page) take() snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := snapshot{seq: p.seq, run: p.run, prog: p.prog, seen: p.progSeen, points: slices.Clone(p.points), cores: p.cores}
	for m, h := range p.hist {
		if h != nil {
			s.hist[m] = metrics.NewHistogram()
			s.hist[m].Merge(h)
		}
	}
	return s
}

// fragmentData is what the fragment template shows.
type fragmentData struct {
	progressEvent
	Classes, TLS, Health string
	Plots                []reports.LivePlot
}

// render draws s as a progress event (its data, with the live section's HTML).
func (p *Page) render(s snapshot) (progressEvent, error) {
	pr := s.prog
	ev := progressEvent{Seq: s.seq, Run: s.run, Phase: pr.Phase, ElapsedS: pr.Elapsed.Seconds(), Target: pr.Target,
		Attempted: pr.Attempted, Established: pr.Established, Open: pr.Open, Failed: pr.Failed,
		FramesSent: pr.FramesSent, FramesReceived: pr.FramesReceived, FramesLost: pr.FramesLost, FramesPerS: pr.FramesPerSec,
		Errors: pr.Errors, ErrorsByClass: pr.ErrorsByClass, CPUCores: s.cores, Dropped: p.dropped.Load()}
	if !s.seen {
		ev.Phase = "starting"
	}
	lag := s.hist[metrics.SendLag]
	if lag != nil && lag.TotalCount() > 0 {
		ev.SendLagP99Us = float64(lag.ValueAtQuantile(99)) / 1e3
	}
	plots, err := reports.LivePlots(&s.hist, s.points)
	if err != nil {
		return ev, fmt.Errorf("live page: plots: %w", err)
	}
	d := fragmentData{progressEvent: ev, Classes: tally(pr.ErrorsByClass), Plots: plots, Health: health(ev, lag)}
	var tls []string
	for _, t := range []map[string]int64{pr.TLSVersions, pr.CipherSuites, pr.Groups} {
		if len(t) > 0 {
			tls = append(tls, tally(t))
		}
	}
	if len(tls) > 0 {
		d.TLS = strings.Join(tls, "; ") + fmt.Sprintf("; %d resumed", pr.Resumed)
	}
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, "fragment", d); err != nil {
		return ev, fmt.Errorf("live page: %w", err)
	}
	ev.HTML = buf.String()
	return ev, nil
}

// health is the generator's health so far in words: its send lag and this
// process's CPU. The saturation verdict itself is the report's, at the end.
func health(ev progressEvent, lag *hdr.Histogram) string {
	var parts []string
	if lag != nil && lag.TotalCount() > 0 {
		parts = append(parts, fmt.Sprintf("send lag p99 %s so far (how late frames left against the schedule)",
			time.Duration(ev.SendLagP99Us*1e3).Round(time.Microsecond)))
	}
	parts = append(parts, fmt.Sprintf("this process used %.2f cores over the last interval (the page's rendering included)", ev.CPUCores))
	return strings.Join(parts, "; ") + "; saturation is judged at the end"
}

// tally writes counts by name, largest first: "refused ×3, timeout ×1".
func tally(m map[string]int64) string {
	keys := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(keys, func(a, b string) int { return int(m[b] - m[a]) })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// fragment is the live section for the current state, rendered at most once
// per change of state.
func (p *Page) fragment() (progressEvent, error) {
	s := p.take()
	ev, err := p.render(s)
	if err != nil {
		return ev, err
	}
	p.mu.Lock()
	if s.seq >= p.fragSeq {
		p.fragSeq, p.frag = s.seq, []byte(ev.HTML)
	}
	p.mu.Unlock()
	return ev, nil
}

// writePage writes the page as it stands: the final report once there is
// one, else the live page with the current state drawn in.
func (p *Page) writePage(w io.Writer) error {
	p.mu.Lock()
	final, frag, fresh := p.finalPage, p.frag, p.fragSeq == p.seq && p.frag != nil
	p.mu.Unlock()
	if final != nil {
		_, err := w.Write(final)
		return err
	}
	if !fresh {
		ev, err := p.fragment()
		if err != nil {
			return err
		}
		frag = []byte(ev.HTML)
	}
	var buf bytes.Buffer
	err := tmpl.ExecuteTemplate(&buf, "page", struct {
		Title    string
		CSS      template.CSS
		Fragment template.HTML
		Dropped  int64
	}{p.cfg.Title, reports.StyleSheet(), template.HTML(frag), p.dropped.Load()}) // frag is this package's own template output
	if err != nil {
		return fmt.Errorf("live page: %w", err)
	}
	_, err = buf.WriteTo(w)
	return err
}

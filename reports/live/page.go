// Package live is wssbench's live page (run --ui): one self-contained HTML
// page that follows a run as it goes, in the look of the --html report, fed
// by a server-sent events stream, and the final report in its place at the
// end. The run's callbacks only update state and wake a renderer: they never
// wait on a client, and a client that does not keep up loses events (counted)
// rather than slowing the run.
package live

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/reports"
)

// Config is how a Page serves; zero values take the defaults.
type Config struct {
	// Title heads the page (default "wssbench run").
	Title string
	// Buffer is how many events wait for one client before newer ones are
	// dropped for it (default 4).
	Buffer int
	// WriteTimeout bounds each write to a client; a client that takes longer
	// is disconnected (default 5 s).
	WriteTimeout time.Duration
}

// Page is the live page of a run. Its methods are safe for concurrent use;
// StartRun, Progress, Interval and Done return without waiting on a client.
type Page struct {
	cfg Config

	mu       sync.Mutex
	run      string // "cell (rep of N)", or "" for a single run
	prog     bench.Progress
	progSeen bool
	// hist holds the run's histograms so far; ivPoint the last interval's
	// latencies, waiting for the Progress call that closes its point.
	hist      [metrics.NumMetrics]*hdr.Histogram
	ivPoint   *bench.TimelinePoint
	points    []bench.TimelinePoint
	prevErrs  int64
	cpu       cpuMeter
	cores     float64 // this process's CPU over the last interval, in cores
	seq       int64   // advances with every change of state
	fragSeq   int64   // the state fragment was rendered from
	frag      []byte
	finalPage []byte
	clients   map[*client]struct{}

	kick     chan struct{} // wakes the renderer; holds at most one wake-up
	finished chan struct{} // closed by Done
	final    []byte        // the final SSE event, set before finished is closed
	dropped  atomic.Int64
	sent     atomic.Int64

	srv  *http.Server
	ln   net.Listener
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// New returns a page that is not yet served (see Serve).
func New(cfg Config) *Page {
	if cfg.Title == "" {
		cfg.Title = "wssbench run"
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 4
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 5 * time.Second
	}
	return &Page{cfg: cfg, clients: map[*client]struct{}{}, kick: make(chan struct{}, 1),
		finished: make(chan struct{}), stop: make(chan struct{})}
}

// StartRun begins a run of a series (bench.Options.OnRunStart): the
// histograms and the timeline start again.
func (p *Page) StartRun(cell string, rep, of int) {
	p.mu.Lock()
	p.run = fmt.Sprintf("%s (%d of %d)", cell, rep, of)
	p.hist = [metrics.NumMetrics]*hdr.Histogram{}
	p.points, p.ivPoint, p.prevErrs, p.progSeen = nil, nil, 0, false
	p.prog = bench.Progress{}
	p.seq++
	p.mu.Unlock()
	p.wake()
}

// Interval merges one interval's histograms into the run's so far
// (bench.Options.OnInterval); the next Progress call makes its timeline point.
func (p *Page) Interval(iv metrics.Interval) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for m, h := range iv.H {
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		if p.hist[m] == nil {
			p.hist[m] = metrics.NewHistogram()
		}
		p.hist[m].Merge(h)
	}
	pt := &bench.TimelinePoint{}
	pt.ConnectTotalP50, pt.ConnectTotalP99 = p50p99(iv.H[metrics.ConnectTotal])
	pt.TLSHandshakeP50, pt.TLSHandshakeP99 = p50p99(iv.H[metrics.TLSHandshake])
	pt.RTTP50, pt.RTTP99 = p50p99(iv.H[metrics.RTT])
	p.ivPoint = pt
}

// Progress records the run's counters (bench.Options.Progress, once an
// interval) as a timeline point and wakes the renderer.
func (p *Page) Progress(pr bench.Progress) {
	p.mu.Lock()
	pt := bench.TimelinePoint{}
	if p.ivPoint != nil {
		pt = *p.ivPoint
		p.ivPoint = nil
	}
	pt.At, pt.Established, pt.Open, pt.FramesPerSec = pr.Elapsed, pr.Established, pr.Open, pr.FramesPerSec
	pt.Errors = pr.Errors - p.prevErrs
	p.prevErrs = pr.Errors
	p.points = append(p.points, pt)
	p.prog, p.progSeen = pr, true
	p.cores = p.cpu.cores()
	p.seq++
	p.mu.Unlock()
	p.wake()
}

// Done shows the final report of the series: an event to every client, and
// the page that GET / serves from now on (the same as --html writes).
func (p *Page) Done(series *reports.Series) error {
	var buf bytes.Buffer
	if err := reportHTML(&buf, series); err != nil {
		return fmt.Errorf("live page: the final report: %w", err)
	}
	ev, err := sseEvent("final", finalEvent{HTML: buf.String(), OK: series.OK()})
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.finished:
		return nil // shown already
	default:
	}
	p.finalPage, p.final = buf.Bytes(), ev
	close(p.finished)
	return nil
}

// reportHTML writes series as --html does: with the html encoder.
func reportHTML(w io.Writer, series *reports.Series) error {
	for _, e := range reports.Encoders {
		if e.Name == "html" {
			return e.Write(w, series)
		}
	}
	return errors.New("reports has no html encoder")
}

// Dropped is how many events were dropped for clients that did not keep up.
func (p *Page) Dropped() int64 { return p.dropped.Load() }

// wake tells the renderer that the state changed, without waiting.
func (p *Page) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func p50p99(h *hdr.Histogram) (time.Duration, time.Duration) {
	if h == nil || h.TotalCount() == 0 {
		return 0, 0
	}
	return time.Duration(h.ValueAtQuantile(50)), time.Duration(h.ValueAtQuantile(99))
}

// progressEvent is the data of a "progress" event: the figures as numbers
// (for scripts and tests) and the page's live section as HTML.
type progressEvent struct {
	Seq            int64            `json:"seq"`
	Run            string           `json:"run,omitempty"`
	Phase          string           `json:"phase"`
	ElapsedS       float64          `json:"elapsed_s"`
	Target         int              `json:"target"`
	Attempted      int64            `json:"attempted"`
	Established    int64            `json:"established"`
	Open           int64            `json:"open"`
	Failed         int64            `json:"failed"`
	FramesSent     int64            `json:"frames_sent"`
	FramesReceived int64            `json:"frames_received"`
	FramesLost     int64            `json:"frames_lost"`
	FramesPerS     float64          `json:"frames_per_s"`
	Errors         int64            `json:"errors"`
	ErrorsByClass  map[string]int64 `json:"errors_by_class,omitempty"`
	SendLagP99Us   float64          `json:"send_lag_p99_us"`
	CPUCores       float64          `json:"cpu_cores"`
	Dropped        int64            `json:"dropped"`
	HTML           string           `json:"html"`
}

// finalEvent is the data of the "final" event: the report page and its verdict.
type finalEvent struct {
	HTML string `json:"html"`
	OK   bool   `json:"ok"`
}

// sseEvent formats one server-sent event; JSON holds no newline, so the
// data is one line.
func sseEvent(name string, v any) ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "event: %s\ndata: ", name)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the HTML goes into the page as it is
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("live page: %s event: %w", name, err)
	}
	buf.WriteString("\n") // Encode ended the data line; a blank line ends the event
	return buf.Bytes(), nil
}

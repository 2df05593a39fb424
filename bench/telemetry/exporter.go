// Package telemetry exposes a run while it runs, for Prometheus: an
// Exporter (a prometheus.Collector) that turns the run's once-a-second
// progress and interval histograms into counters, gauges and native plus
// classic histograms at scrape time, and an HTTP endpoint that serves them.
// Nothing is observed per frame: the report and the exporter read the same
// interval histograms, the exporter once per interval.
package telemetry

import (
	"maps"
	"sync"
	"time"

	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/metrics"
)

// Labels are the constant labels of every series an Exporter exposes; the
// variable label cell names the run of a series that a sample belongs to.
type Labels struct {
	// Run is the config's label.
	Run string
	// Topology is who terminates TLS (direct, builtin, nginx, haproxy;
	// comma-joined when the series compares several: cell tells them apart).
	Topology string
	// Shard is "I/N" of a run split over machines ("1/1" for one machine).
	Shard string
}

// Latency lists the metrics exported as histograms, wssbench_NAME_seconds.
var Latency = []metrics.Metric{metrics.TCPConnect, metrics.TLSHandshake, metrics.WSUpgrade, metrics.ConnectTotal, metrics.RTT, metrics.Delivery}

// Phases are the values of wssbench_phase's phase label.
var Phases = []string{driver.PhaseConnect, driver.PhaseSteady, driver.PhaseClose, driver.PhaseDone}

// Exporter holds what a series of runs has counted so far, by cell. Its
// methods are safe for concurrent use; Observe and Progress hold its lock
// only to add what they already converted, so a scrape never slows a run.
type Exporter struct {
	desc descs

	mu      sync.Mutex
	cells   []*cell // in the order they started
	current *cell
}

// cell is what one cell of the series has counted over its repetitions.
type cell struct {
	name    string
	created time.Time
	// base is the sum of the cell's finished repetitions' final progress;
	// last is its current repetition's latest. A counter exports base+last,
	// so it never goes down when a repetition starts from zero.
	base, last counts
	open       int64
	target     int64
	phase      string
	hist       [metrics.NumMetrics]*cumulative
}

// counts are the monotonic counters of a progress report.
type counts struct {
	attempted, established, failed           int64
	sent, received, lost, delivered, resumed int64
	errors, versions, suites, groups         map[string]int64
}

func countsOf(p driver.Progress) counts {
	return counts{attempted: p.Attempted, established: p.Established, failed: p.Failed,
		sent: p.FramesSent, received: p.FramesReceived, lost: p.FramesLost, delivered: p.FramesDelivered, resumed: p.Resumed,
		errors: maps.Clone(p.ErrorsByClass), versions: maps.Clone(p.TLSVersions), suites: maps.Clone(p.CipherSuites), groups: maps.Clone(p.Groups)}
}

func (c counts) plus(o counts) counts {
	sum := counts{attempted: c.attempted + o.attempted, established: c.established + o.established, failed: c.failed + o.failed,
		sent: c.sent + o.sent, received: c.received + o.received, lost: c.lost + o.lost, delivered: c.delivered + o.delivered,
		resumed: c.resumed + o.resumed}
	add := func(a, b map[string]int64) map[string]int64 {
		out := maps.Clone(a)
		if out == nil {
			out = map[string]int64{}
		}
		for k, v := range b {
			out[k] += v
		}
		return out
	}
	sum.errors, sum.versions, sum.suites, sum.groups = add(c.errors, o.errors), add(c.versions, o.versions), add(c.suites, o.suites), add(c.groups, o.groups)
	return sum
}

// New returns an Exporter whose series carry labels.
func New(labels Labels) *Exporter {
	return &Exporter{desc: newDescs(labels)}
}

// StartRun begins the rep-th run of a cell (Options.OnRunStart): later
// Progress and Observe calls count for it. A cell run again keeps adding to
// its counters and histograms.
func (e *Exporter) StartRun(name string, rep int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.start(name)
}

// start makes name the current cell; e.mu is held.
func (e *Exporter) start(name string) *cell {
	for _, c := range e.cells {
		if c.name == name {
			c.base, c.last = c.base.plus(c.last), counts{}
			c.open, c.phase = 0, driver.PhaseConnect
			e.current = c
			return c
		}
	}
	c := &cell{name: name, created: time.Now(), phase: driver.PhaseConnect}
	for _, m := range Latency {
		c.hist[m] = newCumulative()
	}
	e.cells = append(e.cells, c)
	e.current = c
	return c
}

// cur is the current cell, an unnamed one when no run was started; e.mu is held.
func (e *Exporter) cur() *cell {
	if e.current == nil {
		return e.start("")
	}
	return e.current
}

// Progress takes the current run's live counters (Options.Progress).
func (e *Exporter) Progress(p bench.Progress) {
	c := countsOf(p.Progress)
	e.mu.Lock()
	defer e.mu.Unlock()
	cl := e.cur()
	cl.last, cl.open, cl.target, cl.phase = c, p.Open, int64(p.Target), p.Phase
}

// Observe adds one interval's histograms to the current run's
// (Options.OnInterval, on the run's collector goroutine). The interval's
// histograms are read here and not kept.
func (e *Exporter) Observe(iv metrics.Interval) {
	var conv [metrics.NumMetrics]*cumulative
	var buckets []bucketCount
	for _, m := range Latency {
		if buckets = hdrBuckets(iv.H[m], buckets); len(buckets) == 0 {
			continue
		}
		conv[m] = newCumulative()
		conv[m].add(buckets)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cl := e.cur()
	for m, h := range conv {
		if h != nil {
			cl.hist[m].merge(h)
		}
	}
}

// Done marks the series finished: wssbench_phase says done.
func (e *Exporter) Done() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.current != nil {
		e.current.phase, e.current.open = driver.PhaseDone, 0
	}
}

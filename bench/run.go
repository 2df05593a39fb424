package bench

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"strconv"
	"sync"
	"time"

	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/env"
	"github.com/wssbench/wssbench/bench/fleet"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/bench/pace"
	"github.com/wssbench/wssbench/bench/proc"
)

// Options are how a caller watches and hosts a run; they do not change what is measured.
type Options struct {
	// TargetArgv starts the built-in target as a child process (for example
	// the wssbench binary and "serve"); --listen, --cert and --key are added.
	// Empty runs the target inside this process.
	TargetArgv []string
	// ProxyArgv starts the builtin topology's proxy as a child process (the
	// wssbench binary and "proxy"). Empty runs it inside this process.
	ProxyArgv []string
	// DriveArgv starts one driver process of a run split over processes
	// (the wssbench binary and its hidden "drive" command); the path of a
	// MemberSpec file is added. Empty: this process is the only driver.
	DriveArgv []string
	// ReadMember reads the result a driver process wrote to its
	// MemberSpec.Result (the report format belongs to the caller, which
	// writes it too). Needed with DriveArgv.
	ReadMember func(path string) (*Result, error)
	// PartsDir, if set, keeps each driver process's own result file there
	// (member-I.json), beside the merged one.
	PartsDir string
	// Shard, if set, runs this machine's share of a run split over machines.
	Shard *Shard
	// Member, if set, makes this run one driver process of a split run: it
	// waits at its parent's barriers and tells it its phases and progress.
	Member *fleet.Link
	// OnLayout, if set, is called before a cell's first run with its layout
	// when the run is split over processes or source addresses were chosen.
	OnLayout func(cell string, l Layout)
	// OnWait, if set, is called when the run waits for its start time (--start-at).
	OnWait func(until time.Time)
	// Interval is how often histograms are collected and Progress is called (default 1 s).
	Interval time.Duration
	// Progress, if set, is called every Interval with live counters.
	Progress func(Progress)
	// OnInterval, if set, receives each interval's merged histograms.
	OnInterval func(metrics.Interval)
	// OnRunStart, if set, is called by Run before each run of a cell, with
	// the cell's name, the repetition and the number of repetitions.
	OnRunStart func(cell string, rep, of int)
}

// Progress is a live view of a run.
type Progress struct {
	driver.Progress
	// Target is the number of connections the run aims for.
	Target int
	// Elapsed is time since the run began.
	Elapsed time.Duration
	// FramesPerSec is echoes received per second over the last interval.
	FramesPerSec float64
}

// runOne performs one run of one cell (its rep-th repetition), laid out as
// lay. A cancelled ctx ends the run early: the connections are closed and
// the partial Result is returned with Stats.Interrupted set. An error is a
// run that could not start.
func runOne(ctx context.Context, cell *Cell, rep int, lay Layout, opt Options) (*Result, error) {
	if lay.Split() {
		return runSplit(ctx, cell, rep, lay, opt)
	}
	cfg := &cell.Config
	res := &Result{Config: *cfg, Cell: cell, Repetition: rep, Topology: cell.Topology, StartedAt: time.Now(), Layout: lay}
	dc := cell.driverFor(lay)
	servers, err := startServers(ctx, cell, opt, lay, res)
	if err != nil {
		return nil, err
	}
	if servers != nil {
		// Stopped (and counted) below; this stops it on an early return.
		defer servers.Stop()
		if dc.URL, err = ParseTarget(servers.URL()); err != nil {
			return nil, fmt.Errorf("built-in target gave a bad URL %q: %w", servers.URL(), err)
		}
		dc.TLS = &tls.Config{RootCAs: servers.Chain().Pool(), ServerName: "localhost"}
		cell.applyClientTLS(dc.TLS, servers.Chain())
	}
	res.TargetURL = dc.URL.String()
	if cfg.Insecure {
		res.Warnings = append(res.Warnings, "certificate verification was skipped (--insecure)")
	}

	servedCPU := newServerCPU(servers)
	dc.OnPhase = func(name string, at time.Time) {
		if name == driver.PhaseSteady {
			// Every connection is up and none has closed: where the driver's
			// memory goes. Taken before the CPU reading, so the collection's
			// cost falls in the connect phase, not in the per-frame figure.
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			res.Memory.DriverHeapInUse, res.Memory.DriverStackInUse = int64(ms.HeapInuse), int64(ms.StackInuse)
		}
		servedCPU.mark(name, proc.SelfCPU())
		if opt.Member != nil {
			opt.Member.Phase(name)
		}
	}
	if opt.Member != nil {
		dc.AwaitSteady = opt.Member.Up
	}
	if dc.Storm != nil && cfg.Storm.RestartTarget {
		sp := *dc.Storm
		if servers == nil {
			return nil, errors.New("storm: restart_target needs the built-in target, started by this run")
		}
		sp.Cut = servers.RestartTarget
		dc.Storm = &sp
	}
	var w *watcher
	dc.OnStage = func(i int, at time.Time) { w.stage(i, at) }
	d, err := driver.New(&dc)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if err := d.Prime(ctx); err != nil {
		return nil, fmt.Errorf("--resume: %w", err)
	}
	runtime.GC()
	if m, err := proc.ReadMemory(0); err == nil {
		res.Memory.DriverBaselineRSS = m.RSS
	}
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	if err := awaitStart(ctx, opt, res); err != nil {
		return nil, err
	}

	w = watch(d, cfg, opt, res)
	res.Stats = d.Run(ctx)
	w.stop()
	res.Elapsed = time.Since(res.StartedAt)

	rec := d.Recorder()
	for m := range res.Histograms {
		res.Histograms[m] = rec.Total(metrics.Metric(m))
	}
	res.Roles = rolesOf(d, res.Stats)
	if dc.Stages != nil {
		res.Stages = stageResults(res, dc.Stages, w.marks)
		res.Warnings = append(res.Warnings, "stages: connections come and go throughout the run, so its CPU is not split between handshakes and frames (the per-handshake and per-frame costs are left out; each stage's rates and latencies are in its row)")
	}
	res.Storm = stormResult(res, d)
	res.Clipped = rec.Clipped()
	if m, err := proc.ReadMemory(0); err == nil {
		res.Memory.DriverPeakRSS = m.Peak
	}
	servedCPU.readMemory(res)
	if servers != nil {
		stopServers(servers, res)
	}
	if res.Reach == nil {
		res.Reach = reachOf(res, 0)
	}
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	res.CPU = servedCPU.phases(cfg.RunMode())
	res.Health = health(res, ms0, ms1)
	res.Processes = append([]Process{{Role: RoleDriver, Index: 1, PID: os.Getpid(), CPU: res.CPU.Driver,
		PeakRSS: res.Memory.DriverPeakRSS, Established: res.Stats.Established, Saturated: res.Health.Saturated}}, servedCPU.processes()...)
	return res, nil
}

// startServers starts the built-in target (and the proxy of the cell's
// topology) laid out as lay, and notes in res what it started; nil when the
// load goes to --target. The caller stops it.
func startServers(ctx context.Context, cell *Cell, opt Options, lay Layout, res *Result) (*env.Env, error) {
	res.Warnings = append(res.Warnings, lay.Warnings...)
	if cell.Config.Target != "" {
		return nil, nil
	}
	servers, err := env.Start(ctx, cell.envSpec(opt, lay))
	if err != nil {
		return nil, err
	}
	res.BuiltinTarget, res.TargetInProcess = true, servers.InProcess()
	res.Warnings = append(res.Warnings, servers.Warnings()...)
	return servers, nil
}

// awaitStart holds the load until it may begin: the parent's start time for
// a driver process of a split run, --start-at for a shard. It records the
// shard's place in res.
func awaitStart(ctx context.Context, opt Options, res *Result) error {
	if opt.Member != nil {
		at, err := opt.Member.Ready(ctx)
		if err != nil {
			return fmt.Errorf("waiting for the start: %w", err)
		}
		pace.SleepUntil(ctx, at)
	}
	sh := opt.Shard
	if sh == nil {
		return nil
	}
	res.Shard = &ShardRun{Index: sh.Index, Count: sh.Count, Conns: res.Layout.Conns, StartAt: sh.StartAt}
	switch {
	case sh.StartAt.IsZero():
		res.Warnings = append(res.Warnings, fmt.Sprintf("shard %s started at once (no --start-at): its start is not aligned with the other shards'", sh))
	case time.Until(sh.StartAt) > 0:
		if opt.OnWait != nil {
			opt.OnWait(sh.StartAt)
		}
		if !pace.SleepUntil(ctx, sh.StartAt) {
			return fmt.Errorf("interrupted while waiting for --start-at %s", sh.StartAt.Format(time.RFC3339))
		}
	default:
		res.Warnings = append(res.Warnings, fmt.Sprintf("shard %s: --start-at %s had passed %v before the shard was ready; it started at once", sh,
			sh.StartAt.Format(time.RFC3339), time.Since(sh.StartAt).Round(time.Millisecond)))
	}
	res.Shard.StartedAt = time.Now()
	return nil
}

// stopServers stops what the run started, records a child that died during
// the run, and cross-checks the target's own counts with the driver's.
func stopServers(servers *env.Env, res *Result) {
	counts, ok, err := servers.StopAndCount()
	if f := servers.Failure(); f != nil {
		res.ChildFailures = append(res.ChildFailures, f.Error())
	} else if err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("stopping the servers: %v", err))
	}
	if !ok {
		res.Warnings = append(res.Warnings, "the built-in target reported no counts: the crosscheck was not made")
		return
	}
	res.Crosscheck = crosscheck(res, res.Stats.Primed, TargetCounts(counts))
	res.Reach = reachOf(res, counts.DeliveriesOwed+counts.Pushed)
}

// watcher collects histograms every interval, adds a point to the run's
// timeline and its interval histograms, and reports progress; a stage
// boundary closes an interval there, so each stage's histograms are exact.
type watcher struct {
	done     chan struct{}
	boundary chan stageMark
	wg       sync.WaitGroup
	collect  func()
	marks    []stageMark
	res      *Result
	tl       *timeline
	d        *driver.Driver
}

// watch starts a watcher of d's run; stop takes the final collection.
func watch(d *driver.Driver, cfg *Config, opt Options, res *Result) *watcher {
	w := &watcher{done: make(chan struct{}), boundary: make(chan stageMark), res: res, tl: newTimeline(res.StartedAt), d: d}
	w.collect = func() {
		iv := d.Recorder().Collect()
		pt := w.tl.add(iv, d.Progress())
		res.Intervals = append(res.Intervals, encodeInterval(iv))
		if opt.OnInterval != nil {
			opt.OnInterval(iv)
		}
		if opt.Progress != nil {
			opt.Progress(Progress{Progress: w.tl.prev, Target: cmp.Or(res.Layout.Conns, cfg.Conns), Elapsed: time.Since(res.StartedAt), FramesPerSec: pt.FramesPerSec})
		}
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(opt.Interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				w.collect()
			case m := <-w.boundary:
				w.collect()
				m.interval, m.p = len(res.Intervals), w.tl.prev
				w.marks = append(w.marks, m)
			case <-w.done:
				return
			}
		}
	}()
	return w
}

// stage marks a stage boundary (the driver's OnStage).
func (w *watcher) stage(i int, at time.Time) {
	select {
	case w.boundary <- stageMark{index: i, at: at}:
	case <-w.done:
	}
}

// stop ends the watcher after a final collection.
func (w *watcher) stop() {
	close(w.done)
	w.wg.Wait()
	w.collect()
	w.res.Timeline = w.tl.points
}

// phaseCPU turns CPU readings taken at phase marks into per-phase figures.
func phaseCPU(marks map[string][3]time.Duration, mode driver.Mode) CPU {
	connect, steady, closing, done := driver.PhaseConnect, driver.PhaseSteady, driver.PhaseClose, driver.PhaseDone
	diff := func(from, to string, i int) time.Duration {
		a, ok1 := marks[from]
		b, ok2 := marks[to]
		if !ok1 || !ok2 || a[i] < 0 || b[i] < a[i] {
			// Not read, or a process that died: unknown, never negative.
			return 0
		}
		return b[i] - a[i]
	}
	var c CPU
	for i, p := range []*PhaseCPU{&c.DriverByPhase, &c.TargetByPhase, &c.ProxyByPhase} {
		if mode.HoldsAll() {
			p.Connect = diff(connect, steady, i)
			p.Steady = diff(steady, closing, i)
		} else {
			p.Connect = diff(connect, closing, i)
		}
		p.Close = diff(closing, done, i)
	}
	c.Driver = diff(connect, done, 0)
	c.Target = diff(connect, done, 1)
	c.Proxy = diff(connect, done, 2)
	return c
}

// gcPercent is the GC percent in effect ("off" when the collector is off),
// as the runtime reports it: GOGC, or what the program set.
func gcPercent() string {
	s := []rtmetrics.Sample{{Name: "/gc/gogc:percent"}}
	rtmetrics.Read(s)
	if s[0].Value.Kind() != rtmetrics.KindUint64 {
		return "unknown"
	}
	v := s[0].Value.Uint64()
	if v == math.MaxUint64 || v > 1<<31 {
		return "off"
	}
	return strconv.FormatUint(v, 10)
}

// health judges whether the driver kept up with its own schedule.
func health(res *Result, ms0, ms1 runtime.MemStats) Health {
	h := Health{Cores: runtime.GOMAXPROCS(0), GOGC: gcPercent(), GCCycles: ms1.NumGC - ms0.NumGC,
		GCPause: time.Duration(ms1.PauseTotalNs - ms0.PauseTotalNs)}
	judge(&h, res)
	return h
}

// judge sets h's CPU use from res's driver CPU over the measured window (the
// frame or hold window, or the whole storm) and adds a saturation reason
// when the driver used more than 90% of h.Cores, or sent late against an
// open-loop schedule.
func judge(h *Health, res *Result) {
	connectWall, wall := res.PhaseWalls()
	cpu := res.CPU.DriverByPhase.Steady
	if !res.Config.RunMode().HoldsAll() {
		wall, cpu = connectWall, res.CPU.DriverByPhase.Connect
	}
	if wall > 0 {
		h.CPUUtil = cpu.Seconds() / wall.Seconds()
	}
	if h.CPUUtil > 0.9*float64(h.Cores) {
		h.Saturated = true
		h.Reasons = append(h.Reasons, reasonf(ReasonSaturated, "generator saturated: the driver used more than 90%% of a core (%.2f cores of %d, %.0f%% of each on average)",
			h.CPUUtil, h.Cores, 100*h.CPUUtil/float64(h.Cores)))
	}
	if lag := res.Histograms[metrics.SendLag]; lag != nil && lag.TotalCount() > 0 && res.Config.MsgRate > 0 {
		h.SendLagP99 = time.Duration(lag.ValueAtQuantile(99))
		interval := time.Duration(float64(time.Second) / res.Config.MsgRate)
		if h.SendLagP99 > interval/10 && h.SendLagP99 > 5*time.Millisecond {
			h.Saturated = true
			h.Reasons = append(h.Reasons, reasonf(ReasonSaturated, "generator late: p99 send lag %v against a %v schedule", h.SendLagP99.Round(time.Microsecond), interval))
		}
	}
}

package bench

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/bench/pace"
	"github.com/wssbench/wssbench/bench/proc"
	"github.com/wssbench/wssbench/bench/tlsconf"
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
	// Interval is how often histograms are collected and Progress is called (default 1 s).
	Interval time.Duration
	// Progress, if set, is called every Interval with live counters.
	Progress func(Progress)
	// OnInterval, if set, receives each interval's merged histograms.
	OnInterval func(metrics.Interval)
	// OnRunStart, if set, is called by RunSeries before each run.
	OnRunStart func(topology string, rep, of int)
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

// Run performs one benchmark run. A cancelled ctx ends the run early: the
// connections are closed and the partial Result is returned with
// Stats.Interrupted set. Errors are bad input (*InputError) or a run that
// could not start.
func Run(ctx context.Context, cfg Config, opt Options) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.Preflight(ReadLimits(), cfg.Target == "" && len(opt.TargetArgv) == 0); err != nil {
		return nil, err
	}
	if err := checkProxyPrograms(cfg.Topology); err != nil {
		return nil, err
	}
	if opt.Interval <= 0 {
		opt.Interval = time.Second
	}
	res := &Result{Config: cfg, StartedAt: time.Now()}
	dc, err := resolve(&cfg)
	if err != nil {
		return nil, err
	}
	topology := TopologyDirect
	if len(cfg.Topology) > 0 {
		topology = cfg.Topology[0]
	}
	res.Topology = topology
	var targetPID, proxyPID int
	if cfg.Target == "" {
		env, err := startEnv(ctx, &cfg, opt, topology)
		if err != nil {
			return nil, err
		}
		defer env.Stop()
		res.BuiltinTarget, res.TargetInProcess = true, env.InProcess()
		targetPID, proxyPID = env.TargetPID(), env.ProxyPID()
		if dc.URL, err = ParseTarget(env.URL()); err != nil {
			return nil, fmt.Errorf("built-in target gave a bad URL %q: %w", env.URL(), err)
		}
		dc.TLS = &tls.Config{RootCAs: env.Chain().Pool(), ServerName: "localhost"}
		if err := cfg.applyClientTLS(dc.TLS, env.Chain()); err != nil {
			return nil, err
		}
		res.Warnings = append(res.Warnings, env.Warnings()...)
	}
	res.TargetURL = dc.URL.String()
	if cfg.Insecure {
		res.Warnings = append(res.Warnings, "certificate verification was skipped (--insecure)")
	}

	cpuMarks := map[string][3]time.Duration{}
	dc.OnPhase = func(name string, _ time.Time) {
		if name == "connect" && proxyPID > 0 {
			// Before the first connection: the proxy's own footprint.
			if rss, err := proc.TreePeakRSS(proxyPID); err == nil {
				res.Memory.ProxyBaselineRSS = rss
			}
		}
		if name == "steady" {
			// Every connection is up and none has closed: where the driver's
			// memory goes. Taken before the CPU reading, so the collection's
			// cost falls in the connect phase, not in the per-frame figure.
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			res.Memory.DriverHeapInUse, res.Memory.DriverStackInUse = int64(ms.HeapInuse), int64(ms.StackInuse)
		}
		var t, p time.Duration
		// A read error leaves that process's CPU at 0 for this mark.
		if targetPID > 0 {
			t, _ = proc.TreeCPU(targetPID)
		}
		if proxyPID > 0 {
			p, _ = proc.TreeCPU(proxyPID)
		}
		cpuMarks[name] = [3]time.Duration{proc.SelfCPU(), t, p}
	}
	d, err := driver.New(dc)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	if err := d.Prime(ctx); err != nil {
		return nil, fmt.Errorf("--resume: %w", err)
	}
	runtime.GC()
	if m, err := proc.ReadMemory(0); err == nil {
		res.Memory.DriverBaselineRSS = m.RSS
	}
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)

	stopWatch := watch(d, &cfg, opt, res.StartedAt)
	res.Stats = d.Run(ctx)
	res.Timeline = stopWatch()
	res.Elapsed = time.Since(res.StartedAt)

	rec := d.Recorder()
	for m := range res.Histograms {
		res.Histograms[m] = rec.Total(metrics.Metric(m))
	}
	res.Clipped = rec.Clipped()
	if m, err := proc.ReadMemory(0); err == nil {
		res.Memory.DriverPeakRSS = m.Peak
	}
	if targetPID > 0 {
		if m, err := proc.ReadMemory(targetPID); err == nil {
			res.Memory.TargetPeakRSS = m.Peak
		}
	}
	if proxyPID > 0 {
		// Summed over nginx's master and workers.
		if rss, err := proc.TreePeakRSS(proxyPID); err == nil {
			res.Memory.ProxyPeakRSS = rss
		}
	}
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	res.CPU = phaseCPU(cpuMarks, driver.Mode(cfg.Mode))
	res.Health = health(res, ms0, ms1)
	return res, nil
}

// watch collects histograms every interval, adds a point to the run's
// timeline and reports progress until stopped; the returned func takes the
// final collection and returns the timeline.
func watch(d *driver.Driver, cfg *Config, opt Options, start time.Time) func() []TimelinePoint {
	done := make(chan struct{})
	var wg sync.WaitGroup
	tl := newTimeline(start)
	collect := func() {
		iv := d.Recorder().Collect()
		pt := tl.add(iv, d.Progress())
		if opt.OnInterval != nil {
			opt.OnInterval(iv)
		}
		if opt.Progress != nil {
			opt.Progress(Progress{Progress: tl.prev, Target: cfg.Conns, Elapsed: time.Since(start), FramesPerSec: pt.FramesPerSec})
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(opt.Interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				collect()
			case <-done:
				return
			}
		}
	}()
	return func() []TimelinePoint {
		close(done)
		wg.Wait()
		collect()
		return tl.points
	}
}

// resolve turns the user's Config into the driver's ready-to-use one.
func resolve(cfg *Config) (*driver.Config, error) {
	dc := &driver.Config{
		Mode:           driver.Mode(cfg.Mode),
		Conns:          cfg.Conns,
		Arrival:        pace.Constant{Rate: cfg.ConnectRate},
		ConnectTimeout: time.Duration(cfg.ConnectTimeout),
		Duration:       time.Duration(cfg.Duration),
		MsgRate:        cfg.MsgRate,
		PayloadBytes:   cfg.PayloadBytes,
		Binary:         cfg.Binary,
		FrameTimeout:   time.Duration(cfg.FrameTimeout),
		Subprotocols:   cfg.Subprotocols,
		ResumeShare:    cfg.ResumeShare(),
		Shards:         2 * runtime.GOMAXPROCS(0),
	}
	var err error
	if dc.SourceIPs, err = ParseSourceIPs(cfg.SourceIPs); err != nil {
		return nil, err
	}
	if len(cfg.Headers) > 0 {
		dc.Header = http.Header{}
		for _, h := range cfg.Headers {
			k, v, err := splitHeader(h)
			if err != nil {
				return nil, err
			}
			dc.Header.Add(k, v)
		}
	}
	if cfg.Target == "" {
		return dc, nil
	}
	if dc.URL, err = ParseTarget(cfg.Target); err != nil {
		return nil, err
	}
	if dc.URL.Scheme == "wss" {
		// tls.Client, unlike tls.Dial, does not take the server name from the address.
		tc := &tls.Config{ServerName: cmp.Or(cfg.ServerName, dc.URL.Hostname()), InsecureSkipVerify: cfg.Insecure}
		if cfg.CAFile != "" {
			if tc.RootCAs, err = tlsconf.LoadCAPool(cfg.CAFile); err != nil {
				return nil, &InputError{Err: fmt.Errorf("--ca: %w", err)}
			}
		}
		if err := cfg.applyClientTLS(tc, nil); err != nil {
			return nil, err
		}
		dc.TLS = tc
	} else if cfg.CAFile != "" || cfg.Insecure || cfg.ServerName != "" {
		return nil, inputErr("--ca, --insecure and --server-name apply only to wss:// targets, but --target is %s", cfg.Target)
	}
	return dc, nil
}

// phaseCPU turns CPU readings taken at phase marks into per-phase figures.
func phaseCPU(marks map[string][3]time.Duration, mode driver.Mode) CPU {
	diff := func(from, to string, i int) time.Duration {
		a, ok1 := marks[from]
		b, ok2 := marks[to]
		if !ok1 || !ok2 {
			return 0
		}
		return b[i] - a[i]
	}
	var c CPU
	for i, p := range []*PhaseCPU{&c.DriverByPhase, &c.TargetByPhase, &c.ProxyByPhase} {
		if mode == driver.ModeStorm {
			p.Connect = diff("connect", "close", i)
		} else {
			p.Connect = diff("connect", "steady", i)
			p.Steady = diff("steady", "close", i)
		}
		p.Close = diff("close", "done", i)
	}
	c.Driver = diff("connect", "done", 0)
	c.Target = diff("connect", "done", 1)
	c.Proxy = diff("connect", "done", 2)
	return c
}

// health judges whether the driver kept up with its own schedule.
func health(res *Result, ms0, ms1 runtime.MemStats) Health {
	h := Health{Cores: runtime.GOMAXPROCS(0), GOGC: cmp.Or(os.Getenv("GOGC"), "100"), GCCycles: ms1.NumGC - ms0.NumGC,
		GCPause: time.Duration(ms1.PauseTotalNs - ms0.PauseTotalNs)}
	// The measured window: the frame (or hold) window, or the whole storm.
	connectWall, wall := res.PhaseWalls()
	cpu := res.CPU.DriverByPhase.Steady
	if res.Config.Mode == ModeStorm {
		wall, cpu = connectWall, res.CPU.DriverByPhase.Connect
	}
	if wall > 0 {
		h.CPUUtil = cpu.Seconds() / wall.Seconds()
	}
	if h.CPUUtil > 0.9*float64(h.Cores) {
		h.Saturated = true
		h.Reasons = append(h.Reasons, fmt.Sprintf("generator saturated: the driver used more than 90%% of a core (%.2f cores of %d, %.0f%% of each on average)",
			h.CPUUtil, h.Cores, 100*h.CPUUtil/float64(h.Cores)))
	}
	if lag := res.Histograms[metrics.SendLag]; lag != nil && lag.TotalCount() > 0 && res.Config.MsgRate > 0 {
		h.SendLagP99 = time.Duration(lag.ValueAtQuantile(99))
		interval := time.Duration(float64(time.Second) / res.Config.MsgRate)
		if h.SendLagP99 > interval/10 && h.SendLagP99 > 5*time.Millisecond {
			h.Saturated = true
			h.Reasons = append(h.Reasons, fmt.Sprintf("generator late: p99 send lag %v against a %v schedule", h.SendLagP99.Round(time.Microsecond), interval))
		}
	}
	return h
}

package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/capacity"
	"github.com/wssbench/wssbench/bench/telemetry"
	"github.com/wssbench/wssbench/bench/threshold"
	"github.com/wssbench/wssbench/reports"
	"github.com/wssbench/wssbench/scenarios"
)

// searchOpts are the flags of search beyond run's.
type searchOpts struct {
	vary, precision string
	from, to        float64
	growth          float64
	slo             []string
	cooldown        time.Duration
}

// searchFlags binds run's flags (the load of every probe) and search's own.
func searchFlags(cfg *bench.Config, so *searchOpts) (*pflag.FlagSet, *runOut) {
	rfs, out := runFlags(cfg)
	fs := pflag.NewFlagSet("search", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringVar(&so.vary, "vary", "", "the load axis to search: "+strings.Join(capacity.Axes(), ", "))
	fs.Float64Var(&so.from, "from", 0, "the first value probed (in the axis' unit)")
	fs.Float64Var(&so.to, "to", 0, "the most probed: the search grows from --from up to it")
	fs.StringArrayVar(&so.slo, "slo", nil, "an objective every passing probe meets, a threshold expression such as 'ws_rtt.p99 < 5ms' or 'errors.rate < 0.1%' (repeatable)")
	fs.StringVar(&so.precision, "precision", "5%", "how narrow the answer must be: the last pass and the first fail within this share of the pass")
	fs.Float64Var(&so.growth, "growth", 2, "the first phase multiplies the load by this after each pass")
	fs.DurationVar(&so.cooldown, "cooldown", time.Second, "pause between probes, so a server that fell behind at one drains its backlog before the next")
	fs.AddFlagSet(rfs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `wssbench search: find the most load that meets its objectives

Grows the load along --vary geometrically from --from (times --growth after
each passing probe) until an --slo fails or --to passes, then bisects between
the last pass and the first fail until they are within --precision. Each
probe is a full run (ramp, steady window) of the load the other flags (or
--scenario) describe, at that value; with --repeat N it runs N times and
passes only if every objective's median passes (the spread is reported). A
probe whose driver saturated says nothing about the server: the search stops
and says the driver is the limit. Ctrl-C writes the probes done so far and
the interval known so far, marked partial.

Usage:
  wssbench search --vary AXIS --from A --to B --slo EXPR [--slo EXPR ...] [run flags]

Examples:
  wssbench search --vary msg-rate --from 5 --to 200 --conns 200 --slo 'ws_rtt.p99 < 5ms' --slo 'errors.rate < 0.1%%'
  wssbench search --vary msg-rate --from 5 --to 100 --conns 200 --target-capacity 3000 --slo 'ws_rtt.p99 < 5ms'   a server of known capacity
  wssbench search --vary conns --from 500 --to 20000 --msg-rate 1 --slo 'ws_rtt.p99 < 10ms' --repeat 3 --html out/s.html
  wssbench search --vary connect-rate --from 100 --to 5000 --mode handshake-storm --conns 16 --slo 'connect_total.p99 < 50ms'
  wssbench search --vary msg-rate --from 5 --to 200 --topology nginx --slo 'ws_rtt.p99 < 5ms' --out out/s.json
  wssbench compare out/base-search.json out/cand-search.json --tolerance 10%%   capacity gate

Exit codes: 0 the search found its answer (a knee, or the load holds up to
--to); 1 it could not (the first probe failed, the driver was the limit, a
run could not start, or Ctrl-C); 2 bad input.

Flags (the search's, then run's, which shape every probe):
%s`, fs.FlagUsages())
	}
	return fs, out
}

// loadSearchConfig parses args over the scenario (if any) or the defaults.
func loadSearchConfig(args []string, stdout, stderr io.Writer) (bench.Config, *searchOpts, *runOut, int, bool) {
	cfg := bench.Default()
	so := &searchOpts{}
	fs, out := searchFlags(&cfg, so)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return cfg, so, out, code, false
	}
	if out.scenario == "" {
		return cfg, so, out, 0, true
	}
	sc, err := scenarios.Load(out.scenario)
	if err != nil {
		return cfg, so, out, errorCode(stderr, "search", err), false
	}
	so2 := &searchOpts{}
	fs2, out2 := searchFlags(&sc, so2)
	if code, ok := parseFlags(fs2, args, stdout, stderr); !ok {
		return sc, so2, out2, code, false
	}
	return sc, so2, out2, 0, true
}

// searchSetup is a checked search: its spec, its objectives and the config
// every probe starts from.
type searchSetup struct {
	spec capacity.Spec
	slos []threshold.Threshold
	base bench.Config
}

// checkSearch refuses, before any load, a search that cannot work.
func checkSearch(cfg bench.Config, so *searchOpts, out *runOut, opt bench.Options) (*searchSetup, error) {
	bad := func(format string, a ...any) error { return &bench.InputError{Err: fmt.Errorf(format, a...)} }
	if so.vary == "" {
		return nil, bad("--vary is required: the axis to search, one of %s", strings.Join(capacity.Axes(), ", "))
	}
	if len(so.slo) == 0 {
		return nil, bad("--slo is required: what a passing probe meets, such as --slo 'ws_rtt.p99 < 5ms'")
	}
	prec, err := threshold.ParsePercent(so.precision)
	if err != nil {
		return nil, bad("--precision %q: %v (write it as a percentage, such as 5%%)", so.precision, err)
	}
	s := &searchSetup{spec: capacity.Spec{Axis: capacity.Axis(so.vary), From: so.from, To: so.to, Precision: prec, Growth: so.growth}}
	if err := s.spec.Validate(); err != nil {
		return nil, bad("%v", err)
	}
	switch {
	case len(cfg.Thresholds) > 0:
		return nil, bad("--threshold checks one run; a search's objectives are --slo (give the same expressions)")
	case len(cfg.Topology) > 1:
		return nil, bad("--topology %s: a search finds one setup's capacity; search each topology on its own and compare the reports", strings.Join(cfg.Topology, ","))
	case cfg.Matrix != nil:
		return nil, bad("a matrix is many setups; a search finds one setup's capacity")
	case len(cfg.Stages) > 0:
		return nil, bad("stages shape the load themselves; a search varies one axis of a steady load")
	case so.cooldown < 0:
		return nil, bad("--cooldown must not be negative")
	case out.shard != "" || out.startAt != "" || out.partsDir != "" || out.dryRun:
		return nil, bad("--shard, --start-at, --parts-dir and --dry-run apply to wssbench run")
	case out.ui != nil && (out.ui.addr != "" || out.ui.linger != 0):
		return nil, bad("--ui follows one run; a search is many: watch it with --metrics-listen (each probe is a cell), or --ui on one run at the load you want to see")
	}
	for _, name := range []string{"junit", "hlog"} {
		if p := out.files.paths[name]; p != nil && *p != "" {
			return nil, bad("--%s applies to wssbench run; a search writes --out, --html and --markdown", name)
		}
	}
	mode := cfg.RunMode()
	switch s.spec.Axis {
	case capacity.MsgRate:
		if !mode.Streams() {
			return nil, bad("--vary msg-rate needs frames in a steady window, but mode %s has none: use --mode steady, or --vary connect-rate", mode)
		}
		if len(cfg.Roles) > 0 {
			return nil, bad("--vary msg-rate: with roles, each role sends at its own rate; vary conns instead")
		}
	case capacity.Conns:
		if !mode.HoldsAll() {
			return nil, bad("--vary conns: in mode %s, conns are concurrent workers, not the load; vary connect-rate instead", mode)
		}
	}
	if s.slos, err = threshold.ParseAll(so.slo); err != nil {
		return nil, &bench.InputError{Err: fmt.Errorf("--slo: %w", err)}
	}
	cfg.Thresholds = so.slo
	s.base = cfg
	// Every probe must plan: try the range's two ends before any load.
	for _, v := range []float64{s.spec.From, s.spec.To} {
		c := s.at(v)
		plan, err := c.Plan()
		if err == nil {
			_, err = bench.Layouts(plan, opt) // what this machine can hold
		}
		if err != nil {
			return nil, fmt.Errorf("at --vary %s %s: %w", so.vary, fmtValue(v), err)
		}
	}
	return s, nil
}

// at is the base config with the axis at v.
func (s *searchSetup) at(v float64) bench.Config {
	c := s.base
	switch s.spec.Axis {
	case capacity.MsgRate:
		c.MsgRate = v
	case capacity.Conns:
		c.Conns = int(math.Round(v))
	case capacity.ConnectRate:
		c.ConnectRate = v
	}
	c.Label = fmt.Sprintf("%s %s=%s", strings.TrimSpace(s.base.Label), s.spec.Axis, fmtValue(v))
	c.Label = strings.TrimSpace(c.Label)
	return c
}

// deliveredShare is how much of the offered load a passing probe must
// achieve: a load that was not delivered has not been held, whatever its
// latency.
const deliveredShare = 0.9

// judgeDelivered fails a probe that achieved less than deliveredShare of
// the load it offered.
func (s *searchSetup) judgeDelivered(p *reports.Probe) {
	achieved := p.FramesPerSec.Median
	unit := "frames/s"
	if s.spec.Axis == capacity.ConnectRate || !s.base.RunMode().Streams() {
		achieved, unit = p.HandshakesPerSec.Median, "handshakes/s"
	}
	if p.OfferedPerSec <= 0 || achieved >= deliveredShare*p.OfferedPerSec {
		return
	}
	p.Pass = false
	p.Failed = append(p.Failed, fmt.Sprintf("achieved %s %s of the %s offered: the load was not delivered", count(achieved), unit, count(p.OfferedPerSec)))
}

// offered is the load a probe at v asks for: frames/s, or handshakes/s on
// the connect-rate axis.
func (s *searchSetup) offered(v float64) float64 {
	c := s.at(v)
	if s.spec.Axis == capacity.ConnectRate || !c.RunMode().Streams() {
		return c.ConnectRate
	}
	return float64(c.Conns) * c.MsgRate
}

func fmtValue(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func cmdSearch(args []string, stdout, stderr io.Writer) int {
	cfg, so, out, code, ok := loadSearchConfig(args, stdout, stderr)
	if !ok {
		return code
	}
	exe, err := os.Executable()
	if err != nil {
		return errorCode(stderr, "search", fmt.Errorf("find the wssbench binary to start the built-in target: %w", err))
	}
	opt := bench.Options{TargetArgv: []string{exe, "serve"}, ProxyArgv: []string{exe, "proxy"}, DriveArgv: []string{exe, "drive"}, ReadMember: readMember}
	setup, err := checkSearch(cfg, so, out, opt)
	if err != nil {
		return errorCode(stderr, "search", err)
	}
	if err := out.files.checkSearch(); err != nil {
		return errorCode(stderr, "search", err)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(driverGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The probes' metrics: each probe is a cell of the exporter ("probe 3
	// direct"), so its counters start from its own zero.
	var exp *telemetry.Exporter
	if out.metrics.listen != "" {
		exp = exportRun(&cfg, &opt)
	}
	msrv, err := out.metrics.serve(ctx, stderr, "search", exp)
	if err != nil {
		return errorCode(stderr, "search", err)
	}
	defer out.metrics.lingerMetrics(ctx, msrv, stderr)
	baseProgress, baseStart := opt.Progress, opt.OnRunStart
	probeN := 0
	if baseStart != nil {
		opt.OnRunStart = func(cell string, rep, of int) { baseStart(fmt.Sprintf("probe %d %s", probeN, cell), rep, of) }
	}
	rep := &reports.SearchReport{Label: cfg.Label, StartedAt: time.Now(),
		Search: reports.Search{Vary: string(setup.spec.Axis), Unit: setup.spec.Axis.Unit(), SLO: so.slo, From: setup.spec.From, To: setup.spec.To,
			Precision: setup.spec.Precision, Repeat: cfg.Repeat}}
	probe := func(ctx context.Context, v float64) (capacity.Outcome, error) {
		n := len(rep.Search.Probes) + 1
		probeN = n
		if n > 1 {
			select {
			case <-time.After(so.cooldown):
			case <-ctx.Done():
				return capacity.Fail, ctx.Err()
			}
		}
		c := setup.at(v)
		plan, err := c.Plan()
		if err != nil {
			return capacity.Fail, err
		}
		fmt.Fprintf(stderr, "probe %d: --%s %s (%s/s offered)...\n", n, setup.spec.Axis, fmtValue(v), count(setup.offered(v)))
		var prog *progressLine
		opt.Progress = baseProgress
		if !out.quiet {
			prog = newProgressLine(stderr)
			opt.Progress = chain(prog.update, baseProgress)
		}
		series, runErr := bench.Run(ctx, plan, opt)
		if prog != nil {
			prog.done()
		}
		if ctx.Err() != nil {
			return capacity.Fail, ctx.Err() // the probe in flight is not a result
		}
		if runErr != nil {
			return capacity.Fail, runErr
		}
		runs := reports.FromSeries(series, reports.Meta{Version: Version, Commit: Commit}).Runs
		p := reports.NewProbe(v, setup.offered(v), runs, setup.slos)
		setup.judgeDelivered(&p)
		rep.Search.Probes = append(rep.Search.Probes, p)
		fmt.Fprintf(stderr, "probe %d: %s\n", n, probeLine(p))
		switch {
		case p.Saturated:
			return capacity.Limit, nil
		case p.Pass:
			return capacity.Pass, nil
		}
		return capacity.Fail, nil
	}
	res, searchErr := capacity.Search(ctx, setup.spec, probe)
	if exp != nil {
		exp.Done()
	}
	if res != nil {
		rep.Search.Stop = string(res.Stop)
	}
	rep.Partial = ctx.Err() != nil
	rep.DurationS = time.Since(rep.StartedAt).Seconds()
	rep.Build = reports.NewBuild(reports.Meta{Version: Version, Commit: Commit})
	rep.Search.SetAnswer()
	if err := out.files.writeSearch(rep, stdout, stderr); err != nil {
		return errorCode(stderr, "search", err)
	}
	switch {
	case searchErr != nil:
		return errorCode(stderr, "search", searchErr)
	case rep.Partial:
		fmt.Fprintln(stderr, "wssbench search: interrupted; the report holds the probes done so far")
		return ExitRunFailed
	case res.Stop == capacity.Knee || res.Stop == capacity.HoldsTo:
		return ExitOK
	}
	return ExitRunFailed
}

// probeLine says in one line how a probe went.
func probeLine(p reports.Probe) string {
	verdict := "pass"
	switch {
	case p.Saturated:
		verdict = "DRIVER SATURATED"
	case !p.Pass:
		verdict = "FAIL"
	}
	var slo []string
	for _, s := range p.SLO {
		mark := "ok"
		if !s.OK {
			mark = "FAIL"
		}
		slo = append(slo, fmt.Sprintf("%s %s (%s)", s.Expr, mark, threshold.Format(kindOf(s.Expr), s.Measured)))
	}
	line := fmt.Sprintf("%s: %s/s achieved; %s", verdict, count(p.FramesPerSec.Median), strings.Join(slo, "; "))
	if len(p.Failed) > 0 {
		line += "; run failed: " + strings.Join(p.Failed, "; ")
	}
	return line
}

// kindOf is the kind of an expression's metric (Latency when unknown).
func kindOf(expr string) threshold.Kind {
	t, err := threshold.Parse(expr)
	if err != nil {
		return threshold.Latency
	}
	return t.Kind
}

// count writes a figure rounded to a whole number, with thousands separators.
func count(v float64) string { return reports.Grouped(int64(math.Round(v))) }

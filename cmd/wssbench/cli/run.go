package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/telemetry"
	"github.com/wssbench/wssbench/bench/tlsconf"
	"github.com/wssbench/wssbench/reports"
	"github.com/wssbench/wssbench/scenarios"
)

// runFlags binds every run flag to a field of cfg, with cfg's values as defaults.
func runFlags(cfg *bench.Config) (*pflag.FlagSet, *runOut) {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SortFlags = false
	out := &runOut{}
	fs.StringVar(&out.scenario, "scenario", "", "scenario: a YAML file or a shipped name ("+strings.Join(scenarios.Shipped(), ", ")+"); flags override it")
	fs.StringVar(&cfg.Target, "target", cfg.Target, "ws:// or wss:// URL; empty starts the built-in echo target on loopback")
	fs.StringVar(&cfg.Mode, "mode", cfg.Mode, "steady, handshake-storm or connect-hold")
	fs.IntVarP(&cfg.Conns, "conns", "c", cfg.Conns, "connections (steady, connect-hold) or concurrent workers (handshake-storm)")
	fs.Float64Var(&cfg.ConnectRate, "connect-rate", cfg.ConnectRate, "new connections per second during the ramp; 0 = as fast as possible")
	fs.DurationVarP((*time.Duration)(&cfg.Duration), "duration", "d", time.Duration(cfg.Duration), "steady-state window after all connections are up")
	fs.Float64Var(&cfg.MsgRate, "msg-rate", cfg.MsgRate, "frames per second per connection, open loop; 0 = closed-loop ping-pong")
	fs.IntVar(&cfg.PayloadBytes, "size", cfg.PayloadBytes, "frame payload in bytes (at least 16 binary, 32 text)")
	fs.BoolVar(&cfg.Binary, "binary", cfg.Binary, "send binary frames (default text)")
	fs.StringVar(&cfg.CAFile, "ca", cfg.CAFile, "PEM file of CA certificates to trust for --target")
	fs.BoolVar(&cfg.Insecure, "insecure", cfg.Insecure, "skip certificate verification (the summary says so)")
	fs.StringVar(&cfg.ServerName, "server-name", cfg.ServerName, "TLS server name (SNI and verification), if not the URL's host")
	fs.StringArrayVarP(&cfg.Headers, "header", "H", cfg.Headers, "extra upgrade request header 'Name: value' (repeatable)")
	fs.StringSliceVar(&cfg.Subprotocols, "subprotocol", cfg.Subprotocols, "WebSocket subprotocol to offer (repeatable)")
	fs.StringVar(&cfg.SourceIPs, "source-ips", cfg.SourceIPs, "local addresses to spread connections over: 127.0.0.2-127.0.0.9 or a comma list")
	fs.DurationVar((*time.Duration)(&cfg.ConnectTimeout), "connect-timeout", time.Duration(cfg.ConnectTimeout), "bound on TCP + TLS + upgrade of one connection")
	fs.DurationVar((*time.Duration)(&cfg.FrameTimeout), "frame-timeout", time.Duration(cfg.FrameTimeout), "bound on the wait for one echo")
	fs.StringVar(&cfg.TLSMin, "tls-min", cfg.TLSMin, "lowest TLS version, 1.2 or 1.3 (client and the servers wssbench starts)")
	fs.StringVar(&cfg.TLSMax, "tls-max", cfg.TLSMax, "highest TLS version, 1.2 or 1.3")
	fs.StringSliceVar(&cfg.Ciphers, "ciphers", cfg.Ciphers, "cipher suites (IANA names); TLS 1.3 ones restrict the server side")
	fs.StringSliceVar(&cfg.Groups, "groups", cfg.Groups, "key exchange groups: "+strings.Join(tlsconf.GroupNames(), ", "))
	fs.StringVar(&cfg.Resume, "resume", cfg.Resume, "share of connections that resume a TLS session: off, on, or such as 50%")
	fs.StringVar(&cfg.ClientCert, "client-cert", cfg.ClientCert, "client certificate PEM file for mutual TLS; 'auto' issues one from the built-in target's CA")
	fs.StringVar(&cfg.ClientKey, "client-key", cfg.ClientKey, "private key PEM file for --client-cert")
	fs.StringSliceVar(&cfg.ALPN, "alpn", cfg.ALPN, "application protocols to offer (ALPN), such as http/1.1")
	fs.StringVar(&cfg.CertKey, "cert-key", cfg.CertKey, "key type of the built-in target's certificate: "+strings.Join(tlsconf.KeyTypes(), ", "))
	fs.IntVar(&cfg.ChainLength, "chain-length", cfg.ChainLength, "intermediate CAs in the built-in target's certificate chain")
	fs.StringVar(&cfg.Engine, "engine", cfg.Engine, "how connections run once up: "+strings.Join(bench.Engines(), " or ")+" (event loops, one per core; or a goroutine each)")
	fs.DurationVar((*time.Duration)(&cfg.TimerSlack), "timer-slack", time.Duration(cfg.TimerSlack), "loops engine: wake for sends on a grid of this step, batching them (0: each frame at its own due time; lateness is send_lag)")
	fs.Var((*procsValue)(&cfg.Procs), "procs", "driver processes sharing the load: auto (as many as the open-file limit needs) or a number")
	fs.Var((*procsValue)(&cfg.TargetProcs), "target-procs", "built-in target processes on one port (SO_REUSEPORT): auto or a number")
	fs.StringVar(&out.shard, "shard", "", "run shard I of N of a run split over machines, such as 2/4; auto reads JOB_COMPLETION_INDEX and WSSBENCH_SHARDS (a Kubernetes Indexed Job)")
	fs.StringVar(&out.startAt, "start-at", "", "with --shard: wall-clock time (RFC 3339) at which every shard starts its load, such as 2026-12-01T10:00:00Z")
	fs.StringVar(&out.partsDir, "parts-dir", "", "with several driver processes: also keep each one's own JSON report in this folder (member-I.json)")
	fs.BoolVar(&out.dryRun, "dry-run", false, "plan the run, print its layout and check the outputs, then exit without sending load")
	addWorkloadFlags(fs, cfg)
	fs.StringVar(&cfg.Label, "label", cfg.Label, "name of the run in reports")
	fs.StringSliceVar(&cfg.Topology, "topology", cfg.Topology, "who terminates TLS in front of the built-in target: "+strings.Join(bench.Topologies(), ", ")+"; several make a comparison")
	fs.IntVar(&cfg.Repeat, "repeat", cfg.Repeat, "run each topology this many times, interleaved (A B C A B C)")
	fs.DurationVar((*time.Duration)(&cfg.ProxyDelay), "delay", time.Duration(cfg.ProxyDelay), "one-way delay the builtin proxy adds in each direction (emulates a network round trip)")
	fs.StringArrayVar(&cfg.Thresholds, "threshold", cfg.Thresholds, "pass/fail expression checked after the run, such as 'ws_rtt.p99 < 5ms' or 'delivery.p99[role=subscribers] < 10ms' ([stage=NAME] or [role=NAME] narrows it; repeatable; replaces the scenario's; a failure exits 3)")
	out.files = addOutputFlags(fs)
	out.metrics = addMetricsFlags(fs, true)
	fs.BoolVarP(&out.quiet, "quiet", "q", false, "no progress line")
	out.ui = addUIFlags(fs)
	fs.StringVar(&out.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the driver to this file (for the driver's own hot spots)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `wssbench run: one benchmark run

Opens --conns TLS WebSocket connections at --connect-rate, timing TCP, TLS and
upgrade of each; once all are up, exchanges echo frames for --duration and
measures their round trip; then closes every connection with a close frame.
Without --target it starts the built-in echo target in a child process on
loopback, with a fresh self-signed ECDSA certificate that the driver trusts.
Ctrl-C stops the run and still prints (and writes) a partial report.

Usage:
  wssbench run [--target URL] [flags]

Examples:
  wssbench run
  wssbench run --conns 5000 --connect-rate 1000 --duration 10s --msg-rate 2 --out out/r.json
  wssbench run --msg-rate 0 --conns 50 --size 1024 --binary      closed-loop ping-pong
  wssbench run --scenario handshake-storm
  wssbench run --tls-max 1.2 --ciphers TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 --groups P-256
  wssbench run --mode handshake-storm --resume 50%% --cert-key rsa2048
  wssbench run --scenario tls-matrix --out out/matrix.json      every combination, side by side
  wssbench run --threshold 'ws_rtt.p99 < 5ms' --threshold 'errors.rate < 0.1%%' --junit out/junit.xml
  wssbench run --conns 200 --duration 5s --html out/r.html --markdown out/r.md --hlog out/r.hlog
  wssbench run --target wss://127.0.0.1:8443/ --ca ca.pem --conns 10000 --source-ips 127.0.0.2-127.0.0.3
  wssbench run --mode connect-hold --conns 9000 --engine goroutines     the other engine, for comparison
  wssbench run --mode connect-hold --conns 100000 --duration 30s        split over driver and target processes
  wssbench run --procs 2 --conns 2000 --msg-rate 10                     two driver processes, merged exactly
  wssbench run --target wss://10.0.0.5:8443/ --ca ca.pem --shard 2/4 --start-at 2026-12-01T10:00:00Z --out shard-2.json
  wssbench run --mode connect-hold --conns 100000 --dry-run             print the plan only
  wssbench run --duration 5m --metrics-listen 127.0.0.1:9464 --metrics-linger 30s   watch it in Prometheus
  wssbench run --scenario chat-fanout                                   rooms of 100, 1%% publishing: delivery latency and reach
  wssbench run --scenario push-stream --topology direct,nginx           the server pushes; one-way latency through each
  wssbench run --stages ramp=20s:5000,peak=30s:5000:20,down=10s:0       a staged run, one row per stage
  wssbench run --conns 5000 --duration 40s --storm 50%%@10s~2s           cut half, reconnect with jitter: time back to full
  wssbench run --latency reply:id --send '{"id":{{seq}}}' --target wss://127.0.0.1:9000/ --ca ca.pem

Flags:
%s`, fs.FlagUsages())
	}
	return fs, out
}

type runOut struct {
	scenario string
	quiet    bool
	// shard and startAt place the run in a run split over machines; dryRun
	// stops after the plan.
	shard, startAt, partsDir string
	dryRun                   bool
	// cpuProfile is a pprof output path for the driver process.
	cpuProfile string
	// files are the report files: --out, --html, --markdown, --junit, --hlog.
	files *outputs
	// ui is --ui and --ui-linger: the live page.
	ui *uiFlags
	// metrics is --metrics-listen and --metrics-linger.
	metrics *metricsFlags
}

// loadRunConfig parses args over the scenario (if any) or the defaults: a flag
// overrides the scenario only when the user set it.
func loadRunConfig(args []string, stdout, stderr io.Writer) (bench.Config, *runOut, int, bool) {
	cfg := bench.Default()
	fs, out := runFlags(&cfg)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return cfg, out, code, false
	}
	if out.scenario == "" {
		return cfg, out, 0, true
	}
	sc, err := scenarios.Load(out.scenario)
	if err != nil {
		return cfg, out, errorCode(stderr, "run", err), false
	}
	fs2, out2 := runFlags(&sc)
	if code, ok := parseFlags(fs2, args, stdout, stderr); !ok {
		return sc, out2, code, false
	}
	return sc, out2, 0, true
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	cfg, out, code, ok := loadRunConfig(args, stdout, stderr)
	if !ok {
		return code
	}
	plan, err := cfg.Plan()
	if err != nil {
		return errorCode(stderr, "run", err)
	}
	if err := out.files.check(plannedRuns(plan), plan.Single()); err != nil {
		return errorCode(stderr, "run", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return errorCode(stderr, "run", fmt.Errorf("find the wssbench binary to start the built-in target: %w", err))
	}
	opt := bench.Options{TargetArgv: []string{exe, "serve"}, ProxyArgv: []string{exe, "proxy"}, DriveArgv: []string{exe, "drive"}, ReadMember: readMember}
	if opt.Shard, err = out.parseShard(); err != nil {
		return errorCode(stderr, "run", err)
	}
	if opt.PartsDir = out.partsDir; opt.PartsDir != "" {
		if st, err := os.Stat(opt.PartsDir); err != nil || !st.IsDir() {
			return errorCode(stderr, "run", &bench.InputError{Err: fmt.Errorf("--parts-dir %s is not a folder: make it first", opt.PartsDir)})
		}
	}
	if out.dryRun {
		return dryRun(plan, opt, stdout, stderr)
	}
	if out.cpuProfile != "" {
		if err := checkWritable(out.cpuProfile); err != nil {
			return errorCode(stderr, "run", &bench.InputError{Err: fmt.Errorf("--cpuprofile: %w", err)})
		}
		f, err := os.Create(out.cpuProfile)
		if err != nil {
			return errorCode(stderr, "run", &bench.InputError{Err: fmt.Errorf("--cpuprofile: %w", err)})
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return errorCode(stderr, "run", err)
		}
		defer pprof.StopCPUProfile()
	}
	if os.Getenv("GOGC") == "" {
		// The driver's heap is mostly connections that live for the whole
		// run, and each handshake leaves garbage behind: collecting at 50%
		// growth instead of 100% keeps its peak near what it holds (11.1 ->
		// 9.3 KiB per idle connection, measured) for a little GC CPU in the
		// ramp. GOGC in the environment overrides it; the report records it.
		debug.SetGCPercent(driverGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opt.OnLayout = func(cell string, l bench.Layout) { fmt.Fprintf(stderr, "plan: %s\n", l) }
	opt.OnWait = func(until time.Time) {
		fmt.Fprintf(stderr, "shard %s: waiting %v for --start-at %s\n", opt.Shard, time.Until(until).Round(time.Millisecond), until.Format(time.RFC3339Nano))
	}
	var prog *progressLine
	if !out.quiet {
		prog = newProgressLine(stderr)
		opt.Progress = prog.update
	}
	if !plan.Single() {
		opt.OnRunStart = func(cell string, rep, of int) {
			if prog != nil {
				prog.done()
			}
			fmt.Fprintf(stderr, "run: %s (%d of %d)\n", cell, rep, of)
		}
	}
	page, err := startUI(out.ui, cfg, &opt, stderr)
	if err != nil {
		return errorCode(stderr, "run", err)
	}
	defer page.finish(ctx)
	// After the progress line, the run-start message and the page are set:
	// the exporter goes first and then calls them.
	var exp *telemetry.Exporter
	if out.metrics.listen != "" {
		exp = exportRun(&cfg, &opt)
	}
	msrv, err := out.metrics.serve(ctx, stderr, "run", exp)
	if err != nil {
		return errorCode(stderr, "run", err)
	}
	// Deferred: the report is written first, then the endpoint lingers.
	defer out.metrics.lingerMetrics(ctx, msrv, stderr)
	series, runErr := bench.Run(ctx, plan, opt)
	if prog != nil {
		prog.done()
	}
	if exp != nil {
		exp.Done()
	}
	if bench.IsInputError(runErr) {
		// Found before any load: nothing ran.
		return errorCode(stderr, "run", runErr)
	}
	rep := reports.FromSeries(series, reports.Meta{Version: Version, Commit: Commit})
	page.show(rep)
	if err := out.files.write(rep, stdout, stderr); err != nil {
		return errorCode(stderr, "run", err)
	}
	if runErr != nil {
		return errorCode(stderr, "run", runErr)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "wssbench run: interrupted; the report holds what ran")
		return ExitRunFailed
	}
	return gate(stderr, rep)
}

// driverGCPercent is the GC percent of a run's driver process when GOGC is unset.
const driverGCPercent = 50

// plannedRuns names the runs a plan will make, for the files written per run.
func plannedRuns(p *bench.Plan) []reports.RunID {
	var out []reports.RunID
	for r := 1; r <= p.Repeat; r++ {
		for _, c := range p.Runnable() {
			out = append(out, reports.RunID{Cell: c.Name, Repetition: r})
		}
	}
	return out
}

// parseShard reads --shard and --start-at.
func (o *runOut) parseShard() (*bench.Shard, error) {
	if o.shard == "" {
		if o.startAt != "" {
			return nil, &bench.InputError{Err: fmt.Errorf("--start-at applies to a shard: add --shard I/N")}
		}
		return nil, nil
	}
	var sh *bench.Shard
	var err error
	if o.shard == "auto" {
		sh, err = bench.ShardFromEnv(os.Getenv)
	} else {
		sh, err = bench.ParseShard(o.shard)
	}
	if err != nil {
		return nil, err
	}
	if o.startAt != "" {
		if sh.StartAt, err = time.Parse(time.RFC3339Nano, o.startAt); err != nil {
			return nil, &bench.InputError{Err: fmt.Errorf("--start-at %q is not an RFC 3339 time such as 2026-12-01T10:00:00Z", o.startAt)}
		}
	}
	return sh, nil
}

// dryRun prints the plan's layout on this machine and exits: 0 when it can run.
func dryRun(plan *bench.Plan, opt bench.Options, stdout, stderr io.Writer) int {
	layouts, err := bench.Layouts(plan, opt)
	if err != nil {
		return errorCode(stderr, "run", err)
	}
	for _, c := range plan.Cells {
		if c.Invalid != nil {
			fmt.Fprintf(stdout, "%s: not run: %v\n", c.Name, c.Invalid)
			continue
		}
		l := layouts[c]
		fmt.Fprintf(stdout, "%s: %s\n", c.Name, l)
		for _, w := range l.Warnings {
			fmt.Fprintf(stdout, "  warning: %s\n", w)
		}
	}
	if opt.Shard != nil {
		at := "at once"
		if !opt.Shard.StartAt.IsZero() {
			at = "at " + opt.Shard.StartAt.Format(time.RFC3339Nano)
		}
		fmt.Fprintf(stdout, "shard %s, starting %s\n", opt.Shard, at)
	}
	fmt.Fprintln(stdout, "dry run: no load was sent")
	return ExitOK
}

// procsValue is a process count flag: "auto" (0) or a positive number.
type procsValue int

func (p *procsValue) String() string {
	if *p == 0 {
		return "auto"
	}
	return strconv.Itoa(int(*p))
}

func (p *procsValue) Set(s string) error {
	if s == "auto" {
		*p = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 256 {
		return fmt.Errorf("want auto or a number from 1 to 256, not %q", s)
	}
	*p = procsValue(n)
	return nil
}

func (p *procsValue) Type() string { return "auto|N" }

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/env"
	"github.com/wssbench/wssbench/bench/fleet"
)

// memberGrace is how long a driver process may take to close its
// connections and write its result after a Ctrl-C.
const memberGrace = 20 * time.Second

// startLead is how far ahead of now the parent sets the members' common
// start time, so each has read it before it comes.
const startLead = 50 * time.Millisecond

// MemberSpec is what the parent of a split run gives one driver process, as
// a JSON file: the config of its share, ready to run against the parent's
// target, and where to write its result.
type MemberSpec struct {
	// Config is the member's config: one cell, its share of the connections
	// and of the connect rate, the target (the parent's, when built-in) and
	// the CA to trust.
	Config Config `json:"config"`
	// Result is the path the member writes its result to.
	Result string `json:"result"`
	// Interval is how often it collects histograms and reports progress.
	Interval time.Duration `json:"interval"`
}

// ReadMemberSpec reads the spec file the parent of a split run wrote.
func ReadMemberSpec(path string) (*MemberSpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s MemberSpec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// runSplit runs one cell over lay.Drivers driver processes: it starts the
// servers (for the built-in target), then the members, each with its share;
// starts them together; relays their progress; and merges what they
// measured with what it measured of the servers. A member that dies costs
// only its own share: the others' figures are merged and the verdict names it.
func runSplit(ctx context.Context, cell *Cell, rep int, lay Layout, opt Options) (*Result, error) {
	cfg := &cell.Config
	if cfg.Storm != nil && cfg.Storm.RestartTarget {
		return nil, inputErr("storm: restart_target is not run over several driver processes yet (this run needs %d): use drop, or fewer connections", lay.Drivers)
	}
	res := &Result{Config: *cfg, Cell: cell, Repetition: rep, Topology: cell.Topology, StartedAt: time.Now(), Layout: lay}
	dir, err := env.MakeRunDir()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	base := *cfg
	base.Procs, base.TargetProcs, base.Thresholds, base.Repeat, base.Matrix = 1, 0, nil, 1, nil
	base.SourceIPs = ipRange(lay.SourceIPs)
	servers, err := startServers(ctx, cell, opt, lay, res)
	if err != nil {
		return nil, err
	}
	if servers != nil {
		defer servers.Stop()
		if err := memberTarget(&base, servers, dir); err != nil {
			return nil, err
		}
	}
	served := newServerCPU(servers)
	onPhase := func(name string, _ time.Time) { served.mark(name, -1) }
	members, results, err := memberSpecs(base, lay, opt, dir)
	if err != nil {
		return nil, err
	}
	f, err := fleet.Start(ctx, members, onPhase)
	if err != nil {
		return nil, fmt.Errorf("start the driver processes: %w", err)
	}
	if err := awaitStart(ctx, opt, res); err != nil {
		f.Kill()
		return nil, err
	}
	stopProgress := relayProgress(f, lay.Conns, opt, res.StartedAt)
	f.Go(time.Now().Add(startLead))
	outcomes := f.Wait(ctx, memberGrace)
	onPhase(driver.PhaseDone, time.Now())
	stopProgress()

	var parts []*Result
	var names, failures []string
	for i, o := range outcomes {
		if opt.PartsDir != "" {
			keepPart(results[i], opt.PartsDir, &res.Warnings)
		}
		part, rerr := opt.ReadMember(results[i])
		switch {
		case rerr != nil && o.Err == nil:
			failures = append(failures, fmt.Sprintf("%s (pid %d) wrote no result (%v): its connections are not in the report", o.Name, o.PID, rerr))
		case rerr != nil:
			failures = append(failures, o.Describe()+": its connections are not in the report")
		case o.Err != nil:
			failures = append(failures, o.Describe())
		}
		if rerr == nil {
			parts = append(parts, part)
			names = append(names, o.Name)
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("no driver process wrote a result: %s", strings.Join(failures, "; "))
	}
	m := mergeParts(cell, parts)
	res.Stats, res.Histograms, res.Timeline, res.Intervals, res.Clipped = m.Stats, m.Histograms, m.Timeline, m.Intervals, m.Clipped
	res.Roles, res.Reach, res.Stages, res.Storm = m.Roles, m.Reach, m.Stages, m.Storm
	res.TargetURL = m.TargetURL
	res.Memory = Memory{DriverBaselineRSS: m.Memory.DriverBaselineRSS, DriverPeakRSS: m.Memory.DriverPeakRSS,
		DriverHeapInUse: m.Memory.DriverHeapInUse, DriverStackInUse: m.Memory.DriverStackInUse}
	res.Warnings = appendNew(res.Warnings, m.Warnings...)
	res.ChildFailures = append(m.ChildFailures, failures...)
	if ctx.Err() != nil {
		res.Stats.Interrupted = true
	}
	res.Elapsed = time.Since(res.StartedAt)
	served.readMemory(res)
	if servers != nil {
		stopServers(servers, res)
	}
	sc := served.phases(cfg.RunMode())
	res.CPU = CPU{Driver: m.CPU.Driver, DriverByPhase: m.CPU.DriverByPhase,
		Target: sc.Target, TargetByPhase: sc.TargetByPhase, Proxy: sc.Proxy, ProxyByPhase: sc.ProxyByPhase}
	res.Health = mergedHealth(res, parts, names, runtime.NumCPU())
	res.Processes = append(m.Processes, served.processes()...)
	return res, nil
}

// memberTarget points a member's config at the parent's built-in target:
// its URL, its CA (written into dir) and, for mutual TLS, a client
// certificate from its chain.
func memberTarget(c *Config, servers *env.Env, dir string) error {
	c.Target, c.ServerName, c.Topology, c.ProxyDelay, c.CertKey, c.ChainLength = servers.URL(), "localhost", nil, 0, "", 0
	// The parent's target already holds the rooms or pushes; their reach
	// is taken by the parent, from the target's count.
	c.Rooms, c.PushRate = 0, 0
	u, err := ParseTarget(c.Target)
	if err != nil {
		return err
	}
	if u.Scheme != "wss" {
		return nil
	}
	c.CAFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(c.CAFile, servers.Chain().CAPEM, 0o644); err != nil {
		return err
	}
	if c.ClientCert == ClientCertAuto {
		if c.ClientCert, c.ClientKey, err = servers.Chain().WriteClientFiles(dir); err != nil {
			return err
		}
	}
	return nil
}

// memberSpecs writes each member's spec file and returns the members to
// start and the paths of their results.
func memberSpecs(base Config, lay Layout, opt Options, dir string) ([]fleet.Member, []string, error) {
	n := lay.Drivers
	// Each member runs loops (or handshakes) on its own share of the cores.
	procs := max(1, runtime.NumCPU()/n)
	var members []fleet.Member
	var results []string
	for i := 1; i <= n; i++ {
		c := base
		c.Conns = partShare(lay.Conns, i, n)
		c.ConnectRate = base.ConnectRate * float64(c.Conns) / float64(lay.Conns)
		shareWorkload(&c, base, i, n)
		spec := MemberSpec{Config: c, Result: filepath.Join(dir, fmt.Sprintf("member-%d.json", i)), Interval: opt.Interval}
		b, err := json.Marshal(spec)
		if err != nil {
			return nil, nil, err
		}
		path := filepath.Join(dir, fmt.Sprintf("member-%d.spec.json", i))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, nil, err
		}
		members = append(members, fleet.Member{Name: memberName(i, n), Argv: append(append([]string{}, opt.DriveArgv...), path),
			Env: []string{"GOMAXPROCS=" + strconv.Itoa(procs)}})
		results = append(results, spec.Result)
	}
	return members, results, nil
}

// shareWorkload gives member i of n its share of what the workload counts
// in connections: each stage's target and connect rate, each role's count
// (a role whose count leaves it none here is left out of this member).
func shareWorkload(c *Config, base Config, i, n int) {
	if len(base.Stages) > 0 {
		c.Stages = make([]Stage, len(base.Stages))
		for k, st := range base.Stages {
			share := partShare(st.Conns, i, n)
			if st.Conns > 0 && st.ConnectRate > 0 {
				st.ConnectRate *= float64(share) / float64(st.Conns)
			}
			st.Conns = share
			c.Stages[k] = st
		}
	}
	c.Roles = nil
	for _, r := range base.Roles {
		if r.Count > 0 {
			if r.Count = partShare(r.Count, i, n); r.Count == 0 {
				continue
			}
		}
		c.Roles = append(c.Roles, r)
	}
}

func memberName(i, n int) string { return fmt.Sprintf("driver process %d of %d", i, n) }

// relayProgress reports the members' summed progress, and their interval
// histograms added up, every interval until stopped.
func relayProgress(f *fleet.Fleet, conns int, opt Options, start time.Time) func() {
	if opt.Progress == nil && opt.OnInterval == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(opt.Interval)
		defer t.Stop()
		var prev driver.Progress
		prevAt := time.Now()
		for {
			select {
			case now := <-t.C:
				if opt.OnInterval != nil {
					opt.OnInterval(f.TakeInterval())
				}
				p := f.Progress()
				fps := float64(p.FramesReceived-prev.FramesReceived) / now.Sub(prevAt).Seconds()
				if opt.Progress != nil {
					opt.Progress(Progress{Progress: p, Target: conns, Elapsed: time.Since(start), FramesPerSec: fps})
				}
				prev, prevAt = p, now
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		// The members' last lines (their final collection) are in: relay them.
		if opt.OnInterval != nil {
			opt.OnInterval(f.TakeInterval())
		}
		if opt.Progress != nil {
			opt.Progress(Progress{Progress: f.Progress(), Target: conns, Elapsed: time.Since(start)})
		}
	}
}

// appendNew appends the items of add not already in list.
func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		if !contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

// keepPart copies a member's result file into dir.
func keepPart(path, dir string, warnings *[]string) {
	b, err := os.ReadFile(path)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, filepath.Base(path)), b, 0o644)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		*warnings = append(*warnings, fmt.Sprintf("--parts-dir: %v", err))
	}
}

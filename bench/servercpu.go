package bench

import (
	"sync"
	"time"

	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/env"
	"github.com/wssbench/wssbench/bench/proc"
)

// The roles of a run's processes (Process.Role).
const (
	RoleDriver = "driver"
	RoleTarget = "target"
	RoleProxy  = "proxy"
)

// serverCPU takes CPU readings of the driver and of the servers a run
// started at each phase mark, and their memory at the end, for the run's
// per-phase and per-process figures.
type serverCPU struct {
	targets []int
	proxy   int
	// proxyBase is the proxy's RSS at the connect mark, before the first connection.
	proxyBase int64

	mu sync.Mutex
	// marks holds, by phase, the driver's, the targets' (summed) and the
	// proxy's CPU; -1 is a process that could not be read (it died).
	marks map[string][3]time.Duration
	// perTarget holds each target's CPU at the connect and done marks.
	perTarget map[string][]time.Duration
	targetRSS []int64
	proxyRSS  int64
}

// newServerCPU reads the servers' processes (none when servers is nil, or
// when they run inside this process).
func newServerCPU(servers *env.Env) *serverCPU {
	s := &serverCPU{marks: map[string][3]time.Duration{}, perTarget: map[string][]time.Duration{}}
	if servers != nil {
		s.targets, s.proxy = servers.TargetPIDs(), servers.ProxyPID()
	}
	return s
}

// mark records the readings at the start of phase name; driverCPU is the
// driver's CPU so far (-1 when the driver's CPU is measured elsewhere).
func (s *serverCPU) mark(name string, driverCPU time.Duration) {
	// No target of ours, or one that could not be read, leaves the sum unknown.
	t, p := time.Duration(-1), time.Duration(-1)
	each := make([]time.Duration, len(s.targets))
	if len(s.targets) > 0 {
		t = 0
	}
	for i, pid := range s.targets {
		v, err := proc.TreeCPU(pid)
		if err != nil {
			each[i], t = -1, -1
			continue
		}
		each[i] = v
		if t >= 0 {
			t += v
		}
	}
	if s.proxy > 0 {
		if v, err := proc.TreeCPU(s.proxy); err == nil {
			p = v
		}
		if name == driver.PhaseConnect {
			// Before the first connection: the proxy's own footprint.
			if rss, err := proc.TreePeakRSS(s.proxy); err == nil {
				s.proxyBase = rss
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.marks[name] = [3]time.Duration{driverCPU, t, p}
	s.perTarget[name] = each
}

// phases turns the readings into per-phase figures.
func (s *serverCPU) phases(mode driver.Mode) CPU {
	s.mu.Lock()
	defer s.mu.Unlock()
	return phaseCPU(s.marks, mode)
}

// readMemory reads the servers' peak memory into res (before they stop).
func (s *serverCPU) readMemory(res *Result) {
	s.targetRSS = make([]int64, len(s.targets))
	for i, pid := range s.targets {
		if m, err := proc.ReadMemory(pid); err == nil {
			s.targetRSS[i] = m.Peak
			res.Memory.TargetPeakRSS += m.Peak
		}
	}
	if s.proxy > 0 {
		// Summed over nginx's master and workers.
		if rss, err := proc.TreePeakRSS(s.proxy); err == nil {
			res.Memory.ProxyPeakRSS, s.proxyRSS = rss, rss
		}
		res.Memory.ProxyBaselineRSS = s.proxyBase
	}
}

// processes are the servers' per-process figures.
func (s *serverCPU) processes() []Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Process
	from, to := s.perTarget[driver.PhaseConnect], s.perTarget[driver.PhaseDone]
	for i, pid := range s.targets {
		p := Process{Role: RoleTarget, Index: i + 1, PID: pid}
		if i < len(from) && i < len(to) && from[i] >= 0 && to[i] >= from[i] {
			p.CPU = to[i] - from[i]
		}
		if i < len(s.targetRSS) {
			p.PeakRSS = s.targetRSS[i]
		}
		out = append(out, p)
	}
	if s.proxy > 0 {
		p := Process{Role: RoleProxy, Index: 1, PID: s.proxy, PeakRSS: s.proxyRSS}
		a, b := s.marks[driver.PhaseConnect], s.marks[driver.PhaseDone]
		if a[2] >= 0 && b[2] >= a[2] {
			p.CPU = b[2] - a[2]
		}
		out = append(out, p)
	}
	return out
}

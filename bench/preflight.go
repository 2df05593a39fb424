package bench

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wssbench/wssbench/bench/driver"
)

// fdMargin is the open files a process needs besides its sockets.
const fdMargin = 64

// Estimates of resident memory per connection, for the preflight's memory
// check only (the report measures what a run really used): the loops
// engine's driver holds 9.3 KiB per idle TLS connection, the goroutines
// engine 15; the built-in target (a goroutine, a TLS server connection and
// its buffers per connection) about 30. Rounded up, so a refusal is never
// a run that would have fit.
const (
	driverLoopsBytesPerConn      = 16 << 10
	driverGoroutinesBytesPerConn = 24 << 10
	targetBytesPerConn           = 40 << 10
)

// Limits are the resource limits a run is checked against.
type Limits struct {
	// OpenFiles is the soft RLIMIT_NOFILE of this process (each child gets the same).
	OpenFiles uint64
	// PortLow and PortHigh bound the ephemeral port range.
	PortLow, PortHigh int
	// MemAvailable is the kernel's estimate of memory available for new
	// work, in bytes (0: unknown, not checked).
	MemAvailable int64
	// Cores is the number of CPUs this process may run on.
	Cores int
}

// ReadLimits reads the open-file limit, the ephemeral port range, the
// available memory and the cores.
func ReadLimits() Limits {
	l := Limits{PortLow: 32768, PortHigh: 60999, Cores: runtime.NumCPU()}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		l.OpenFiles = rl.Cur
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		// A malformed file keeps the kernel's default range.
		_, _ = fmt.Sscan(strings.TrimSpace(string(b)), &l.PortLow, &l.PortHigh)
	}
	l.MemAvailable = memAvailable()
	return l
}

// memAvailable reads MemAvailable from /proc/meminfo, in bytes; 0 when unknown.
func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// perProcess is the sockets one process may hold.
func (l Limits) perProcess() int {
	if l.OpenFiles == 0 || l.OpenFiles > 1<<30 {
		return 1 << 30
	}
	return int(l.OpenFiles) - fdMargin
}

// ports is the size of the ephemeral port range.
func (l Limits) ports() int { return l.PortHigh - l.PortLow + 1 }

// Layout is how a cell's run is laid out on this machine: how many driver
// and target processes share it and which local addresses its connections
// leave from. A run the machine cannot hold has no layout: the preflight
// says what to change.
type Layout struct {
	// Conns is this machine's share of the connections (all of them unless
	// the run is a shard).
	Conns int
	// Drivers is the number of driver processes (1: this process drives).
	Drivers int
	// Targets is the number of built-in target processes (0: the target is
	// not wssbench's, or it runs inside this process).
	Targets int
	// SourceIPs are the local addresses connections leave from (none: the
	// kernel picks); AutoSources is set when wssbench chose them.
	SourceIPs   []net.IP
	AutoSources bool
	// Warnings are what the user should know about the layout.
	Warnings []string
}

// Split reports whether the run is spread over several driver processes.
func (l Layout) Split() bool { return l.Drivers > 1 }

// String describes the layout in one line, such as "100000 connections
// over 6 driver processes (16667 each), 6 target processes, from
// 127.0.0.2-127.0.0.5 (25000 each)".
func (l Layout) String() string {
	s := fmt.Sprintf("%d connections", l.Conns)
	if l.Drivers > 1 {
		s += fmt.Sprintf(" over %d driver processes (%d each)", l.Drivers, ceilDiv(l.Conns, l.Drivers))
	} else {
		s += " from one driver process"
	}
	switch {
	case l.Targets > 1:
		s += fmt.Sprintf(", %d built-in target processes on one port", l.Targets)
	case l.Targets == 1:
		s += ", one built-in target process"
	}
	if n := len(l.SourceIPs); n > 0 {
		how := ""
		if l.AutoSources {
			how = " (chosen: one address's ports cannot hold them)"
		}
		s += fmt.Sprintf(", from %d source addresses %s, %d each%s", n, ipRange(l.SourceIPs), ceilDiv(l.Conns, n), how)
	}
	return s
}

// ipRange writes addresses as FIRST-LAST when they are consecutive IPv4
// addresses, else as a comma list.
func ipRange(ips []net.IP) string {
	consecutive := true
	for i := 1; i < len(ips); i++ {
		a, b := ips[i-1].To4(), ips[i].To4()
		if a == nil || b == nil || ipToUint(b) != ipToUint(a)+1 {
			consecutive = false
			break
		}
	}
	if consecutive && len(ips) > 1 {
		return ips[0].String() + "-" + ips[len(ips)-1].String()
	}
	parts := make([]string, len(ips))
	for i, ip := range ips {
		parts[i] = ip.String()
	}
	return strings.Join(parts, ",")
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Layout plans the cell's run on a machine with these limits, or refuses,
// before any load, a run the machine cannot hold (open files, ephemeral
// ports, memory), saying what to change. With opt.Shard it plans this
// machine's share. Driver processes beyond this one need opt.DriveArgv, and
// target processes beyond one need opt.TargetArgv.
func (cell *Cell) Layout(l Limits, opt Options) (Layout, error) {
	c := &cell.Config
	lay := Layout{Conns: c.Conns, Drivers: 1, SourceIPs: cell.Driver.SourceIPs}
	if opt.Shard != nil {
		lay.Conns = opt.Shard.share(c.Conns)
		if lay.Conns < 1 {
			return lay, inputErr("--shard %s of --conns %d holds no connection: use at most %d shards", opt.Shard, c.Conns, c.Conns)
		}
	}
	per := l.perProcess()
	builtinTarget := c.Target == ""
	inProcTarget := builtinTarget && len(opt.TargetArgv) == 0
	member := opt.Member != nil
	switch {
	case member:
		// A member of a fleet is one share already.
	case c.Procs > 0:
		lay.Drivers = c.Procs
		if c.Procs > lay.Conns {
			return lay, inputErr("--procs %d is more than the %d connections: each driver process needs one at least", c.Procs, lay.Conns)
		}
		if need := ceilDiv(lay.Conns, c.Procs); need > per {
			return lay, inputErr("--procs %d gives each driver process %d connections, but a process may open %d files here (ulimit -n): use --procs %d or more, or --procs auto",
				c.Procs, need, l.OpenFiles, ceilDiv(lay.Conns, per))
		}
		if l.Cores > 0 && c.Procs > l.Cores {
			lay.Warnings = append(lay.Warnings, fmt.Sprintf("--procs %d is more than the %d cores: the driver processes share them and the generator may saturate (the verdict says when it did)", c.Procs, l.Cores))
		}
	default:
		lay.Drivers = ceilDiv(lay.Conns, per)
		if inProcTarget && lay.Drivers == 1 && 2*lay.Conns > per {
			return lay, inputErr("--conns %d needs about %d open files for the driver and the in-process target, but this process may open %d (ulimit -n): lower --conns to %d or less, or split the load over several driver processes",
				lay.Conns, 2*lay.Conns+fdMargin, l.OpenFiles, per/2)
		}
	}
	if lay.Drivers > 1 && len(opt.DriveArgv) == 0 {
		return lay, inputErr("--conns %d needs about %d open files, but this process may open %d (ulimit -n): lower --conns to %d or less, or split the load over several driver processes (the wssbench command does, with --procs)",
			lay.Conns, lay.Conns+fdMargin, l.OpenFiles, per)
	}
	if builtinTarget && !member {
		if err := cell.layoutTargets(&lay, per, opt); err != nil {
			return lay, err
		}
	}
	if err := cell.layoutSources(&lay, l); err != nil {
		return lay, err
	}
	if err := cell.checkMemory(lay, l); err != nil {
		return lay, err
	}
	return lay, nil
}

// layoutTargets decides how many built-in target processes hold the run.
// The kernel spreads connections over processes that share a port by a hash,
// not evenly: each is planned at 90% of what it may hold.
func (cell *Cell) layoutTargets(lay *Layout, per int, opt Options) error {
	c := &cell.Config
	inProc := len(opt.TargetArgv) == 0
	perTarget := per * 9 / 10
	switch {
	case c.TargetProcs > 0:
		lay.Targets = c.TargetProcs
		if ceilDiv(lay.Conns, c.TargetProcs) > perTarget {
			return inputErr("--target-procs %d gives each built-in target process about %d connections, more than the %d one may hold here (ulimit -n, with room for the kernel's uneven spread): use --target-procs %d or more, or leave it out",
				c.TargetProcs, ceilDiv(lay.Conns, c.TargetProcs), perTarget, ceilDiv(lay.Conns, perTarget))
		}
	case lay.Drivers == 1 && inProc:
		lay.Targets = 0
	default:
		lay.Targets = max(1, ceilDiv(lay.Conns, perTarget))
		if lay.Targets == 1 && lay.Conns > per {
			lay.Targets = 2
		}
	}
	if lay.Targets > 1 && inProc {
		return inputErr("%d built-in target processes are needed, but the target runs inside this process here: start the wssbench command", lay.Targets)
	}
	if lay.Targets > 1 && c.Rooms > 0 {
		// SO_REUSEPORT spreads connections over the processes: each would
		// hold rooms of its own, and a room's members would be split.
		return inputErr("rooms live in one target process, which holds about %d connections here (ulimit -n), but this run needs %d target processes: lower --conns, or shard the run over machines", per, lay.Targets)
	}
	if cell.Topology != TopologyDirect && 2*lay.Conns > per {
		return inputErr("topology %s is one proxy process holding two sockets per connection, so at most %d connections here (ulimit -n %d): lower --conns, or use --topology direct with several target processes",
			cell.Topology, per/2, per+fdMargin)
	}
	return nil
}

// layoutSources checks the ephemeral ports of each source address, and
// chooses source addresses in 127.0.0.0/8 for a loopback target when one
// address's ports cannot hold the run and none were given.
func (cell *Cell) layoutSources(lay *Layout, l Limits) error {
	c := &cell.Config
	if !c.RunMode().HoldsAll() {
		// In a handshake storm closed connections linger in TIME_WAIT; only
		// the steady and hold modes hold every connection at once.
		return nil
	}
	ports := l.ports()
	// The kernel finds a free port for each connect by a scan that grows as
	// the range fills: at half of it, 56,000 connections over 4 addresses
	// spent most of two cores in the kernel here. Addresses chosen for a
	// loopback target are planned at a quarter of the range each.
	room := ports / 4
	n := max(1, len(lay.SourceIPs))
	per := ceilDiv(lay.Conns, n)
	if len(lay.SourceIPs) == 0 && cell.loopbackTarget() && per > room {
		for i := range ceilDiv(lay.Conns, room) {
			lay.SourceIPs = append(lay.SourceIPs, net.IPv4(127, 0, 0, byte(2+i)))
		}
		lay.AutoSources = true
		return nil
	}
	need := ceilDiv(lay.Conns, room)
	if per > ports*97/100 {
		return inputErr("--conns %d over %d source address(es) needs %d ephemeral ports per address, but the range %d-%d has %d: add source addresses, such as --source-ips 127.0.0.2-127.0.0.%d",
			lay.Conns, n, per, l.PortLow, l.PortHigh, ports, 1+need)
	}
	if per > ports/2 {
		lay.Warnings = append(lay.Warnings, fmt.Sprintf("%d connections per source address fill more than half of the %d ephemeral ports: the kernel's port search slows every connect; --source-ips with %d addresses keeps each at a quarter", per, ports, need))
	}
	return nil
}

// loopbackTarget reports whether the load goes to this machine's loopback:
// the built-in target, or a --target on 127.0.0.0/8.
func (cell *Cell) loopbackTarget() bool {
	if cell.Config.Target == "" {
		return true
	}
	ip := net.ParseIP(cell.Driver.URL.Hostname())
	return ip != nil && ip.To4() != nil && ip.IsLoopback()
}

// checkMemory refuses a run whose connections would not fit in the memory
// available, by the estimates above.
func (cell *Cell) checkMemory(lay Layout, l Limits) error {
	if l.MemAvailable <= 0 {
		return nil
	}
	per := int64(driverLoopsBytesPerConn)
	if driver.Engine(cell.Config.Engine) == driver.EngineGoroutines {
		per = driverGoroutinesBytesPerConn
	}
	who := "the driver"
	if cell.Config.Target == "" {
		per += targetBytesPerConn
		who = "the driver and the built-in target"
	}
	need := int64(lay.Conns) * per
	if room := l.MemAvailable * 9 / 10; need > room {
		return inputErr("--conns %d needs about %.1f GiB of memory for %s (%d KiB per connection, an estimate), but %.1f GiB is available: lower --conns to %d or less, or split the run over machines (--shard)",
			lay.Conns, gib(need), who, per>>10, gib(l.MemAvailable), room/per)
	}
	return nil
}

func gib(b int64) float64 { return float64(b) / (1 << 30) }

// Shard says this machine runs one share of a run split over several
// machines; each runs `wssbench run --shard I/N` with the same settings.
type Shard struct {
	// Index counts the shards from 1; Count is how many there are.
	Index, Count int
	// StartAt is the wall-clock time every shard starts its load; zero: at once.
	StartAt time.Time
}

// String is "I/N".
func (s *Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// share is shard Index's part of n: n/Count, the remainder spread over the first shards.
func (s *Shard) share(n int) int { return partShare(n, s.Index, s.Count) }

// partShare is part i's (from 1) share of n split over count parts.
func partShare(n, i, count int) int {
	v := n / count
	if i <= n%count {
		v++
	}
	return v
}

// ParseShard reads "I/N" (1 <= I <= N).
func ParseShard(s string) (*Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return nil, inputErr("--shard %q must be I/N with 1 <= I <= N, such as 2/4 (or auto, from JOB_COMPLETION_INDEX and WSSBENCH_SHARDS)", s)
	}
	return &Shard{Index: i, Count: n}, nil
}

// ShardFromEnv reads the shard of a Kubernetes Indexed Job: the 0-based
// JOB_COMPLETION_INDEX that Kubernetes sets, and WSSBENCH_SHARDS (the Job's
// completions, which the pod spec must set: Kubernetes does not).
func ShardFromEnv(getenv func(string) string) (*Shard, error) {
	idx, count := getenv("JOB_COMPLETION_INDEX"), getenv("WSSBENCH_SHARDS")
	if idx == "" || count == "" {
		return nil, inputErr("--shard auto reads JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job) and WSSBENCH_SHARDS (the Job's completions; set it in the pod spec), but JOB_COMPLETION_INDEX=%q WSSBENCH_SHARDS=%q", idx, count)
	}
	i, err1 := strconv.Atoi(idx)
	n, err2 := strconv.Atoi(count)
	if err1 != nil || err2 != nil || i < 0 || n < 1 || i >= n {
		return nil, inputErr("--shard auto: JOB_COMPLETION_INDEX=%q must be 0 to WSSBENCH_SHARDS-1 (WSSBENCH_SHARDS=%q)", idx, count)
	}
	return &Shard{Index: i + 1, Count: n}, nil
}

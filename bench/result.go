package bench

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/metrics"
)

// Result is everything one run measured. reports turns it into the
// "wssbench/v1" report.
type Result struct {
	// Config is the configuration that ran, after defaults.
	Config Config
	// TargetURL is where the load went; BuiltinTarget is set when wssbench started the target.
	TargetURL string
	// Topology is who terminated TLS: direct, builtin, nginx or haproxy.
	Topology      string
	BuiltinTarget bool
	// Cell is the plan's cell this run ran; Repetition counts its runs from 1.
	Cell       *Cell
	Repetition int
	// NotRun, if set, says why this cell of a series did not run (settings
	// that cannot work together, or a server that did not start); then
	// nothing else was measured.
	NotRun string
	// CannotWork is set for a cell NotRun because its settings cannot work
	// together (a matrix reports such cells and goes on); a cell whose run
	// failed to start has NotRun without it.
	CannotWork bool
	// TargetInProcess is set when the built-in target shared the driver's process,
	// so the driver's CPU includes the target's.
	TargetInProcess bool
	// StartedAt and Elapsed bound the whole run.
	StartedAt time.Time
	Elapsed   time.Duration
	// Stats are the driver's counts.
	Stats *driver.Stats
	// Histograms are the run totals, indexed by metrics.Metric.
	Histograms [metrics.NumMetrics]*hdr.Histogram
	// Timeline has one point per collection interval (Options.Interval), in order.
	Timeline []TimelinePoint
	// Intervals are the histograms of each collection interval, encoded.
	Intervals []Interval
	// Clipped counts latency samples above the histogram's range.
	Clipped int64
	// CPU is per-process CPU time, whole run and by phase.
	CPU CPU
	// Memory is resident memory of the driver and target.
	Memory Memory
	// Health describes the driver process during the run.
	Health Health
	// Warnings are things the user should know about the run.
	Warnings []string
	// ChildFailures name each process the harness started that exited
	// during the run, with its exit status.
	ChildFailures []string
	// Crosscheck compares the built-in target's own counts with the
	// driver's; nil when the target is not wssbench's.
	Crosscheck *Crosscheck
	// Layout is how the run was laid out over processes and addresses.
	Layout Layout
	// Processes are the figures of each process of the run: every driver
	// process, every target process and the proxy the harness started.
	Processes []Process
	// Shard is set when this run is one shard of a run split over machines.
	Shard *ShardRun
	// Shards is set when this run is the merge of a split run's shards.
	Shards *ShardsMerged
	// Roles are each role's figures, in the config's order (none without roles).
	Roles []RoleResult
	// Reach is set when the run's frames are stamped deliveries and what
	// the server owed is known.
	Reach *Reach
	// Stages are each stage's figures, in order (none without stages).
	Stages []StageResult
	// Storm is set when the run had a reconnect storm.
	Storm *StormResult
}

// Process is one process of a run and what it used.
type Process struct {
	// Role is "driver", "target" or "proxy".
	Role string
	// Index counts the processes of a role from 1; Shard is the shard it ran
	// in (0: the run was not sharded).
	Index int
	Shard int
	PID   int
	// CPU is its CPU time over the run (user and system, children included).
	CPU time.Duration
	// PeakRSS is its peak resident memory (summed over its processes, for nginx).
	PeakRSS int64
	// Established counts the connections a driver process established.
	Established int64
	// Saturated is set for a driver process that could not keep its schedule.
	Saturated bool
}

// ShardRun is one shard's place in a split run.
type ShardRun struct {
	// Index counts shards from 1; Count is how many there are.
	Index int
	Count int
	// Conns is this shard's share of the connections.
	Conns int
	// StartAt is when the shards were told to start (zero: at once);
	// StartedAt when this one's load began.
	StartAt   time.Time
	StartedAt time.Time
}

// ShardsMerged describes the shards a merged run was made of.
type ShardsMerged struct {
	// Count is how many shards were merged.
	Count int
	// StartSkew is the spread of the shards' load start times (latest minus earliest).
	StartSkew time.Duration
	// Shards are each shard's place, in index order.
	Shards []ShardRun
}

// Stats are the driver's counts of a run, and PhaseMark the start of one of
// its phases: aliases, so that a caller turning a saved report back into a
// Result (to merge it) need not import the driver.
type (
	Stats     = driver.Stats
	PhaseMark = driver.PhaseMark
)

// PhaseCPU is CPU time spent in each phase of a run.
type PhaseCPU struct {
	// Connect is the ramp (or the whole storm); Steady the frame window; Close the close handshakes.
	Connect, Steady, Close time.Duration
}

// CPU is what the processes of a run used. Target is zero when the target is
// not a process this run started.
type CPU struct {
	Driver, Target, Proxy                      time.Duration
	DriverByPhase, TargetByPhase, ProxyByPhase PhaseCPU
}

// Memory is resident memory in bytes.
type Memory struct {
	// DriverBaselineRSS is the driver's RSS before the first connection; DriverPeakRSS its peak (VmHWM).
	DriverBaselineRSS, DriverPeakRSS int64
	// TargetPeakRSS is the built-in target's peak RSS when it ran as a child.
	TargetPeakRSS int64
	// ProxyBaselineRSS and ProxyPeakRSS are the proxy's RSS (all its
	// processes) before the first connection and at its peak, when one ran.
	ProxyBaselineRSS, ProxyPeakRSS int64
	// DriverHeapInUse and DriverStackInUse are the driver's Go heap and
	// goroutine stacks once every connection is up (at the steady mark, after a GC).
	DriverHeapInUse, DriverStackInUse int64
}

// Health is the driver's own condition: a saturated generator makes latency figures suspect.
type Health struct {
	// CPUUtil is driver CPU time over wall time during the measured phase, in cores.
	CPUUtil float64
	// Cores is GOMAXPROCS.
	Cores int
	// GOGC is the driver's GC percent in effect, as the runtime reports it ("off" when off).
	GOGC string
	// GCCycles and GCPause are the collections during the run and their total pause.
	GCCycles uint32
	GCPause  time.Duration
	// SendLagP99 is the 99th percentile of how late frames left against their schedule.
	SendLagP99 time.Duration
	// Saturated is set when the driver could not keep its schedule; Reasons says why.
	Saturated bool
	Reasons   []Reason
}

// The run modes, as written in Config.Mode.
const (
	ModeSteady = string(driver.ModeSteady)
	ModeStorm  = string(driver.ModeStorm)
	ModeHold   = string(driver.ModeHold)
)

// Mode is the run's mode, typed: what it does is asked of its methods.
func (r *Result) Mode() driver.Mode { return r.Config.RunMode() }

// PhaseWalls returns the wall time of the connect phase (the ramp, or the
// whole storm) and of the steady phase (the frame or hold window).
func (r *Result) PhaseWalls() (connect, steady time.Duration) {
	at := map[string]time.Time{}
	for _, m := range r.Stats.Phases {
		at[m.Name] = m.At
	}
	if !r.Mode().HoldsAll() {
		return at[driver.PhaseClose].Sub(at[driver.PhaseConnect]), 0
	}
	if s, ok := at[driver.PhaseSteady]; ok {
		connect = s.Sub(at[driver.PhaseConnect])
		steady = at[driver.PhaseClose].Sub(s)
	}
	return connect, steady
}

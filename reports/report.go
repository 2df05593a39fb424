// Package reports turns what a plan's runs measured (a bench.Series) into
// the versioned "wssbench/v1" report model, a Series of one or more run
// Reports, checks thresholds against it, and encodes it through the
// Encoders table (text, JSON, HTML, Markdown, JUnit, interval logs); it also
// decodes saved reports and compares them (the regression gate).
package reports

import (
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/metrics"
)

// Schema is the version tag of the JSON report.
const Schema = "wssbench/v1"

// Report is one run, as written to JSON. Durations are microseconds (floats)
// unless a name says otherwise.
type Report struct {
	Schema      string       `json:"schema"`
	Label       string       `json:"label"`
	Build       Build        `json:"build"`
	Config      bench.Config `json:"config"`
	StartedAt   time.Time    `json:"started_at"`
	DurationS   float64      `json:"duration_s"`
	Partial     bool         `json:"partial"`
	Target      Target       `json:"target"`
	Connections Connections  `json:"connections"`
	Phases      Phases       `json:"phases"`
	Frames      Frames       `json:"frames"`
	TLS         TLS          `json:"tls"`
	CPU         CPU          `json:"cpu"`
	Memory      Memory       `json:"memory"`
	Health      Health       `json:"health"`
	Verdict     Verdict      `json:"verdict"`
	// Cell names the run within a series, Repetition counts its runs from 1;
	// NotRun says why it did not run.
	Cell       string `json:"cell,omitempty"`
	Repetition int    `json:"repetition,omitempty"`
	NotRun     string `json:"not_run,omitempty"`
	// CannotWork marks a cell not run because its settings cannot work together.
	CannotWork bool `json:"cannot_work,omitempty"`
	// Crosscheck sets the built-in target's own counts beside the driver's.
	Crosscheck *Crosscheck `json:"crosscheck,omitempty"`
	// Thresholds are the config's threshold expressions checked against this run.
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
	Warnings   []string          `json:"warnings,omitempty"`
	// Timeline has one point per collection interval (1 s).
	Timeline []TimelinePoint `json:"timeline"`
	// Histograms are the run totals by metric name (tcp_connect, ...,
	// ws_rtt, ws_rtt_uncorrected, send_lag, delivery), each in HdrHistogram's V2
	// compressed base64 encoding, nanoseconds; see Histogram.
	Histograms map[string]string `json:"histograms,omitempty"`
	// Intervals are each collection interval's histograms, the same encoding
	// by metric name, for the interval log (.hlog).
	Intervals []Interval `json:"intervals,omitempty"`
	// PhaseMarks are when each phase of the run began (connect, steady,
	// close, done), so a report can be merged with others exactly.
	PhaseMarks []PhaseMark `json:"phase_marks,omitempty"`
	// Procs is how many driver processes ran the load (summed over shards).
	Procs int `json:"procs,omitempty"`
	// Layout is how the run was laid out over processes and addresses.
	Layout *Layout `json:"layout,omitempty"`
	// Processes are each process's figures: every driver process, target
	// process and proxy.
	Processes []Process `json:"processes,omitempty"`
	// Shard is set on the report of one shard of a run split over machines.
	Shard *Shard `json:"shard,omitempty"`
	// Shards is set on the merge of a split run's shards (wssbench merge).
	Shards *Shards `json:"shards,omitempty"`
	// Roles are each role's figures by name (absent without roles).
	Roles map[string]Role `json:"roles,omitempty"`
	// Reach is stamped frames received over those the server owed (0..1,
	// above 1 when more came), absent when not known; ReachDetail its parts.
	Reach       *float64     `json:"reach,omitempty"`
	ReachDetail *ReachDetail `json:"reach_detail,omitempty"`
	// Stages are each stage's figures, in order (absent without stages).
	Stages []Stage `json:"stages,omitempty"`
	// Storm is what a reconnect storm did (absent without one).
	Storm *Storm `json:"storm,omitempty"`
}

// PhaseMark is when a phase began.
type PhaseMark struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"`
}

// Layout is how a run was laid out on its machine(s).
type Layout struct {
	// Drivers and Targets count driver and built-in target processes.
	Drivers int `json:"drivers"`
	Targets int `json:"targets"`
	// SourceIPs are the local addresses connections left from; AutoSources
	// is set when wssbench chose them.
	SourceIPs   []string `json:"source_ips,omitempty"`
	AutoSources bool     `json:"auto_sources,omitempty"`
}

// Process is one process of the run.
type Process struct {
	// Role is driver, target or proxy; Index counts within the role from 1;
	// Shard is the shard it ran in (0 when not sharded).
	Role  string `json:"role"`
	Index int    `json:"index"`
	Shard int    `json:"shard,omitempty"`
	PID   int    `json:"pid"`
	// CPUS is its CPU time in seconds; PeakRSS its peak resident memory.
	CPUS    float64 `json:"cpu_s"`
	PeakRSS int64   `json:"peak_rss_bytes"`
	// Established counts a driver process's connections; Saturated is set
	// for one that could not keep its schedule.
	Established int64 `json:"established,omitempty"`
	Saturated   bool  `json:"saturated,omitempty"`
}

// Shard is one shard's place in a split run.
type Shard struct {
	// Index counts from 1 to Count.
	Index int `json:"index"`
	Count int `json:"count"`
	// Conns is this shard's share of the connections.
	Conns int `json:"conns"`
	// StartAt is the start time every shard was given (absent: at once);
	// StartedAt is when this shard's load began.
	StartAt   *time.Time `json:"start_at,omitempty"`
	StartedAt time.Time  `json:"started_at"`
}

// Shards describes the shards of a merged run.
type Shards struct {
	Count int `json:"count"`
	// StartSkewMs is the latest shard's load start minus the earliest's.
	StartSkewMs float64 `json:"start_skew_ms"`
	// Shards are each shard's place, by index.
	Shards []Shard `json:"shards"`
}

// Crosscheck compares what the built-in target counted with what the driver
// counted; a difference fails the verdict with both figures.
type Crosscheck struct {
	OK          bool      `json:"ok"`
	Connections CountPair `json:"connections"`
	Frames      CountPair `json:"frames"`
	// FramesSent is what the driver sent; the target must echo between Frames.Driver and this.
	FramesSent int64 `json:"frames_sent"`
	// FramesIn is what the target took in (echoed, or received for its
	// rooms): at most FramesSent. Frames.Target is what it wrote (echoes,
	// room deliveries, pushes): at least Frames.Driver.
	FramesIn int64 `json:"frames_in"`
}

// CountPair is one count as the driver and the target saw it.
type CountPair struct {
	Driver int64 `json:"driver"`
	Target int64 `json:"target"`
}

// Interval is one collection interval: its bounds (Unix milliseconds) and
// its non-empty histograms by metric name, V2 compressed base64, nanoseconds.
type Interval struct {
	StartMs    int64             `json:"start_ms"`
	EndMs      int64             `json:"end_ms"`
	Histograms map[string]string `json:"histograms,omitempty"`
}

// Target is where the load went.
type Target struct {
	URL string `json:"url"`
	// Topology is who terminated TLS: direct, builtin, nginx or haproxy.
	Topology string `json:"topology"`
	// Builtin is set when wssbench started the target; InProcess when it shared the driver's process.
	Builtin   bool `json:"builtin"`
	InProcess bool `json:"in_process"`
}

// Connections counts connection attempts and failures by class.
type Connections struct {
	Attempted      int64            `json:"attempted"`
	Established    int64            `json:"established"`
	Failed         int64            `json:"failed"`
	PeakConcurrent int64            `json:"peak_concurrent"`
	ClosedClean    int64            `json:"closed_clean"`
	Errors         map[string]int64 `json:"errors"`
	// Primed counts untimed connections made before the load (1 per driver
	// process with --resume: the session ticket's source).
	Primed       int64             `json:"primed,omitempty"`
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
	// ConnectPerSec is connections established per second of the connect phase.
	ConnectPerSec float64 `json:"connect_per_s"`
}

// H summarises one latency histogram, in microseconds.
type H struct {
	Count  int64   `json:"count"`
	MinUs  float64 `json:"min_us"`
	MeanUs float64 `json:"mean_us"`
	P50Us  float64 `json:"p50_us"`
	P90Us  float64 `json:"p90_us"`
	P99Us  float64 `json:"p99_us"`
	P999Us float64 `json:"p999_us"`
	MaxUs  float64 `json:"max_us"`
}

// Phases are the connection setup latencies.
type Phases struct {
	TCPConnect   H `json:"tcp_connect"`
	TLSHandshake H `json:"tls_handshake"`
	WSUpgrade    H `json:"ws_upgrade"`
	ConnectTotal H `json:"connect_total"`
}

// Frames are the echo frames and their round trips.
type Frames struct {
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
	Lost     int64 `json:"lost"`
	// PerSec is frames echoed per second of the steady phase (or the storm).
	PerSec float64 `json:"per_s"`
	// RequestedPerSec is conns × msg_rate in open-loop mode, else 0.
	RequestedPerSec float64 `json:"requested_per_s"`
	// RTT is measured from the scheduled send time; RTTUncorrected from the actual one.
	RTT            H `json:"rtt"`
	RTTUncorrected H `json:"rtt_uncorrected"`
	// Delivery is the one-way delivery latency of stamped frames (their
	// publisher's send time to their arrival), when the run has any.
	Delivery *H `json:"delivery,omitempty"`
	// Delivered counts the stamped frames received (deliveries), and
	// Published the frames a workload's steady pattern sent (its steps'
	// frames are in Sent only); both absent for an echo run.
	Delivered int64 `json:"delivered,omitempty"`
	Published int64 `json:"published,omitempty"`
}

// TLS counts what the handshakes negotiated.
type TLS struct {
	Handshakes   int64            `json:"handshakes"`
	Versions     map[string]int64 `json:"versions"`
	CipherSuites map[string]int64 `json:"cipher_suites"`
	Groups       map[string]int64 `json:"groups"`
	// ALPN counts the negotiated application protocol ("none" when none was agreed).
	ALPN       map[string]int64 `json:"alpn,omitempty"`
	Resumed    int64            `json:"resumed"`
	HelloRetry int64            `json:"hello_retry"`
	// ClientCertRequested counts handshakes in which the server asked for the client certificate.
	ClientCertRequested int64 `json:"client_cert_requested,omitempty"`
	// Mismatches are differences between what the run asked for (versions,
	// suites, groups, ALPN, resumption, mutual TLS) and what was negotiated;
	// each fails the verdict.
	Mismatches []string `json:"mismatches,omitempty"`
	// HandshakeBytesOut/In are mean bytes per handshake on the wire, client to server and back.
	HandshakeBytesOut float64 `json:"handshake_bytes_out"`
	HandshakeBytesIn  float64 `json:"handshake_bytes_in"`
}

// CPU is CPU time of each process and its cost per handshake and per frame.
type CPU struct {
	DriverS float64 `json:"driver_s"`
	TargetS float64 `json:"target_s"`
	ProxyS  float64 `json:"proxy_s"`
	// DriverUsPerHandshake is driver CPU in the connect phase per connection
	// established (TCP, TLS and upgrade; in a storm also one echo and the close).
	DriverUsPerHandshake float64 `json:"driver_us_per_handshake"`
	// DriverUsPerFrame is driver CPU in the steady phase per echoed frame (send and receive).
	DriverUsPerFrame     float64 `json:"driver_us_per_frame"`
	TargetUsPerHandshake float64 `json:"target_us_per_handshake"`
	TargetUsPerFrame     float64 `json:"target_us_per_frame"`
	ProxyUsPerHandshake  float64 `json:"proxy_us_per_handshake"`
	ProxyUsPerFrame      float64 `json:"proxy_us_per_frame"`
	// HandshakeFrames is DriverUsPerHandshake / DriverUsPerFrame: one handshake costs as much as this many frames.
	HandshakeFrames       float64 `json:"handshake_frames"`
	TargetHandshakeFrames float64 `json:"target_handshake_frames"`
	// ByPhase is each process kind's CPU seconds in each phase.
	ByPhase *CPUByPhase `json:"by_phase,omitempty"`
}

// CPUByPhase is CPU seconds by phase of the driver(s), the target(s) and the proxy.
type CPUByPhase struct {
	Driver PhaseSeconds `json:"driver"`
	Target PhaseSeconds `json:"target"`
	Proxy  PhaseSeconds `json:"proxy"`
}

// PhaseSeconds is CPU seconds in the connect, steady and close phases.
type PhaseSeconds struct {
	ConnectS float64 `json:"connect_s"`
	SteadyS  float64 `json:"steady_s"`
	CloseS   float64 `json:"close_s"`
}

// Memory is resident memory, in bytes.
type Memory struct {
	DriverBaselineRSS int64 `json:"driver_baseline_rss_bytes"`
	DriverPeakRSS     int64 `json:"driver_peak_rss_bytes"`
	// DriverPerConn is (peak - baseline) / peak concurrent connections.
	DriverPerConn float64 `json:"driver_rss_per_conn_bytes"`
	TargetPeakRSS int64   `json:"target_peak_rss_bytes"`
	ProxyPeakRSS  int64   `json:"proxy_peak_rss_bytes"`
	// ProxyBaselineRSS is the proxy's RSS before the first connection.
	ProxyBaselineRSS int64 `json:"proxy_baseline_rss_bytes,omitempty"`
	// ProxyPerConn is (proxy peak - proxy baseline) / peak concurrent connections.
	ProxyPerConn float64 `json:"proxy_rss_per_conn_bytes"`
	// DriverHeapInUse and DriverStackInUse are the driver's Go heap and stacks once all connections are up (after a GC).
	DriverHeapInUse  int64 `json:"driver_heap_inuse_bytes"`
	DriverStackInUse int64 `json:"driver_stack_inuse_bytes"`
}

// Health is the driver's own condition during the run.
type Health struct {
	CPUUtilCores   float64 `json:"cpu_util_cores"`
	Cores          int     `json:"cores"`
	GOGC           string  `json:"gogc"`
	GCCycles       uint32  `json:"gc_cycles"`
	GCPauseUs      float64 `json:"gc_pause_us"`
	SendLagP99Us   float64 `json:"send_lag_p99_us"`
	ClippedSamples int64   `json:"clipped_samples"`
}

// Verdict says whether the run is clean, and why not: each reason has a kind
// (bench.ReasonKind) and a text.
type Verdict struct {
	OK        bool           `json:"ok"`
	Saturated bool           `json:"saturated"`
	Reasons   []bench.Reason `json:"reasons"`
}

// Text joins the reasons' texts with "; ".
func (v Verdict) Text() string {
	parts := make([]string, len(v.Reasons))
	for i, r := range v.Reasons {
		parts[i] = r.String()
	}
	return strings.Join(parts, "; ")
}

func summarize(h *hdr.Histogram) H {
	if h == nil || h.TotalCount() == 0 {
		return H{}
	}
	us := func(v int64) float64 { return float64(v) / 1e3 }
	return H{
		Count: h.TotalCount(), MinUs: us(h.Min()), MeanUs: h.Mean() / 1e3,
		P50Us: us(h.ValueAtQuantile(50)), P90Us: us(h.ValueAtQuantile(90)), P99Us: us(h.ValueAtQuantile(99)),
		P999Us: us(h.ValueAtQuantile(99.9)), MaxUs: us(h.Max()),
	}
}

func perUs(d time.Duration, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(d) / 1e3 / float64(n)
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// fromResult builds the report of one run.
func fromResult(res *bench.Result, meta Meta) *Report {
	st := res.Stats
	r := &Report{
		Schema: Schema, Label: res.Config.Label, Config: res.Config, StartedAt: res.StartedAt,
		DurationS: res.Elapsed.Seconds(), Partial: st.Interrupted,
		Build:  NewBuild(meta),
		Target: Target{URL: res.TargetURL, Topology: res.Topology, Builtin: res.BuiltinTarget, InProcess: res.TargetInProcess},
		Connections: Connections{Attempted: st.Attempted, Established: st.Established, Failed: st.Failed,
			PeakConcurrent: st.PeakConcurrent, ClosedClean: st.ClosedClean, Errors: st.Errors, ErrorSamples: st.ErrorSamples},
		Warnings: res.Warnings,
	}
	h := res.Histograms
	r.Phases = Phases{TCPConnect: summarize(h[metrics.TCPConnect]), TLSHandshake: summarize(h[metrics.TLSHandshake]),
		WSUpgrade: summarize(h[metrics.WSUpgrade]), ConnectTotal: summarize(h[metrics.ConnectTotal])}
	connectWall, steadyWall := res.PhaseWalls()
	// A staged run dials and closes throughout: its whole run is the steady
	// phase, so connections per second are over it, and CPU is not split
	// between handshakes and frames.
	staged := len(res.Config.Stages) > 0
	// A storm's reconnects come in the steady phase: the connect phase's
	// rate and cost are its own connections'.
	ramped := st.Established
	if st.Storm != nil && !staged {
		ramped -= st.Storm.Reconnected
	}
	switch {
	case staged && steadyWall > 0:
		r.Connections.ConnectPerSec = float64(st.Established) / steadyWall.Seconds()
	case connectWall > 0:
		r.Connections.ConnectPerSec = float64(ramped) / connectWall.Seconds()
	}
	frameWall := steadyWall
	if !res.Mode().HoldsAll() {
		frameWall = connectWall
	}
	r.Frames = Frames{Sent: st.FramesSent, Received: st.FramesReceived, Lost: st.FramesLost, Delivered: st.FramesDelivered, Published: st.FramesPublished,
		RTT: summarize(h[metrics.RTT]), RTTUncorrected: summarize(h[metrics.RTTUncorrected])}
	if frameWall > 0 {
		r.Frames.PerSec = float64(st.FramesReceived) / frameWall.Seconds()
	}
	r.Frames.RequestedPerSec = res.RequestedFrameRate()
	r.TLS = TLS{Handshakes: st.Handshakes, Versions: st.TLSVersions, CipherSuites: st.CipherSuites, Groups: st.Groups,
		ALPN: st.ALPN, Resumed: st.Resumed, HelloRetry: st.HelloRetry, ClientCertRequested: st.ClientCertRequested,
		Mismatches: res.TLSMismatches()}
	if st.Handshakes > 0 {
		r.TLS.HandshakeBytesOut = float64(st.HandshakeBytesOut) / float64(st.Handshakes)
		r.TLS.HandshakeBytesIn = float64(st.HandshakeBytesIn) / float64(st.Handshakes)
	}
	c := res.CPU
	r.CPU = CPU{DriverS: c.Driver.Seconds(), TargetS: c.Target.Seconds(), ProxyS: c.Proxy.Seconds(),
		ProxyUsPerHandshake:  perUs(c.ProxyByPhase.Connect, ramped),
		DriverUsPerHandshake: perUs(c.DriverByPhase.Connect, ramped),
		TargetUsPerHandshake: perUs(c.TargetByPhase.Connect, ramped)}
	if staged {
		r.CPU.ProxyUsPerHandshake, r.CPU.DriverUsPerHandshake, r.CPU.TargetUsPerHandshake = 0, 0, 0
	} else if res.Mode().Streams() {
		r.CPU.DriverUsPerFrame = perUs(c.DriverByPhase.Steady, st.FramesReceived)
		r.CPU.TargetUsPerFrame = perUs(c.TargetByPhase.Steady, st.FramesReceived)
		r.CPU.ProxyUsPerFrame = perUs(c.ProxyByPhase.Steady, st.FramesReceived)
	}
	r.CPU.HandshakeFrames = ratio(r.CPU.DriverUsPerHandshake, r.CPU.DriverUsPerFrame)
	r.CPU.TargetHandshakeFrames = ratio(r.CPU.TargetUsPerHandshake, r.CPU.TargetUsPerFrame)
	r.Memory = Memory{DriverBaselineRSS: res.Memory.DriverBaselineRSS, DriverPeakRSS: res.Memory.DriverPeakRSS,
		TargetPeakRSS: res.Memory.TargetPeakRSS, DriverHeapInUse: res.Memory.DriverHeapInUse, DriverStackInUse: res.Memory.DriverStackInUse}
	r.Memory.ProxyPeakRSS = res.Memory.ProxyPeakRSS
	if st.PeakConcurrent > 0 && res.Memory.ProxyPeakRSS > 0 {
		r.Memory.ProxyPerConn = float64(res.Memory.ProxyPeakRSS-res.Memory.ProxyBaselineRSS) / float64(st.PeakConcurrent)
	}
	if st.PeakConcurrent > 0 {
		r.Memory.DriverPerConn = float64(res.Memory.DriverPeakRSS-res.Memory.DriverBaselineRSS) / float64(st.PeakConcurrent)
	}
	hl := res.Health
	r.Health = Health{CPUUtilCores: hl.CPUUtil, Cores: hl.Cores, GOGC: hl.GOGC, GCCycles: hl.GCCycles,
		GCPauseUs: float64(hl.GCPause) / 1e3, SendLagP99Us: float64(hl.SendLagP99) / 1e3, ClippedSamples: res.Clipped}
	if res.Cell != nil {
		r.Cell = res.Cell.Name
	}
	r.Repetition, r.NotRun, r.CannotWork = res.Repetition, res.NotRun, res.CannotWork
	if cc := res.Crosscheck; cc != nil {
		r.Crosscheck = &Crosscheck{OK: cc.OK, Connections: CountPair{cc.DriverConnections, cc.TargetConnections},
			Frames: CountPair{cc.DriverFramesReceived, cc.TargetFrames}, FramesSent: cc.DriverFramesSent, FramesIn: cc.TargetFramesIn}
	}
	r.Verdict = Verdict{Saturated: hl.Saturated, Reasons: append([]bench.Reason{}, res.Reasons()...)}
	r.Verdict.OK = !failing(r.Verdict.Reasons)
	r.Timeline = timelineOf(res.Timeline)
	r.Histograms = encodeHistograms(res.Histograms)
	r.Intervals = intervalsOf(res.Intervals)
	r.Connections.Primed = st.Primed
	r.Memory.ProxyBaselineRSS = res.Memory.ProxyBaselineRSS
	ps := func(p bench.PhaseCPU) PhaseSeconds {
		return PhaseSeconds{ConnectS: p.Connect.Seconds(), SteadyS: p.Steady.Seconds(), CloseS: p.Close.Seconds()}
	}
	r.CPU.ByPhase = &CPUByPhase{Driver: ps(c.DriverByPhase), Target: ps(c.TargetByPhase), Proxy: ps(c.ProxyByPhase)}
	for _, m := range st.Phases {
		r.PhaseMarks = append(r.PhaseMarks, PhaseMark{Name: m.Name, At: m.At})
	}
	layoutOf(r, res)
	workloadOf(r, res)
	return r
}

// layoutOf fills in the run's layout, processes and shards.
func layoutOf(r *Report, res *bench.Result) {
	lay := res.Layout
	if lay.Drivers > 0 {
		r.Procs = lay.Drivers
		r.Layout = &Layout{Drivers: lay.Drivers, Targets: lay.Targets, AutoSources: lay.AutoSources}
		for _, ip := range lay.SourceIPs {
			r.Layout.SourceIPs = append(r.Layout.SourceIPs, ip.String())
		}
	}
	for _, p := range res.Processes {
		r.Processes = append(r.Processes, Process{Role: p.Role, Index: p.Index, Shard: p.Shard, PID: p.PID,
			CPUS: p.CPU.Seconds(), PeakRSS: p.PeakRSS, Established: p.Established, Saturated: p.Saturated})
	}
	if sh := res.Shard; sh != nil {
		r.Shard = shardOf(*sh)
	}
	if ss := res.Shards; ss != nil {
		r.Shards = &Shards{Count: ss.Count, StartSkewMs: float64(ss.StartSkew) / 1e6}
		for _, sh := range ss.Shards {
			r.Shards.Shards = append(r.Shards.Shards, *shardOf(sh))
		}
	}
}

func shardOf(sh bench.ShardRun) *Shard {
	out := &Shard{Index: sh.Index, Count: sh.Count, Conns: sh.Conns, StartedAt: sh.StartedAt}
	if !sh.StartAt.IsZero() {
		at := sh.StartAt
		out.StartAt = &at
	}
	return out
}

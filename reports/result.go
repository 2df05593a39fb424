package reports

import (
	"fmt"
	"maps"
	"math"
	"net"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/metrics"
)

// Result turns a run's report back into what the run measured, so that
// reports of the parts of one run (the shards of a run split over machines,
// or the driver processes of a run split over processes) can be merged by
// package bench as the runs themselves are: the histograms, counters, phase
// marks, per-phase CPU, memory and timeline a report keeps are all a merge
// needs. Figures a report derives (percentiles, rates, costs, the verdict)
// are derived again from the merged result. The error names what a report
// lacks (one written before a field was added, or a hand-made one).
func (r *Report) Result() (*bench.Result, error) {
	cfg := r.Config
	res := &bench.Result{Config: cfg, TargetURL: r.Target.URL, Topology: r.Target.Topology,
		BuiltinTarget: r.Target.Builtin, TargetInProcess: r.Target.InProcess, Repetition: r.Repetition,
		NotRun: r.NotRun, CannotWork: r.CannotWork, StartedAt: r.StartedAt,
		Elapsed: time.Duration(r.DurationS * float64(time.Second)), Warnings: r.Warnings}
	plan, err := cfg.Plan()
	if err != nil {
		return nil, fmt.Errorf("its config does not plan: %w", err)
	}
	if len(plan.Cells) != 1 {
		return nil, fmt.Errorf("its config is a series of %d cells, not one run", len(plan.Cells))
	}
	res.Cell = plan.Cells[0]
	if r.Cell != "" {
		res.Cell.Name = r.Cell
	}
	if r.NotRun != "" {
		res.Stats = &bench.Stats{}
		return res, nil
	}
	if len(r.PhaseMarks) == 0 {
		return nil, fmt.Errorf("it has no phase_marks: written by a wssbench older than merge, or not by wssbench")
	}
	c, t := r.Connections, r.TLS
	st := &bench.Stats{Attempted: c.Attempted, Established: c.Established, Failed: c.Failed,
		Errors: maps.Clone(c.Errors), ErrorSamples: maps.Clone(c.ErrorSamples),
		TLSVersions: maps.Clone(t.Versions), CipherSuites: maps.Clone(t.CipherSuites), Groups: maps.Clone(t.Groups), ALPN: maps.Clone(t.ALPN),
		ClientCertRequested: t.ClientCertRequested, Resumed: t.Resumed, HelloRetry: t.HelloRetry, Handshakes: t.Handshakes,
		HandshakeBytesOut: int64(math.Round(t.HandshakeBytesOut * float64(t.Handshakes))),
		HandshakeBytesIn:  int64(math.Round(t.HandshakeBytesIn * float64(t.Handshakes))),
		FramesSent:        r.Frames.Sent, FramesReceived: r.Frames.Received, FramesLost: r.Frames.Lost,
		FramesDelivered: r.Frames.Delivered, FramesPublished: r.Frames.Published,
		ClosedClean: c.ClosedClean, PeakConcurrent: c.PeakConcurrent, Interrupted: r.Partial, Primed: c.Primed}
	for _, m := range r.PhaseMarks {
		st.Phases = append(st.Phases, bench.PhaseMark{Name: m.Name, At: m.At})
	}
	res.Stats = st
	for i := range metrics.NumMetrics {
		h, err := r.Histogram(metrics.Metric(i).Name())
		if err != nil {
			return nil, err
		}
		res.Histograms[i] = h
	}
	if res.Intervals, err = intervalsBack(r.Intervals); err != nil {
		return nil, err
	}
	res.Timeline = timelineBack(r.Timeline)
	res.Clipped = r.Health.ClippedSamples
	s := func(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }
	res.CPU = bench.CPU{Driver: s(r.CPU.DriverS), Target: s(r.CPU.TargetS), Proxy: s(r.CPU.ProxyS)}
	if bp := r.CPU.ByPhase; bp != nil {
		back := func(p PhaseSeconds) bench.PhaseCPU {
			return bench.PhaseCPU{Connect: s(p.ConnectS), Steady: s(p.SteadyS), Close: s(p.CloseS)}
		}
		res.CPU.DriverByPhase, res.CPU.TargetByPhase, res.CPU.ProxyByPhase = back(bp.Driver), back(bp.Target), back(bp.Proxy)
	}
	m := r.Memory
	res.Memory = bench.Memory{DriverBaselineRSS: m.DriverBaselineRSS, DriverPeakRSS: m.DriverPeakRSS, TargetPeakRSS: m.TargetPeakRSS,
		ProxyBaselineRSS: m.ProxyBaselineRSS, ProxyPeakRSS: m.ProxyPeakRSS, DriverHeapInUse: m.DriverHeapInUse, DriverStackInUse: m.DriverStackInUse}
	h := r.Health
	res.Health = bench.Health{CPUUtil: h.CPUUtilCores, Cores: h.Cores, GOGC: h.GOGC, GCCycles: h.GCCycles,
		GCPause: time.Duration(h.GCPauseUs * 1e3), SendLagP99: time.Duration(h.SendLagP99Us * 1e3), Saturated: r.Verdict.Saturated}
	for _, reason := range r.Verdict.Reasons {
		switch reason.Kind {
		case bench.ReasonSaturated:
			res.Health.Reasons = append(res.Health.Reasons, bench.Reason{Kind: reason.Kind, Text: reason.Text})
		case bench.ReasonChildDied:
			res.ChildFailures = append(res.ChildFailures, reason.Text)
		}
	}
	if cc := r.Crosscheck; cc != nil {
		res.Crosscheck = &bench.Crosscheck{OK: cc.OK, DriverConnections: cc.Connections.Driver, TargetConnections: cc.Connections.Target,
			DriverFramesReceived: cc.Frames.Driver, TargetFrames: cc.Frames.Target, DriverFramesSent: cc.FramesSent, TargetFramesIn: cc.FramesIn}
	}
	if l := r.Layout; l != nil {
		res.Layout = bench.Layout{Conns: cfg.Conns, Drivers: l.Drivers, Targets: l.Targets, AutoSources: l.AutoSources}
		for _, ip := range l.SourceIPs {
			res.Layout.SourceIPs = append(res.Layout.SourceIPs, net.ParseIP(ip))
		}
	}
	for _, p := range r.Processes {
		res.Processes = append(res.Processes, bench.Process{Role: p.Role, Index: p.Index, Shard: p.Shard, PID: p.PID,
			CPU: s(p.CPUS), PeakRSS: p.PeakRSS, Established: p.Established, Saturated: p.Saturated})
	}
	w, err := workloadBack(r)
	if err != nil {
		return nil, err
	}
	res.Roles, res.Reach, res.Stages, res.Storm = w.Roles, w.Reach, w.Stages, w.Storm
	if sh := r.Shard; sh != nil {
		res.Shard = &bench.ShardRun{Index: sh.Index, Count: sh.Count, Conns: sh.Conns, StartedAt: sh.StartedAt}
		if sh.StartAt != nil {
			res.Shard.StartAt = *sh.StartAt
		}
		res.Layout.Conns = sh.Conns
	}
	return res, nil
}

// intervalsBack decodes the report's interval histograms.
func intervalsBack(ivs []Interval) ([]bench.Interval, error) {
	out := make([]bench.Interval, 0, len(ivs))
	for i, iv := range ivs {
		bi := bench.Interval{Start: time.UnixMilli(iv.StartMs), End: time.UnixMilli(iv.EndMs)}
		for name, enc := range iv.Histograms {
			m, ok := metrics.ByName(name)
			if !ok {
				return nil, fmt.Errorf("intervals[%d]: unknown metric %q", i, name)
			}
			if _, err := hdr.Decode([]byte(enc)); err != nil {
				return nil, fmt.Errorf("intervals[%d].%s: %w", i, name, err)
			}
			bi.H[m] = []byte(enc)
		}
		out = append(out, bi)
	}
	return out, nil
}

// timelineBack turns the report's timeline into the run's.
func timelineBack(points []TimelinePoint) []bench.TimelinePoint {
	us := func(v float64) time.Duration { return time.Duration(v * 1e3) }
	out := make([]bench.TimelinePoint, len(points))
	for i, p := range points {
		out[i] = bench.TimelinePoint{At: time.Duration(p.TS * float64(time.Second)), Established: p.Established, Open: p.Open,
			FramesPerSec: p.FramesPerS, Errors: p.Errors, ConnectTotalP50: us(p.ConnectTotalP50Us), ConnectTotalP99: us(p.ConnectTotalP99Us),
			TLSHandshakeP50: us(p.TLSHandshakeP50Us), TLSHandshakeP99: us(p.TLSHandshakeP99Us), RTTP50: us(p.RTTP50Us), RTTP99: us(p.RTTP99Us)}
	}
	return out
}

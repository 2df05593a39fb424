package reports

import (
	"fmt"

	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/threshold"
)

// The axes a capacity search varies (Search.Vary).
const (
	VaryMsgRate     = "msg-rate"
	VaryConns       = "conns"
	VaryConnectRate = "connect-rate"
)

// Why a capacity search ended (Search.Stop).
const (
	// StopKnee: the interval between the last pass and the first fail is within the precision.
	StopKnee = "knee"
	// StopHoldsTo: every probe up to --to passed.
	StopHoldsTo = "holds_to"
	// StopFailsAtFrom: the first probe, at --from, failed.
	StopFailsAtFrom = "fails_at_from"
	// StopGenerator: the driver saturated before the server failed an SLO.
	StopGenerator = "generator"
	// StopInterrupted: the search was cut short (Ctrl-C).
	StopInterrupted = "interrupted"
	// StopError: a probe could not run.
	StopError = "error"
)

// NewProbe builds the probe of one axis value from its runs (one, or
// --repeat of them): the medians with min..max of achieved frames/s,
// handshakes/s and the RTT and TLS handshake percentiles, and each SLO
// checked on the median over the runs of its figure (a run that lacks the
// figure fails the SLO, its note saying why). The probe passes when every
// SLO passes and no run failed: a failing verdict reason of a run fails the
// probe (its reasons are collected in Failed) unless a threshold of the run
// or a passing SLO on a figure that covers it tolerates it (errors.rate
// tolerates failed connections, as a run's thresholds do). A run whose
// generator saturated marks the probe Saturated.
func NewProbe(value, offeredPerSec float64, runs []*Report, slos []threshold.Threshold) Probe {
	p := Probe{Value: value, OfferedPerSec: offeredPerSec, Runs: runs, SLO: []SLOResult{}}
	var ran []*Report
	for _, r := range runs {
		if r.NotRun == "" {
			ran = append(ran, r)
		}
	}
	p.FramesPerSec = statOver(ran, func(r *Report) (float64, bool) { return r.Frames.PerSec, true })
	p.HandshakesPerSec = statOver(ran, func(r *Report) (float64, bool) { return r.Connections.ConnectPerSec, true })
	p.RTT = percentilesOver(ran, func(r *Report) H { return r.Frames.RTT })
	p.TLSHandshake = percentilesOver(ran, func(r *Report) H { return r.Phases.TLSHandshake })
	for _, t := range slos {
		p.SLO = append(p.SLO, sloResult(t, runs))
	}
	p.Pass = len(ran) > 0
	for _, s := range p.SLO {
		p.Pass = p.Pass && s.OK
	}
	for i, r := range runs {
		p.Saturated = p.Saturated || r.Verdict.Saturated
		for class, n := range r.Connections.Errors {
			if p.Errors == nil {
				p.Errors = map[string]int64{}
			}
			p.Errors[class] += n
		}
		for _, why := range runFailures(r, slos, p.SLO) {
			p.Failed = append(p.Failed, fmt.Sprintf("%s: %s", probeRunName(i, len(runs)), why))
		}
	}
	if len(runs) == 0 {
		p.Failed = append(p.Failed, "no run")
	}
	p.Pass = p.Pass && len(p.Failed) == 0
	return p
}

// probeRunName names run i of a probe of n runs: "run" or "run 2 of 3".
func probeRunName(i, n int) string {
	if n == 1 {
		return "run"
	}
	return fmt.Sprintf("run %d of %d", i+1, n)
}

// statOver is the median and spread of a figure over the runs that have it.
func statOver(runs []*Report, get func(*Report) (float64, bool)) Stat {
	var v []float64
	for _, r := range runs {
		if x, ok := get(r); ok {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return Stat{}
	}
	return statOf(v)
}

// percentilesOver are p50, p99 and p99.9 of a latency over the runs that
// recorded samples of it.
func percentilesOver(runs []*Report, get func(*Report) H) Percentiles {
	of := func(stat func(H) float64) Stat {
		return statOver(runs, func(r *Report) (float64, bool) { h := get(r); return stat(h), h.Count > 0 })
	}
	return Percentiles{P50Us: of(func(h H) float64 { return h.P50Us }), P99Us: of(func(h H) float64 { return h.P99Us }),
		P999Us: of(func(h H) float64 { return h.P999Us })}
}

// sloResult checks one SLO on the median of its figure over the runs.
func sloResult(t threshold.Threshold, runs []*Report) SLOResult {
	res := SLOResult{Expr: t.Expr, Unit: t.Kind.Unit()}
	var v []float64
	for i, r := range runs {
		name := probeRunName(i, len(runs))
		if r.NotRun != "" {
			res.Note = name + " did not run: " + r.NotRun
			return res
		}
		if why := r.Config.Measures(t.Metric); why != "" {
			res.Note = "does not apply: " + why
			return res
		}
		x, missing, known := measure(r, t.Metric, t.Selector)
		switch {
		case !known:
			res.Note = "unknown metric " + t.Metric
			return res
		case missing == notMeasured:
			res.Note = notMeasured + " (" + name + ")"
			return res
		case missing != "":
			res.Note = notMeasured + ": " + missing + " (" + name + ")"
			return res
		}
		v = append(v, x)
	}
	if len(v) == 0 {
		res.Note = "no run measured it"
		return res
	}
	st := statOf(v)
	res.Measured, res.Min, res.Max = st.Median, st.Min, st.Max
	res.OK = t.Holds(st.Median)
	return res
}

// runFailures are a run's failing verdict reasons that neither a threshold
// of the run nor a passing SLO of the probe tolerates.
func runFailures(r *Report, slos []threshold.Threshold, results []SLOResult) []string {
	var out []string
	for _, why := range r.Verdict.Reasons {
		if !why.Kind.Fails() || why.ToleratedBy != "" || toleratedBySLO(why.Kind, slos, results) {
			continue
		}
		out = append(out, why.Text)
	}
	if len(out) == 0 && !r.Verdict.OK && r.NotRun == "" && len(r.Verdict.Reasons) == 0 {
		out = append(out, "the run's verdict is not ok")
	}
	return out
}

// toleratedBySLO reports whether a passing SLO on the whole run covers a
// reason of kind.
func toleratedBySLO(kind bench.ReasonKind, slos []threshold.Threshold, results []SLOResult) bool {
	for i, t := range slos {
		if t.Selector.Key == "" && results[i].OK && results[i].Note == "" && kind.CoveredBy(t.Metric) {
			return true
		}
	}
	return false
}

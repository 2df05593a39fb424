package reports

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/wssbench/wssbench/bench/threshold"
)

// FindKnee returns where the load stops holding, from the probes: the
// highest passing value below the lowest failing one (Pass 0 when none
// passed below it; Fail 0 when none failed), with the achieved medians of
// the passing probe; nil when no probe ran.
func (s *Search) FindKnee() *Knee {
	if len(s.Probes) == 0 {
		return nil
	}
	k := &Knee{}
	fail := math.Inf(1)
	for _, p := range s.Probes {
		if !p.Pass && p.Value < fail {
			fail = p.Value
		}
	}
	if !math.IsInf(fail, 1) {
		k.Fail = fail
	}
	if pp := s.passingProbe(fail); pp != nil {
		k.Pass, k.FramesPerSec, k.HandshakesPerSec = pp.Value, pp.FramesPerSec.Median, pp.HandshakesPerSec.Median
	}
	return k
}

// passingProbe is the passing probe of the highest value below fail (the
// last one of that value), or nil.
func (s *Search) passingProbe(fail float64) *Probe {
	var best *Probe
	for i := range s.Probes {
		p := &s.Probes[i]
		if p.Pass && p.Value < fail && (best == nil || p.Value >= best.Value) {
			best = p
		}
	}
	return best
}

// KneeProbes are the probes at the knee: the passing one and the first
// failing one (either nil when there is none).
func (s *Search) KneeProbes() (pass, fail *Probe) {
	k := s.Knee
	if k == nil {
		k = s.FindKnee()
	}
	if k == nil {
		return nil, nil
	}
	failAt := math.Inf(1)
	if k.Fail > 0 {
		failAt = k.Fail
	}
	pass = s.passingProbe(failAt)
	for i := range s.Probes {
		if p := &s.Probes[i]; !p.Pass && p.Value == k.Fail {
			fail = p
			break
		}
	}
	return pass, fail
}

// FirstSaturated is the first probe whose generator saturated, or nil.
func (s *Search) FirstSaturated() *Probe {
	for i := range s.Probes {
		if s.Probes[i].Saturated {
			return &s.Probes[i]
		}
	}
	return nil
}

// SetAnswer fills Knee from the probes and Answer from the knee and Stop
// (which the caller sets first): what the server holds, between which
// probes, under which SLOs, and what failed first.
func (s *Search) SetAnswer() {
	s.Knee = s.FindKnee()
	s.Answer = s.answer()
}

func (s *Search) answer() string {
	pass, fail := s.KneeProbes()
	with := ""
	if len(s.SLO) > 0 {
		with = " with " + joinAnd(s.SLO)
	}
	switch s.Stop {
	case StopKnee:
		if pass == nil || fail == nil {
			break
		}
		return fmt.Sprintf("holds %s (%s)%s; %s", s.capacity(pass), s.between(pass, fail), with, s.whyFailed(fail))
	case StopHoldsTo:
		if pass == nil {
			break
		}
		return fmt.Sprintf("holds at least %s up to --to (%s, the highest probe, passed)%s; raise --to to find where it stops holding",
			s.capacity(pass), s.at(pass), with)
	case StopFailsAtFrom:
		if fail == nil {
			break
		}
		return fmt.Sprintf("fails already at --from (%s)%s: %s; lower --from", s.at(fail), slosFor(s.SLO), s.whyFailed(fail))
	case StopGenerator:
		return s.generatorAnswer(pass)
	case StopInterrupted:
		return fmt.Sprintf("interrupted after %s (partial): %s", plural(len(s.Probes), "probe"), s.soFar(pass, fail))
	case StopError:
		return fmt.Sprintf("stopped on an error after %s: %s", plural(len(s.Probes), "probe"), s.soFar(pass, fail))
	}
	return s.soFar(pass, fail)
}

// generatorAnswer says that the driver, not the server, was the limit.
func (s *Search) generatorAnswer(pass *Probe) string {
	sat := s.FirstSaturated()
	if sat == nil {
		return "the driver is the limit (it saturated): the server's capacity is above what the driver can offer; use --procs 2 or more machines (--shard)"
	}
	procs := 1
	for _, r := range sat.Runs {
		procs = max(procs, r.Procs)
	}
	what := "one driver process"
	if procs > 1 {
		what = fmt.Sprintf("%d driver processes", procs)
	}
	out := fmt.Sprintf("the driver is the limit at %s (it saturated): the server's capacity is above what %s can offer; use --procs %d or more machines (--shard)",
		s.at(sat), what, 2*procs)
	if pass != nil && pass.Value <= sat.Value {
		out = fmt.Sprintf("holds at least %s (%s passed)%s; %s", s.capacity(pass), s.at(pass), withSLOs(s.SLO), out)
	}
	return out
}

// soFar is the interval known so far.
func (s *Search) soFar(pass, fail *Probe) string {
	switch {
	case pass != nil && fail != nil:
		return fmt.Sprintf("holds %s so far (%s)%s; %s", s.capacity(pass), s.between(pass, fail), withSLOs(s.SLO), s.whyFailed(fail))
	case pass != nil:
		return fmt.Sprintf("holds at least %s so far (%s passed)%s", s.capacity(pass), s.at(pass), withSLOs(s.SLO))
	case fail != nil:
		return fmt.Sprintf("no probe passed; %s failed: %s", s.at(fail), s.whyFailed(fail))
	}
	return "no probe finished"
}

func withSLOs(slo []string) string {
	if len(slo) == 0 {
		return ""
	}
	return " with " + joinAnd(slo)
}

func slosFor(slo []string) string {
	if len(slo) == 0 {
		return ""
	}
	return " for " + joinAnd(slo)
}

// capacity is the figure the search answers with, at the passing probe:
// achieved frames/s on the msg-rate axis, connections on conns,
// handshakes/s on connect-rate.
func (s *Search) capacity(p *Probe) string {
	v, unit := s.CapacityOf(p)
	return qty(v) + " " + unit
}

// CapacityOf is the figure the search answers with at probe p, and its unit.
func (s *Search) CapacityOf(p *Probe) (float64, string) {
	switch s.Vary {
	case VaryConns:
		return p.Value, "connections"
	case VaryConnectRate:
		return p.HandshakesPerSec.Median, "handshakes/s"
	}
	return p.FramesPerSec.Median, "frames/s"
}

// CapacityStat is the capacity figure at p with its spread over the probe's runs.
func (s *Search) CapacityStat(p *Probe) Stat {
	switch s.Vary {
	case VaryConns:
		return Stat{Median: p.Value, Min: p.Value, Max: p.Value, N: 1}
	case VaryConnectRate:
		return p.HandshakesPerSec
	}
	return p.FramesPerSec
}

// at names the load of probe p: offered frames/s on the msg-rate axis,
// connections on conns, the connect rate on connect-rate.
func (s *Search) at(p *Probe) string {
	switch s.Vary {
	case VaryConns:
		return qty(p.Value) + " connections"
	case VaryConnectRate:
		return qty(p.Value) + "/s"
	case VaryMsgRate:
		if p.OfferedPerSec > 0 {
			return qty(p.OfferedPerSec) + "/s"
		}
	}
	return qty(p.Value) + " " + s.Unit
}

// between names the passing and the failing probe.
func (s *Search) between(pass, fail *Probe) string {
	switch s.Vary {
	case VaryMsgRate:
		return fmt.Sprintf("between %s offered, which passed, and %s, which failed: --msg-rate %s and %s per connection",
			s.at(pass), s.at(fail), qty(pass.Value), qty(fail.Value))
	case VaryConnectRate:
		return fmt.Sprintf("between --connect-rate %s, which passed, and %s, which failed", s.at(pass), s.at(fail))
	}
	return fmt.Sprintf("between %s, which passed, and %s, which failed", qty(pass.Value), s.at(fail))
}

// whyFailed says why probe p failed: its first failing SLO, or its runs'
// failures, and its errors by class.
func (s *Search) whyFailed(p *Probe) string {
	var why string
	for _, r := range p.SLO {
		if r.OK {
			continue
		}
		what := r.Note
		if what == "" {
			what = threshold.Format(sloKind(r.Expr), r.Measured)
		}
		why = fmt.Sprintf("the first SLO to fail was %s (%s at %s)", sloName(r.Expr), what, s.at(p))
		break
	}
	if why == "" {
		why = fmt.Sprintf("the probe at %s failed", s.at(p))
		if len(p.Failed) > 0 {
			why += ": " + strings.Join(p.Failed, "; ")
		}
	}
	if len(p.Errors) > 0 {
		why += "; errors there: " + counts(p.Errors)
	}
	if p.Saturated {
		why += "; the generator saturated there, so that probe's latency is suspect"
	}
	return why
}

// sloName is the metric an SLO expression names ("ws_rtt.p99").
func sloName(expr string) string {
	if t, err := threshold.Parse(expr); err == nil {
		return t.Name()
	}
	return expr
}

func sloKind(expr string) threshold.Kind {
	if t, err := threshold.Parse(expr); err == nil {
		return t.Kind
	}
	return threshold.Count
}

// joinAnd joins "a", "a and b", "a, b and c".
func joinAnd(list []string) string {
	if len(list) <= 1 {
		return strings.Join(list, "")
	}
	return strings.Join(list[:len(list)-1], ", ") + " and " + list[len(list)-1]
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// qty writes a quantity plainly: 4,100, 410, 40.5, 4.25.
func qty(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000:
		return Grouped(int64(math.Round(v)))
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0")
	case a == 0:
		return "0"
	}
	return strings.TrimRight(strings.TrimRight(strconv.FormatFloat(v, 'f', 2, 64), "0"), ".")
}

// Passed reports whether the search found a capacity it can state and
// compare: a knee, or every probe up to --to passing.
func (s *Search) Passed() bool {
	return (s.Stop == StopKnee || s.Stop == StopHoldsTo) && s.Knee != nil && s.Knee.Pass > 0
}

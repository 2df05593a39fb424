package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wssbench/wssbench/bench"
)

// SearchCompare is a capacity search against another: the capacity each
// stated, at the passing probe of its knee.
type SearchCompare struct {
	Vary string
	SLO  []string
	// Unit is the capacity's unit: frames/s, connections or handshakes/s.
	Unit string
	// Capacity is the gated figure (median and the passing probe's spread);
	// Knee the passing probe's value on the axis and Frames its achieved
	// frames/s, shown beside it.
	Capacity, Knee, Frames Delta
	// Line says what happened to the capacity: "capacity fell 12.2% (4,100 -> 3,600 frames/s)".
	Line string
}

// axisConfigKey is the config key a search varies, which differs between
// its probes and so between two searches of the same setup.
var axisConfigKey = map[string]string{VaryMsgRate: "msg_rate", VaryConns: "conns", VaryConnectRate: "connect_rate"}

// compareSearches compares two capacity searches: the capacity at the
// candidate's knee against the baseline's. A fall beyond the tolerance is a
// regression unless the passing probes' min..max ranges overlap (with
// --repeat). Searches of different axes, SLOs or setups are refused unless
// opt.Force; a search that found no capacity, and a run report, are refused.
func compareSearches(base, cand *Document, opt CompareOptions) (*CompareResult, error) {
	refuse := func(format string, a ...any) (*CompareResult, error) {
		return nil, &bench.InputError{Err: fmt.Errorf(format, a...)}
	}
	switch {
	case base.Search == nil:
		return refuse("%s is a run report and %s a capacity search (wssbench search): compare a search with a search, a run with a run", base.Name, cand.Name)
	case cand.Search == nil:
		return refuse("%s is a capacity search (wssbench search) and %s a run report: compare a search with a search, a run with a run", base.Name, cand.Name)
	case len(opt.Metrics) > 0:
		return refuse("--metric names figures of runs; capacity searches are compared by their capacity: leave out --metric")
	}
	for _, d := range []*Document{base, cand} {
		if s := &d.Search.Search; !s.Passed() {
			return refuse("%s found no capacity to compare (stop %s: %s); a search compares once it has a knee, or held up to --to", d.Name, cmpOr(s.Stop, "unset"), cmpOr(s.Answer, "no answer"))
		}
	}
	bs, cs := &base.Search.Search, &cand.Search.Search
	diffs := searchDiffs(bs, cs)
	if len(diffs) > 0 && !opt.Force {
		return refuse("%s and %s are searches of different setups, so a change would not be a regression: %s; compare searches of the same axis, SLOs and config, or pass --force",
			base.Name, cand.Name, strings.Join(diffs, "; "))
	}
	res := &CompareResult{Base: base, Cand: cand, Tolerance: opt.Tolerance, ConfigDiffs: diffs}
	bp, _ := bs.KneeProbes()
	cp, _ := cs.KneeProbes()
	for _, x := range []struct {
		p    *Probe
		name string
	}{{bp, base.Name}, {cp, cand.Name}} {
		if x.p == nil {
			return refuse("%s has a knee but no passing probe below its fail: the report is not as wssbench search writes it", x.name)
		}
	}
	sc := &SearchCompare{Vary: cs.Vary, SLO: cs.SLO}
	_, sc.Unit = cs.CapacityOf(cp)
	sc.Capacity = Delta{Metric: "capacity (" + sc.Unit + ")", Base: bs.CapacityStat(bp), Cand: cs.CapacityStat(cp), Tolerance: opt.Tolerance}
	judge(&sc.Capacity, true)
	one := func(v float64) Stat { return Stat{Median: v, Min: v, Max: v, N: 1} }
	sc.Knee = Delta{Metric: "knee (" + cs.Vary + ", passing)", Base: one(bp.Value), Cand: one(cp.Value), Tolerance: opt.Tolerance}
	judge(&sc.Knee, true)
	sc.Frames = Delta{Metric: "frames/s at the knee", Base: bp.FramesPerSec, Cand: cp.FramesPerSec, Tolerance: opt.Tolerance}
	judge(&sc.Frames, true)
	for _, d := range []*Delta{&sc.Knee, &sc.Frames} {
		d.Regression, d.Verdict = false, "shown, not gated"
	}
	if cs.Stop == StopHoldsTo && sc.Capacity.Regression {
		sc.Capacity.Regression, sc.Capacity.Verdict = false, "not proven: the candidate held every probe up to its --to"
		res.Notes = append(res.Notes, fmt.Sprintf("%s held every probe up to --to %s: its capacity is a lower bound; raise --to to find its knee", cand.Name, qty(cs.To)))
	}
	if bs.Stop == StopHoldsTo {
		res.Notes = append(res.Notes, fmt.Sprintf("%s held every probe up to --to %s: its capacity is a lower bound", base.Name, qty(bs.To)))
	}
	sc.Line = capacityLine(sc.Capacity, sc.Unit)
	if sc.Capacity.Regression {
		res.Failures = append(res.Failures, fmt.Sprintf("regression: %s, tolerance %s", sc.Line, pct(opt.Tolerance)))
	}
	res.Search, res.Deltas = sc, []Delta{sc.Capacity, sc.Knee, sc.Frames}
	switch {
	case !cp.Saturated:
	case opt.AllowSaturated:
		res.Warnings = append(res.Warnings, fmt.Sprintf("the generator saturated at the candidate's passing probe (%s): its figures are suspect (gated anyway: --allow-saturated)", cs.at(cp)))
	default:
		res.Failures = append(res.Failures, fmt.Sprintf("the generator saturated at the candidate's passing probe (%s): its capacity measures the driver as much as the server, so the gate cannot pass it; use --procs or more machines (--shard), or pass --allow-saturated", cs.at(cp)))
		res.SaturatedFailures++
	}
	if bp.Saturated {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the generator saturated at the baseline's passing probe (%s): the comparison may mislead", bs.at(bp)))
	}
	if br, cr := firstRun(bs), firstRun(cs); br != nil && cr != nil {
		if bb, cb := br.Build, cr.Build; bb.CPUModel != cb.CPUModel || bb.Cores != cb.Cores {
			res.Notes = append(res.Notes, fmt.Sprintf("the searches come from different machines (%s, %d cores against %s, %d cores): capacity may differ for that reason",
				bb.CPUModel, bb.Cores, cb.CPUModel, cb.Cores))
		}
	}
	for _, d := range diffs {
		res.Notes = append(res.Notes, "setup differs (--force): "+d)
	}
	return res, nil
}

// capacityLine says how the capacity changed, plainly.
func capacityLine(d Delta, unit string) string {
	b, c := qty(d.Base.Median), qty(d.Cand.Median)
	switch {
	case d.Change < 0:
		return fmt.Sprintf("capacity fell %s (%s -> %s %s)", absPct(d.Change), b, c, unit)
	case d.Change > 0:
		return fmt.Sprintf("capacity rose %s (%s -> %s %s)", absPct(d.Change), b, c, unit)
	}
	return fmt.Sprintf("capacity unchanged (%s %s)", c, unit)
}

func absPct(f float64) string {
	if math.IsInf(f, 0) {
		return "inf%"
	}
	return fmt.Sprintf("%.1f%%", math.Abs(f)*100)
}

// searchDiffs lists what differs between two searches' setups: the axis,
// the SLOs, and the config of their runs but for the key the axis varies.
func searchDiffs(b, c *Search) []string {
	var out []string
	if b.Vary != c.Vary {
		out = append(out, fmt.Sprintf("axis (baseline %s, candidate %s)", b.Vary, c.Vary))
	}
	bs, cs := slices.Clone(b.SLO), slices.Clone(c.SLO)
	slices.Sort(bs)
	slices.Sort(cs)
	if !slices.Equal(bs, cs) {
		out = append(out, fmt.Sprintf("SLO (baseline %s, candidate %s)", shown(strings.Join(bs, ", ")), shown(strings.Join(cs, ", "))))
	}
	br, cr := firstRun(b), firstRun(c)
	if br == nil || cr == nil {
		return out
	}
	out = append(out, configKeyDiffs(configMap(br), configMap(cr), axisConfigKey[b.Vary], axisConfigKey[c.Vary])...)
	if bt, ct := br.Target.Topology, cr.Target.Topology; bt != ct {
		out = append(out, fmt.Sprintf("topology (baseline %s, candidate %s)", shown(bt), shown(ct)))
	}
	return out
}

// configMap is a run's config as JSON values by key.
func configMap(r *Report) map[string]json.RawMessage {
	b, err := json.Marshal(r.Config)
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// writeSearchCompare writes a comparison of two capacity searches: the
// capacity, the knee and frames/s there, the capacity line, notes and the
// result.
func writeSearchCompare(w io.Writer, c *CompareResult) error {
	p := &printer{w: w}
	sc := c.Search
	bs, cs := &c.Base.Search.Search, &c.Cand.Search.Search
	p.f("wssbench compare: capacity search baseline %s (%s, %s) against candidate %s (%s, %s), tolerance %s\n",
		c.Base.Name, bs.Vary, plural(len(bs.Probes), "probe"), c.Cand.Name, cs.Vary, plural(len(cs.Probes), "probe"), pct(c.Tolerance))
	if len(sc.SLO) > 0 {
		p.f("SLO: %s\n", strings.Join(sc.SLO, ", "))
	}
	rows := [][]string{{"figure", "baseline", "candidate", "change", "verdict"}}
	for _, d := range c.Deltas {
		rows = append(rows, []string{d.Metric, statCell(d.Base, qty), statCell(d.Cand, qty), signedPct(d.Change), d.Verdict})
	}
	width := make([]int, 4)
	for _, r := range rows {
		for i := range width {
			width[i] = max(width[i], utf8.RuneCountInString(r[i]))
		}
	}
	p.f("\n")
	for _, r := range rows {
		p.f("%-*s  %*s  %*s  %*s  %s\n", width[0], r[0], width[1], r[1], width[2], r[2], width[3], r[3], r[4])
	}
	p.f("\n%s\n", sc.Line)
	for _, n := range c.Notes {
		p.f("note: %s\n", n)
	}
	for _, wn := range c.Warnings {
		p.f("warning: %s\n", wn)
	}
	switch {
	case !c.Failed():
		p.f("result: ok, no capacity regression beyond %s\n", pct(c.Tolerance))
	case sc.Capacity.Regression:
		p.f("result: FAIL, %s\n", sc.Line)
	default:
		p.f("result: FAIL, the candidate's generator saturated (--allow-saturated gates on it anyway)\n")
	}
	return p.err
}

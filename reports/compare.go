package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/threshold"
)

// DefaultCompareMetrics are what compare checks when no --metric is given:
// connect and handshake latency, frame round trips, errors, rates and CPU cost.
var DefaultCompareMetrics = []string{
	"connect_total.p50", "connect_total.p99", "tls_handshake.p50", "tls_handshake.p99",
	"ws_rtt.p50", "ws_rtt.p99", "ws_rtt.p999", "errors.rate", "connect_rate", "frames.rate",
	"driver_us_per_handshake", "driver_us_per_frame", "target_us_per_handshake", "target_us_per_frame",
	"proxy_us_per_handshake", "proxy_us_per_frame",
}

// workloadCompareMetrics are compared too, when no --metric is given and
// both reports measured them: delivery latency and reach, which only runs
// of stamped deliveries have.
var workloadCompareMetrics = []string{"delivery.p50", "delivery.p99", "reach"}

// ignoredConfigKeys differ between two runs of the same setup: names, trust
// files, pass/fail settings and how often it ran. target is compared without
// its port (see sameTarget) and topology by the set of topologies that ran.
var ignoredConfigKeys = map[string]bool{"label": true, "ca": true, "thresholds": true, "repeat": true, "topology": true, "target": true}

// CompareOptions say what a comparison checks.
type CompareOptions struct {
	// Tolerance is how much worse (a fraction: 0.1 is 10%) a metric may get
	// before it is a regression.
	Tolerance float64
	// Metrics are the names to compare (threshold.Names); empty means
	// DefaultCompareMetrics. PerMetric overrides Tolerance for some.
	Metrics   []string
	PerMetric map[string]float64
	// Force compares reports whose configs differ (the differences are listed).
	Force bool
	// AllowSaturated gates on a candidate whose generator saturated
	// (verdict.saturated) instead of failing it: its latency is then suspect,
	// and the comparison says so in a warning.
	AllowSaturated bool
}

// Delta is one metric of one topology, baseline against candidate.
type Delta struct {
	Topology, Metric string
	Kind             threshold.Kind
	// Base and Cand are medians and min..max over the runs that measured it.
	Base, Cand Stat
	// Change is (cand - base) / base; +Inf when base is 0 and cand is not.
	Change    float64
	Tolerance float64
	// Verdict is ok, better, "ok, within the runs' spread", "not measured" or REGRESSION.
	Verdict    string
	Regression bool
}

// CompareResult is a baseline against a candidate.
type CompareResult struct {
	Base, Cand *Document
	Tolerance  float64
	Deltas     []Delta
	// ConfigDiffs are config keys that differ (only with Force; otherwise Compare refuses).
	ConfigDiffs []string
	// Notes are things to know that do not fail the gate; Warnings are
	// things that make its figures suspect (a saturated generator) without
	// failing it; Failures fail it.
	Notes, Warnings, Failures []string
	// SaturatedFailures counts the Failures that are saturated candidate runs.
	SaturatedFailures int
	// Search is set for a comparison of two capacity searches; then Deltas
	// are its capacity figures.
	Search *SearchCompare
}

// Failed reports whether the gate failed.
func (c *CompareResult) Failed() bool { return len(c.Failures) > 0 }

// ParseTolerance reads a percentage such as "10%" as a fraction (0.1). A bare
// number other than 0 is refused, as threshold.ParsePercent refuses it: one
// rule for shares across compare and the thresholds.
func ParseTolerance(s string) (float64, error) {
	v, err := threshold.ParsePercent(s)
	if err != nil {
		return 0, &bench.InputError{Err: fmt.Errorf("tolerance %w", err)}
	}
	return v, nil
}

// ParseMetricSpec reads "NAME" or "NAME=TOL" (such as "ws_rtt.p99=25%"),
// checking NAME against the catalogue; tol is -1 when not given.
func ParseMetricSpec(spec string) (name string, tol float64, err error) {
	name, t, hasTol := strings.Cut(strings.TrimSpace(spec), "=")
	name = strings.TrimSpace(name)
	if _, ok := threshold.Lookup(name); !ok {
		msg := fmt.Sprintf("--metric %q is not a metric", name)
		if s := threshold.Closest(name); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return "", 0, &bench.InputError{Err: fmt.Errorf("%s Valid metrics: %s", msg, threshold.Summary())}
	}
	if !hasTol {
		return name, -1, nil
	}
	tol, err = ParseTolerance(t)
	return name, tol, err
}

// Compare checks a candidate report against a baseline. Reports whose
// configs differ are refused with an *bench.InputError listing the keys,
// unless opt.Force. Each metric is compared per topology on the medians of
// the runs; a change worse than the tolerance is a regression, unless the
// reports hold repeated runs and their min..max ranges overlap.
func Compare(base, cand *Document, opt CompareOptions) (*CompareResult, error) {
	if base.Search != nil || cand.Search != nil {
		return compareSearches(base, cand, opt)
	}
	res := &CompareResult{Base: base, Cand: cand, Tolerance: opt.Tolerance}
	diffs := configDiffs(base, cand)
	if len(diffs) > 0 && !opt.Force {
		return nil, &bench.InputError{Err: fmt.Errorf("%s and %s come from different setups, so a change would not be a regression: %s; compare runs of the same config, or pass --force",
			base.Name, cand.Name, strings.Join(diffs, "; "))}
	}
	res.ConfigDiffs = diffs
	metrics := opt.Metrics
	if len(metrics) == 0 {
		metrics = append([]string{}, DefaultCompareMetrics...)
		for _, m := range workloadCompareMetrics {
			if len(measuredValues(base.Runs, m)) > 0 && len(measuredValues(cand.Runs, m)) > 0 {
				metrics = append(metrics, m)
			}
		}
	}
	bt, ct := byTopology(base), byTopology(cand)
	for _, topo := range sortedTopologies(bt) {
		if _, ok := ct[topo]; !ok {
			continue
		}
		for _, m := range metrics {
			tol := opt.Tolerance
			if t, ok := opt.PerMetric[m]; ok {
				tol = t
			}
			d := compareMetric(topo, m, bt[topo], ct[topo], tol)
			res.Deltas = append(res.Deltas, d)
			if d.Regression {
				res.Failures = append(res.Failures, fmt.Sprintf("regression: %s%s %s (%s → %s), tolerance %s",
					d.Metric, topoSuffix(topo, bt), signedPct(d.Change), fmtStat(d.Kind, d.Base.Median), fmtStat(d.Kind, d.Cand.Median), pct(d.Tolerance)))
			}
		}
	}
	res.Notes, res.Failures = append(res.Notes, verdictNotes(base, cand)...), append(res.Failures, candidateFailures(cand)...)
	res.saturation(base, cand, opt.AllowSaturated)
	if bb, cb := base.Runs[0].Build, cand.Runs[0].Build; bb.CPUModel != cb.CPUModel || bb.Cores != cb.Cores {
		res.Notes = append(res.Notes, fmt.Sprintf("the reports come from different machines (%s, %d cores against %s, %d cores): latency and CPU figures may differ for that reason",
			bb.CPUModel, bb.Cores, cb.CPUModel, cb.Cores))
	}
	for _, d := range diffs {
		res.Notes = append(res.Notes, "config differs (--force): "+d)
	}
	return res, nil
}

func topoSuffix(topo string, bt map[string][]*Report) string {
	if len(bt) == 1 && topo == bench.TopologyDirect {
		return ""
	}
	return " [" + topo + "]"
}

func byTopology(d *Document) map[string][]*Report {
	out := map[string][]*Report{}
	for _, r := range d.Runs {
		out[topologyOf(r)] = append(out[topologyOf(r)], r)
	}
	return out
}

// compareMetric compares one metric over the runs of one topology.
func compareMetric(topo, name string, base, cand []*Report, tol float64) Delta {
	in := info(name)
	d := Delta{Topology: topo, Metric: name, Kind: in.Kind, Tolerance: tol}
	bv, cv := measuredValues(base, name), measuredValues(cand, name)
	if len(bv) == 0 || len(cv) == 0 {
		d.Verdict = "not measured"
		return d
	}
	d.Base, d.Cand = statOf(bv), statOf(cv)
	judge(&d, in.HigherIsBetter)
	return d
}

// judge sets a delta's change and verdict from its medians and spreads: a
// change for the worse beyond the tolerance is a regression, unless runs
// were repeated and their min..max ranges overlap.
func judge(d *Delta, higherIsBetter bool) {
	tol := d.Tolerance
	b, c := d.Base.Median, d.Cand.Median
	switch {
	case b == c:
		d.Change = 0
	case b == 0:
		d.Change = math.Inf(1)
	default:
		d.Change = (c - b) / b
	}
	worse := c > b
	if higherIsBetter {
		worse = c < b
	}
	beyond := math.Abs(d.Change) > tol
	switch {
	case worse && beyond && (d.Base.N > 1 || d.Cand.N > 1) && d.Cand.Min <= d.Base.Max && d.Base.Min <= d.Cand.Max:
		d.Verdict = "ok, within the runs' spread"
	case worse && beyond:
		d.Verdict, d.Regression = fmt.Sprintf("REGRESSION: worse by more than %s", pct(tol)), true
	case beyond:
		d.Verdict = "better"
	default:
		d.Verdict = "ok"
	}
}

func measuredValues(runs []*Report, name string) []float64 {
	var out []float64
	for _, r := range runs {
		if v, measured, _ := Value(r, name); measured {
			out = append(out, v)
		}
	}
	return out
}

// verdictNotes warns about baseline runs that were not clean.
func verdictNotes(base, cand *Document) []string {
	var out []string
	for i, r := range base.Runs {
		if !r.Verdict.OK {
			out = append(out, fmt.Sprintf("baseline %s was not ok (%s): its figures may mislead", runName(base, i), r.Verdict.Text()))
		}
	}
	return out
}

// saturation fails the gate on a clean candidate run whose generator
// saturated, unless allowed (then it warns), and warns about a saturated
// baseline run. A saturated run's latency measures the driver as much as the
// target, so a comparison of it is no evidence either way. A candidate run
// that is not ok already failed in candidateFailures.
func (c *CompareResult) saturation(base, cand *Document, allowed bool) {
	for i, r := range base.Runs {
		if r.Verdict.Saturated {
			c.Warnings = append(c.Warnings, fmt.Sprintf("baseline %s of %s: %s: its latency is suspect, so the comparison may mislead",
				runName(base, i), base.Name, saturationReasons(r.Verdict)))
		}
	}
	for i, r := range cand.Runs {
		switch {
		case !r.Verdict.Saturated || !r.Verdict.OK:
		case allowed:
			c.Warnings = append(c.Warnings, fmt.Sprintf("candidate %s of %s: %s: its latency is suspect (gated anyway: --allow-saturated)",
				runName(cand, i), cand.Name, saturationReasons(r.Verdict)))
		default:
			c.Failures = append(c.Failures, fmt.Sprintf("candidate %s of %s: %s: its latency is suspect, so the gate cannot pass it; give the driver more cores or less load (fewer --conns, a lower --msg-rate), or pass --allow-saturated to gate on it anyway",
				runName(cand, i), cand.Name, saturationReasons(r.Verdict)))
			c.SaturatedFailures++
		}
	}
}

// saturationReasons are the verdict's reasons of kind saturated: why the
// generator could not keep its schedule.
func saturationReasons(v Verdict) string {
	var out []string
	for _, r := range v.Reasons {
		if r.Kind == bench.ReasonSaturated {
			out = append(out, r.Text)
		}
	}
	if len(out) == 0 {
		return "generator saturated"
	}
	return strings.Join(out, "; ")
}

// candidateFailures fails the gate on candidate runs that were not clean.
func candidateFailures(cand *Document) []string {
	var out []string
	for i, r := range cand.Runs {
		if !r.Verdict.OK {
			out = append(out, fmt.Sprintf("candidate %s failed: %s", runName(cand, i), r.Verdict.Text()))
		}
	}
	return out
}

func runName(d *Document, i int) string {
	if !d.Series {
		return "run"
	}
	return (&Series{Runs: d.Runs}).RunNames()[i]
}

// configDiffs lists the config keys whose values differ, ignoring those that
// legitimately differ between two runs of the same setup.
func configDiffs(base, cand *Document) []string {
	out := configKeyDiffs(base.configs[0], cand.configs[0])
	bt, ct := strings.Join(sortedKeys(byTopology(base)), ","), strings.Join(sortedKeys(byTopology(cand)), ",")
	if bt != ct {
		out = append(out, fmt.Sprintf("topology (baseline %s, candidate %s)", bt, ct))
	}
	return out
}

// configKeyDiffs lists the keys of two raw configs whose values differ, and
// their targets when those differ; ignoredConfigKeys and skip (keys a caller
// expects to differ) are left out.
func configKeyDiffs(bc, cc map[string]json.RawMessage, skip ...string) []string {
	var out []string
	keys := map[string]bool{}
	for k := range bc {
		keys[k] = true
	}
	for k := range cc {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		if ignoredConfigKeys[k] || slices.Contains(skip, k) {
			continue
		}
		if b, c := normJSON(bc[k]), normJSON(cc[k]); b != c {
			out = append(out, fmt.Sprintf("%s (baseline %s, candidate %s)", k, shown(b), shown(c)))
		}
	}
	if b, c := targetOf(bc), targetOf(cc); b != c {
		out = append(out, fmt.Sprintf("target (baseline %s, candidate %s)", shown(b), shown(c)))
	}
	return out
}

// normJSON compacts a config value; JSON zero values and absence are the same
// (so a report written before a key existed matches one that leaves it unset).
func normJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	switch s := buf.String(); s {
	case "null", `""`, "[]", "{}", "0", "false":
		return ""
	default:
		return s
	}
}

func shown(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}

// targetOf is the config's target URL without its port: the built-in target
// (no URL) or a server restarted on another port is the same setup.
func targetOf(cfg map[string]json.RawMessage) string {
	var s string
	if err := json.Unmarshal(cfg["target"], &s); err != nil || s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Scheme + "://" + u.Hostname() + u.Path
}

// pct writes a fraction as a percentage: 0.1 is "10%".
func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', -1, 64) + "%" }

// signedPct writes a change with its sign: "+12.5%", "-3.0%", "+inf%".
func signedPct(f float64) string {
	if math.IsInf(f, 1) {
		return "+inf%"
	}
	return fmt.Sprintf("%+.1f%%", f*100)
}

func fmtStat(k threshold.Kind, v float64) string { return threshold.Format(k, v) }

// sortedTopologies is the order topologies are printed in: direct first.
func sortedTopologies(m map[string][]*Report) []string {
	out := sortedKeys(m)
	sort.SliceStable(out, func(i, j int) bool { return out[i] == bench.TopologyDirect && out[j] != bench.TopologyDirect })
	return out
}

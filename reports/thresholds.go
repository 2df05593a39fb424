package reports

import (
	"fmt"
	"strings"

	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/threshold"
)

// ThresholdResult is one threshold expression checked against a run.
type ThresholdResult struct {
	// Expr is the expression as written; Metric the figure it names.
	Expr   string `json:"expr"`
	Metric string `json:"metric"`
	// Measured is the run's figure in Unit: "us" (latency, CPU cost),
	// "ratio" (a fraction), "count" or "per_s".
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	OK       bool    `json:"ok"`
	// Note says why a figure was not measured, or that it did not apply to this run.
	Note string `json:"note,omitempty"`
}

// String is the threshold and its measured figure: "ws_rtt.p99 < 5ms (measured 7.21ms)".
func (t ThresholdResult) String() string {
	if t.Note != "" {
		return fmt.Sprintf("%s (%s)", t.Expr, t.Note)
	}
	return fmt.Sprintf("%s (measured %s)", t.Expr, threshold.Format(info(t.Metric).Kind, t.Measured))
}

// applyThresholds checks the run's config thresholds against its figures and
// records the results. A figure the run could not measure fails its threshold,
// except a proxy figure in a run without a proxy (one topology of a
// comparison), which does not apply. A passing threshold on a failure count
// (errors.rate, errors.count, connections.failed, frames.lost) is the user's
// tolerance for that failure: the verdict lists it, but is ok.
func applyThresholds(r *Report) {
	r.Thresholds = nil
	for _, expr := range r.Config.Thresholds {
		t, err := threshold.Parse(expr)
		if err != nil {
			r.Thresholds = append(r.Thresholds, ThresholdResult{Expr: expr, Note: err.Error()})
			continue
		}
		v, measured, _ := Value(r, t.Metric)
		res := ThresholdResult{Expr: t.Expr, Metric: t.Metric, Measured: v, Unit: t.Kind.Unit()}
		switch {
		case measured:
			res.OK = t.Holds(v)
		case strings.HasPrefix(t.Metric, "proxy_") && !proxyMeasured(r):
			res.OK, res.Note = true, "does not apply: no proxy in this run"
		default:
			res.Note = "not measured in this run"
		}
		r.Thresholds = append(r.Thresholds, res)
	}
	tolerate(r)
}

// tolerate turns a failed verdict ok when every failure it names is covered
// by a passing threshold on that failure's count. An interrupted run is never
// tolerated.
func tolerate(r *Report) {
	if r.Verdict.OK || r.Partial || len(r.Thresholds) == 0 {
		return
	}
	passed := map[string]string{}
	for _, t := range r.Thresholds {
		if t.OK && t.Note == "" {
			passed[t.Metric] = t.Expr
		}
	}
	errorsCover := passed["errors.rate"]
	if errorsCover == "" {
		errorsCover = passed["errors.count"]
	}
	// The failure reasons verdict writes, in its order, before the health reasons.
	type failure struct {
		present bool
		cover   string
	}
	failedCover := passed["connections.failed"]
	if failedCover == "" {
		failedCover = errorsCover
	}
	failures := []failure{
		{r.Connections.Failed > 0, failedCover},
		{ErrorCount(r)-r.Connections.Failed > 0, errorsCover},
		{r.Frames.Lost > 0, passed["frames.lost"]},
	}
	n := 0
	for _, f := range failures {
		if f.present {
			if f.cover == "" {
				return
			}
			n++
		}
	}
	if n > len(r.Verdict.Reasons) {
		return
	}
	i := 0
	for _, f := range failures {
		if f.present {
			r.Verdict.Reasons[i] = fmt.Sprintf("%s, within threshold %s", r.Verdict.Reasons[i], f.cover)
			i++
		}
	}
	r.Verdict.OK = true
}

// ThresholdFailures returns one line per failed threshold of a run, such as
// "threshold failed: ws_rtt.p99 < 5ms (measured 7.21ms)".
func ThresholdFailures(r *Report) []string {
	var out []string
	for _, t := range r.Thresholds {
		if !t.OK {
			out = append(out, "threshold failed: "+t.String())
		}
	}
	return out
}

// SeriesThresholdFailures returns the failed thresholds of every run of a
// series, each naming its run: "threshold failed in builtin run 2 of 3: ...".
func SeriesThresholdFailures(sr *SeriesReport) []string {
	var out []string
	names := RunNames(sr)
	for i, r := range sr.Runs {
		for _, t := range r.Thresholds {
			if !t.OK {
				out = append(out, fmt.Sprintf("threshold failed in %s: %s", names[i], t))
			}
		}
	}
	return out
}

// RunNames names each run of a series by topology and repetition, such as
// "builtin run 2 of 3" (or just "builtin" when it ran once).
func RunNames(sr *SeriesReport) []string {
	total, seen := map[string]int{}, map[string]int{}
	for _, r := range sr.Runs {
		total[topologyOf(r)]++
	}
	out := make([]string, len(sr.Runs))
	for i, r := range sr.Runs {
		t := topologyOf(r)
		seen[t]++
		out[i] = t
		if total[t] > 1 {
			out[i] = fmt.Sprintf("%s run %d of %d", t, seen[t], total[t])
		}
	}
	return out
}

// topologyOf names the cell a run belongs to: its topology in a comparison,
// its topology and matrix values in a matrix.
func topologyOf(r *Report) string {
	if k := cellKey(r); k != "" {
		return k
	}
	return bench.TopologyDirect
}

// writeThresholds adds the thresholds' lines to a run's summary.
func writeThresholds(p *printer, ts []ThresholdResult) {
	for i, t := range ts {
		head := ""
		if i == 0 {
			head = "thresholds"
		}
		mark := "ok  "
		if !t.OK {
			mark = "FAIL"
		}
		p.f("%-12s %s %s\n", head, mark, t)
	}
}

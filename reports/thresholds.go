package reports

import (
	"fmt"

	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/threshold"
)

// ThresholdResult is one threshold expression checked against a run.
type ThresholdResult struct {
	// Expr is the expression as written; Metric the figure it names, and
	// Selector the stage or role it is narrowed to ("stage=peak"), if any.
	Expr     string `json:"expr"`
	Metric   string `json:"metric"`
	Selector string `json:"selector,omitempty"`
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

// applyThresholds checks the thresholds against the run's figures and records
// the results. A figure the run's config does not measure (bench's
// Config.Measures: a proxy figure in the direct cell of a comparison) does
// not apply; one it should have measured and did not fails. A passing
// threshold on a figure that covers a failure's kind (errors.rate covers
// failed connections and errors, frames.lost lost frames) tolerates that
// failure: the reason stays, marked, and the verdict is ok only when every
// failing reason is tolerated. TLS mismatches, interrupts, dead children and
// crosscheck differences are never tolerated, nor is a failure of the whole
// run by a threshold on one stage or role of it. A threshold on a figure the
// run should have and lacks (delivery latency without stamped frames, a
// stage that recorded nothing, a storm that never recovered) fails, its
// note saying why.
func applyThresholds(r *Report, ts []threshold.Threshold) {
	r.Thresholds = nil
	for _, t := range ts {
		v, missing, _ := measure(r, t.Metric, t.Selector)
		res := ThresholdResult{Expr: t.Expr, Metric: t.Metric, Measured: v, Unit: t.Kind.Unit()}
		if sel := t.Selector; sel.Key != "" {
			res.Selector = sel.Key + "=" + sel.Value
		}
		switch why := r.Config.Measures(t.Metric); {
		case why != "":
			res.OK, res.Note = true, "does not apply: "+why
		case missing == "":
			res.OK = t.Holds(v)
		case missing == notMeasured:
			res.Note = notMeasured
		default:
			res.Note = notMeasured + ": " + missing
		}
		r.Thresholds = append(r.Thresholds, res)
	}
	for i := range r.Verdict.Reasons {
		reason := &r.Verdict.Reasons[i]
		if !reason.Kind.Fails() {
			continue
		}
		for _, t := range r.Thresholds {
			if t.OK && t.Note == "" && t.Selector == "" && reason.Kind.CoveredBy(t.Metric) {
				reason.ToleratedBy = t.Expr
				break
			}
		}
	}
	r.Verdict.OK = !failing(r.Verdict.Reasons)
}

// ThresholdFailures returns one line per failed threshold of every run,
// such as "threshold failed: ws_rtt.p99 < 5ms (measured 7.21ms)", naming the
// run when the series has several: "threshold failed in builtin run 2 of 3: ...".
func (s *Series) ThresholdFailures() []string {
	var out []string
	names := s.RunNames()
	for i, r := range s.Runs {
		for _, t := range r.Thresholds {
			if t.OK {
				continue
			}
			if s.single {
				out = append(out, "threshold failed: "+t.String())
			} else {
				out = append(out, fmt.Sprintf("threshold failed in %s: %s", names[i], t))
			}
		}
	}
	return out
}

// RunNames names each run of a series by topology and repetition, such as
// "builtin run 2 of 3" (or just "builtin" when it ran once).
func (sr *Series) RunNames() []string {
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

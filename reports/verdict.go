package reports

import (
	"fmt"

	"github.com/wssbench/wssbench/bench"
)

// verdict judges a run: ok means every connection came up, nothing failed
// and the run was not interrupted.
func verdict(r *Report, h bench.Health) Verdict {
	v := Verdict{Saturated: h.Saturated, Reasons: []string{}}
	if r.NotRun != "" {
		v.Reasons = append(v.Reasons, "not run: "+r.NotRun)
	}
	if r.Partial {
		v.Reasons = append(v.Reasons, "interrupted: the report is partial")
	}
	if r.Connections.Failed > 0 {
		v.Reasons = append(v.Reasons, fmt.Sprintf("%d of %d connections failed", r.Connections.Failed, r.Connections.Attempted))
	}
	var errs int64
	for _, n := range r.Connections.Errors {
		errs += n
	}
	if frameErrs := errs - r.Connections.Failed; frameErrs > 0 {
		v.Reasons = append(v.Reasons, fmt.Sprintf("%d errors on established connections", frameErrs))
	}
	for _, m := range r.TLS.Mismatches {
		v.Reasons = append(v.Reasons, "TLS not as asked: "+m)
	}
	if r.Frames.Lost > 0 {
		v.Reasons = append(v.Reasons, fmt.Sprintf("%d frames lost", r.Frames.Lost))
	}
	// A saturated generator makes latency suspect but is not a failure of the
	// target: it is flagged and explained, and ok is left to the failures.
	v.OK = len(v.Reasons) == 0
	v.Reasons = append(v.Reasons, h.Reasons...)
	return v
}

package bench

import (
	"encoding/json"
	"fmt"
	"slices"
)

// ReasonKind classifies why a run is not clean. Each kind says whether it
// fails the run and which threshold metrics may tolerate it, so a threshold
// can forgive only the failures it covers and nothing depends on the order
// of reasons.
type ReasonKind string

// The kinds of verdict reason.
const (
	// ReasonNotRun: the cell did not run (settings that cannot work, a server that did not start).
	ReasonNotRun ReasonKind = "not_run"
	// ReasonInterrupted: the run was cut short (Ctrl-C); its report is partial.
	ReasonInterrupted ReasonKind = "interrupted"
	// ReasonConnectionsFailed: connection attempts failed.
	ReasonConnectionsFailed ReasonKind = "connections_failed"
	// ReasonErrors: errors on established connections.
	ReasonErrors ReasonKind = "errors"
	// ReasonFramesLost: frames sent and never echoed.
	ReasonFramesLost ReasonKind = "frames_lost"
	// ReasonTLSMismatch: the handshakes did not negotiate what was asked.
	ReasonTLSMismatch ReasonKind = "tls_mismatch"
	// ReasonChildDied: a process the harness started exited during the run.
	ReasonChildDied ReasonKind = "child_died"
	// ReasonCrosscheck: the target's own counts disagree with the driver's.
	ReasonCrosscheck ReasonKind = "crosscheck"
	// ReasonSaturated: the generator could not keep its schedule; latency is
	// suspect. It does not fail a run by itself; compare fails on it.
	ReasonSaturated ReasonKind = "saturated"
	// ReasonOther: a reason from a report that predates typed reasons.
	ReasonOther ReasonKind = "other"
)

// reasonCover lists, for each kind a threshold may tolerate, the metrics
// whose passing threshold tolerates it. Kinds not listed are never tolerated.
var reasonCover = map[ReasonKind][]string{
	ReasonConnectionsFailed: {"connections.failed", "errors.rate", "errors.count"},
	ReasonErrors:            {"errors.rate", "errors.count"},
	ReasonFramesLost:        {"frames.lost"},
}

// Fails reports whether a reason of this kind makes the run not ok.
func (k ReasonKind) Fails() bool { return k != ReasonSaturated }

// CoveredBy reports whether a passing threshold on metric tolerates this kind.
func (k ReasonKind) CoveredBy(metric string) bool { return slices.Contains(reasonCover[k], metric) }

// Reason is one thing wrong with a run: its kind and a sentence for people.
type Reason struct {
	Kind ReasonKind `json:"kind"`
	Text string     `json:"text"`
	// ToleratedBy is the passing threshold that tolerates this failure, if any.
	ToleratedBy string `json:"tolerated_by,omitempty"`
}

// String is the reason as a person reads it.
func (r Reason) String() string {
	if r.ToleratedBy != "" {
		return fmt.Sprintf("%s, within threshold %s", r.Text, r.ToleratedBy)
	}
	return r.Text
}

// UnmarshalJSON also reads a plain string, as reports before typed reasons wrote them.
func (r *Reason) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*r = Reason{Kind: ReasonOther, Text: s}
		return nil
	}
	type plain Reason
	return json.Unmarshal(b, (*plain)(r))
}

func reasonf(kind ReasonKind, format string, a ...any) Reason {
	return Reason{Kind: kind, Text: fmt.Sprintf(format, a...)}
}

// Reasons lists what is wrong with the run, failures and saturation alike,
// each typed. A run with no failing reason is clean.
func (r *Result) Reasons() []Reason {
	var out []Reason
	add := func(kind ReasonKind, format string, a ...any) { out = append(out, reasonf(kind, format, a...)) }
	if r.NotRun != "" {
		add(ReasonNotRun, "not run: %s", r.NotRun)
		return out
	}
	st := r.Stats
	if st.Interrupted {
		add(ReasonInterrupted, "interrupted: the report is partial")
	}
	for _, f := range r.ChildFailures {
		add(ReasonChildDied, "%s", f)
	}
	if st.Failed > 0 {
		add(ReasonConnectionsFailed, "%d of %d connections failed", st.Failed, st.Attempted)
	}
	var errs int64
	for _, n := range st.Errors {
		errs += n
	}
	if frameErrs := errs - st.Failed; frameErrs > 0 {
		add(ReasonErrors, "%d errors on established connections", frameErrs)
	}
	for _, m := range r.TLSMismatches() {
		add(ReasonTLSMismatch, "TLS not as asked: %s", m)
	}
	if st.FramesLost > 0 {
		add(ReasonFramesLost, "%d frames lost", st.FramesLost)
	}
	if cc := r.Crosscheck; cc != nil && !cc.OK {
		add(ReasonCrosscheck, "%s", cc.Why)
	}
	return append(out, r.Health.Reasons...)
}

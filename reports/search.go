package reports

import "time"

// SearchReport is a capacity search (wssbench search), in the same
// "wssbench/v1" schema as a run, told apart by its search key: every probe (each a full run, or
// several with --repeat) and the answer.
type SearchReport struct {
	Schema    string    `json:"schema"`
	Label     string    `json:"label"`
	Build     Build     `json:"build"`
	StartedAt time.Time `json:"started_at"`
	DurationS float64   `json:"duration_s"`
	// Partial is set when the search was interrupted (Ctrl-C): the probes
	// done so far and the interval known so far.
	Partial bool   `json:"partial"`
	Search  Search `json:"search"`
}

// Search is what was searched and what was found.
type Search struct {
	// Vary is the axis: msg-rate, conns or connect-rate; Unit says its unit
	// in words ("frames/s per connection", "connections", "connections/s").
	Vary string `json:"vary"`
	Unit string `json:"unit"`
	// SLO are the service level objectives, threshold expressions every
	// passing probe meets (by the median of its runs).
	SLO []string `json:"slo"`
	// From, To bound the search; Precision is the width of the final
	// interval, a fraction of its lower end; Repeat is runs per probe.
	From      float64 `json:"from"`
	To        float64 `json:"to"`
	Precision float64 `json:"precision"`
	Repeat    int     `json:"repeat"`
	// Probes are in the order they ran.
	Probes []Probe `json:"probes"`
	// Knee is the last passing and first failing value, once known.
	Knee *Knee `json:"knee,omitempty"`
	// Stop says why the search ended: knee (the interval is within the
	// precision), holds_to (every probe up to To passed), fails_at_from
	// (the first probe failed), generator (the driver was the limit),
	// interrupted, or error.
	Stop string `json:"stop"`
	// Answer is the result in one or two plain sentences.
	Answer string `json:"answer"`
}

// Probe is one value of the axis and what its runs measured; figures are
// the median over its runs, with min..max where a spread matters.
type Probe struct {
	Value float64 `json:"value"`
	// OfferedPerSec is the load asked for (frames/s; handshakes/s on the
	// connect-rate axis); FramesPerSec and HandshakesPerSec are achieved.
	OfferedPerSec    float64 `json:"offered_per_s"`
	FramesPerSec     Stat    `json:"frames_per_s"`
	HandshakesPerSec Stat    `json:"handshakes_per_s"`
	// RTT and TLSHandshake are p50, p99 and p99.9 over the runs (medians, with spread).
	RTT          Percentiles `json:"rtt"`
	TLSHandshake Percentiles `json:"tls_handshake"`
	// Pass is set when every SLO's median passes and no run failed;
	// Saturated when the driver could not keep its schedule in a run (then
	// the probe says nothing about the server).
	Pass      bool `json:"pass"`
	Saturated bool `json:"saturated"`
	// SLO is each objective at this probe.
	SLO []SLOResult `json:"slo"`
	// Errors counts the runs' errors by class; Failed says why a run itself
	// failed (its verdict's reasons), when one did.
	Errors map[string]int64 `json:"errors,omitempty"`
	Failed []string         `json:"failed,omitempty"`
	// Runs are the probe's run reports, in full.
	Runs []*Report `json:"runs"`
}

// Percentiles are three percentiles of a latency, in microseconds, each
// the median over runs with its spread.
type Percentiles struct {
	P50Us  Stat `json:"p50_us"`
	P99Us  Stat `json:"p99_us"`
	P999Us Stat `json:"p999_us"`
}

// SLOResult is one objective at one probe.
type SLOResult struct {
	Expr string `json:"expr"`
	// Measured is the median over the probe's runs, Min and Max the spread,
	// in Unit (as threshold results have it).
	Measured float64 `json:"measured"`
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	Unit     string  `json:"unit"`
	OK       bool    `json:"ok"`
	// Note says why it could not be measured, when it could not (it then fails).
	Note string `json:"note,omitempty"`
}

// Knee is where the load stops holding: the last value that passed and the
// first that failed, in the axis' own unit (0 when there is none), and what
// the passing probe achieved.
type Knee struct {
	Pass             float64 `json:"pass"`
	Fail             float64 `json:"fail"`
	FramesPerSec     float64 `json:"frames_per_s"`
	HandshakesPerSec float64 `json:"handshakes_per_s"`
}

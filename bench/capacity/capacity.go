// Package capacity searches a load axis for the knee: the most load that
// still meets its objectives. It grows the load geometrically from a start
// until a probe fails (or the end of the range is reached), then bisects
// between the last pass and the first fail until the interval is narrow
// enough. What a probe is (one or more full runs against SLOs) is the
// caller's: the search only decides which value to probe next.
package capacity

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Axis is what a search varies.
type Axis string

// The axes.
const (
	// MsgRate varies frames per second per connection (msg_rate).
	MsgRate Axis = "msg-rate"
	// Conns varies the number of connections.
	Conns Axis = "conns"
	// ConnectRate varies new connections per second (connect_rate).
	ConnectRate Axis = "connect-rate"
)

// Axes lists the axes, as written on the command line.
func Axes() []string { return []string{string(MsgRate), string(Conns), string(ConnectRate)} }

// Unit says the axis' unit in words.
func (a Axis) Unit() string {
	switch a {
	case MsgRate:
		return "frames/s per connection"
	case Conns:
		return "connections"
	case ConnectRate:
		return "connections/s"
	}
	return ""
}

// Whole reports whether the axis takes whole numbers only.
func (a Axis) Whole() bool { return a == Conns }

// Valid reports whether a is an axis.
func (a Axis) Valid() bool { return a == MsgRate || a == Conns || a == ConnectRate }

// Spec is a search: its axis, its range, how narrow the answer must be,
// and how fast the first phase grows.
type Spec struct {
	Axis Axis
	// From is the first value probed; To the most.
	From, To float64
	// Precision is how narrow the final interval must be, as a fraction of
	// its lower end (0.05: within 5%).
	Precision float64
	// Growth multiplies the value after each passing probe of the first
	// phase (default 2).
	Growth float64
}

// Validate reports a spec that cannot be searched, saying what to change.
func (s *Spec) Validate() error {
	switch {
	case !s.Axis.Valid():
		return fmt.Errorf("--vary %q is not one of %s", s.Axis, strings.Join(Axes(), ", "))
	case !(s.From > 0):
		return fmt.Errorf("--from must be above 0 (got %g)", s.From)
	case !(s.To >= s.From) || math.IsInf(s.To, 0):
		return fmt.Errorf("--from %g is above --to %g: the search grows from --from up to --to", s.From, s.To)
	case !(s.Precision > 0) || s.Precision >= 1:
		return fmt.Errorf("--precision must be above 0 and below 100%%, such as 5%% (got %g%%)", 100*s.Precision)
	case s.Growth != 0 && !(s.Growth > 1):
		return fmt.Errorf("--growth must be above 1, such as 2 (got %g)", s.Growth)
	case s.Axis.Whole() && s.From != math.Trunc(s.From):
		return fmt.Errorf("--from %g: %s are counted in whole numbers", s.From, s.Axis.Unit())
	}
	return nil
}

// Outcome is what one probe found.
type Outcome int

// The outcomes.
const (
	// Pass: every objective held.
	Pass Outcome = iota
	// Fail: an objective did not hold (the server's limit, or past it).
	Fail
	// Limit: the generator could not offer the load (the driver
	// saturated): the probe says nothing about the server, and the search
	// stops there.
	Limit
)

func (o Outcome) String() string { return [...]string{"pass", "fail", "limit"}[o] }

// Prober runs one probe at value and says how it went. An error ends the
// search (a cancelled ctx: interrupted).
type Prober func(ctx context.Context, value float64) (Outcome, error)

// Stop says why a search ended.
type Stop string

// The stops.
const (
	// Knee: the last pass and the first fail are within the precision.
	Knee Stop = "knee"
	// HoldsTo: every probe up to To passed.
	HoldsTo Stop = "holds_to"
	// FailsAtFrom: the first probe, at From, failed.
	FailsAtFrom Stop = "fails_at_from"
	// Generator: the driver was the limit at a probe.
	Generator Stop = "generator"
	// Interrupted: the context ended (Ctrl-C); the interval is what was known.
	Interrupted Stop = "interrupted"
	// Error: a probe could not run.
	Error Stop = "error"
)

// Step is one probe of a search.
type Step struct {
	Value   float64
	Outcome Outcome
}

// Result is a search's probes, the interval it knows and why it stopped.
type Result struct {
	Steps []Step
	// Pass is the highest value that passed below Fail, the lowest that
	// failed; HasPass and HasFail say whether there is one.
	Pass, Fail       float64
	HasPass, HasFail bool
	Stop             Stop
}

// Search runs the search, calling probe for each value in turn. The
// returned error is the probe's that ended it (nil when it ended by itself
// or was interrupted).
func Search(ctx context.Context, spec Spec, probe Prober) (*Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	growth := spec.Growth
	if growth == 0 {
		growth = 2
	}
	r := &Result{}
	run := func(v float64) (Outcome, bool, error) {
		o, err := probe(ctx, v)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				r.Stop = Interrupted
				return o, false, nil
			}
			r.Stop = Error
			return o, false, err
		}
		r.Steps = append(r.Steps, Step{Value: v, Outcome: o})
		switch o {
		case Pass:
			r.Pass, r.HasPass = v, true
		case Fail:
			r.Fail, r.HasFail = v, true
		case Limit:
			r.Stop = Generator
			return o, false, nil
		}
		return o, true, nil
	}
	// Grow until a probe fails or To passes.
	for v := spec.From; ; {
		o, ok, err := run(v)
		if !ok {
			return r, err
		}
		if o == Fail {
			break
		}
		if v >= spec.To {
			r.Stop = HoldsTo
			return r, nil
		}
		v = spec.round(math.Min(v*growth, spec.To))
	}
	if !r.HasPass {
		r.Stop = FailsAtFrom
		return r, nil
	}
	// Bisect between the last pass and the first fail.
	for !spec.narrow(r.Pass, r.Fail) {
		mid := spec.round((r.Pass + r.Fail) / 2)
		if mid <= r.Pass || mid >= r.Fail {
			break // whole numbers: nothing left between them
		}
		if _, ok, err := run(mid); !ok {
			return r, err
		}
	}
	r.Stop = Knee
	return r, nil
}

// narrow reports whether pass..fail is within the precision.
func (s *Spec) narrow(pass, fail float64) bool { return fail-pass <= s.Precision*pass }

// round rounds v to the axis' grain: whole connections; rates to 3
// significant figures, so probes read as the numbers a person would pick.
func (s *Spec) round(v float64) float64 {
	if s.Axis.Whole() {
		return math.Round(v)
	}
	if v <= 0 {
		return v
	}
	e := math.Pow(10, math.Floor(math.Log10(v))-2)
	return math.Round(v/e) * e
}

// Package pace computes when things should happen: connection arrivals during
// a ramp and frame send times in open-loop mode. Schedules are pure functions
// of an event's index, so a late event never shifts the ones after it;
// SleepUntil waits for such a time.
package pace

import (
	"context"
	"math"
	"time"
)

// Schedule gives the offset from the start at which event i (0-based) is due.
type Schedule interface {
	At(i int64) time.Duration
}

// Constant spaces events evenly at Rate per second; a Rate of 0 or less means
// every event is due at once.
type Constant struct {
	// Rate is events per second.
	Rate float64
	// Offset shifts every event (a phase, to spread connections apart).
	Offset time.Duration
}

// At implements Schedule.
func (c Constant) At(i int64) time.Duration {
	if c.Rate <= 0 {
		return c.Offset
	}
	return c.Offset + time.Duration(float64(i)*float64(time.Second)/c.Rate)
}

// Interval returns the time between events, or 0 when unpaced.
func (c Constant) Interval() time.Duration {
	if c.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / c.Rate)
}

// Ramp raises the rate linearly from From to To (events per second) over
// Over, then holds To. From may be 0; To must be positive.
type Ramp struct {
	From, To float64
	Over     time.Duration
}

// At implements Schedule by inverting the ramp's cumulative event count.
func (r Ramp) At(i int64) time.Duration {
	T := r.Over.Seconds()
	n := float64(i)
	slope := 0.0
	if T > 0 {
		slope = (r.To - r.From) / T
	}
	rampEvents := (r.From + r.To) / 2 * T
	if n >= rampEvents || T <= 0 {
		return r.Over + time.Duration((n-rampEvents)/r.To*float64(time.Second))
	}
	// Solve From*t + slope*t²/2 = n for t.
	var t float64
	if slope == 0 {
		t = n / r.From
	} else {
		t = (-r.From + math.Sqrt(r.From*r.From+2*slope*n)) / slope
	}
	return time.Duration(t * float64(time.Second))
}

// SleepUntil waits until t or ctx ends; it reports false if ctx ended first.
func SleepUntil(ctx context.Context, t time.Time) bool {
	wait := time.Until(t)
	if wait <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(wait)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

package bench

import (
	"cmp"
	"fmt"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/bench/workload"
)

// compileStages checks stages: and lays them end to end; with stages, conns
// is the most connections a stage asks for and duration their total. Nil
// without stages.
func (c *Config) compileStages() (*workload.Stages, error) {
	if len(c.Stages) == 0 {
		return nil, nil
	}
	if c.Mode != ModeSteady {
		return nil, inputErr("stages shape a steady run (mode is %s)", c.Mode)
	}
	if e := driver.Engine(cmp.Or(c.Engine, string(driver.DefaultEngine()))); e != driver.EngineLoops {
		return nil, inputErr("stages run on the loops engine (engine is %s): leave out --engine goroutines", e)
	}
	var specs []workload.StageSpec
	// A rate a stage leaves out holds the previous stage's (the first
	// stage's comes from connect_rate and msg_rate).
	connectRate, msgRate := c.ConnectRate, c.MsgRate
	for i, s := range c.Stages {
		connectRate = cmp.Or(s.ConnectRate, connectRate)
		sp := workload.StageSpec{Name: s.Name, Duration: time.Duration(s.Duration), Conns: s.Conns,
			ConnectRate: connectRate, MsgRate: msgRate}
		if s.MsgRate != nil {
			if len(c.Roles) > 0 {
				return nil, inputErr("stages[%d]: msg_rate: with roles, each role sends at its own rate; leave msg_rate out of the stages", i+1)
			}
			if *s.MsgRate <= 0 {
				return nil, inputErr("stages[%d]: msg_rate must be above 0 (to stop the frames, close the connections: conns: 0)", i+1)
			}
			sp.MsgRate, msgRate = *s.MsgRate, *s.MsgRate
		}
		if s.Name != "" && !roleName.MatchString(s.Name) {
			return nil, inputErr("stages[%d]: name %q must be a word of letters, digits, - and _ (it names the stage in reports and in thresholds, [stage=NAME])", i+1, s.Name)
		}
		specs = append(specs, sp)
	}
	st, err := workload.NewStages(c.ConnectRate, c.MsgRate, specs)
	if err != nil {
		return nil, inputErr("stages: %v", err)
	}
	if st.MaxConns() < 1 {
		return nil, inputErr("stages: no stage asks for a connection; give a stage conns above 0")
	}
	return st, nil
}

// compileStorm checks storm: against the run's window.
func (c *Config) compileStorm(window time.Duration) (*driver.StormPlan, error) {
	s := c.Storm
	if s == nil {
		return nil, nil
	}
	if c.Mode != ModeSteady {
		return nil, inputErr("storm: a reconnect storm happens in a steady run (mode is %s)", c.Mode)
	}
	if e := driver.Engine(cmp.Or(c.Engine, string(driver.DefaultEngine()))); e != driver.EngineLoops {
		return nil, inputErr("storm runs on the loops engine (engine is %s): leave out --engine goroutines", e)
	}
	if s.At <= 0 || time.Duration(s.At) >= window {
		return nil, inputErr("storm: at %s must fall inside the steady window (0 to %s), so the run sees the connections come back", s.At, Duration(window))
	}
	if s.Backoff < 0 {
		return nil, inputErr("storm: backoff must not be negative")
	}
	p := &driver.StormPlan{At: time.Duration(s.At), Backoff: time.Duration(s.Backoff)}
	switch {
	case s.RestartTarget && s.Drop != "":
		return nil, inputErr("storm: restart_target cuts every connection from the server's side; leave drop out")
	case s.RestartTarget && c.Target != "":
		return nil, inputErr("storm: restart_target restarts the built-in target; with --target, restart your server yourself (or use drop)")
	case s.RestartTarget:
		return p, nil // Cut is set once the target is up
	case s.Drop == "":
		return nil, inputErr("storm: give drop (a share of the connections, such as 50%%) or restart_target: true")
	}
	sh, err := workload.ParseShare(s.Drop)
	if err != nil || sh.Rest {
		return nil, inputErr("storm: drop %q must be a percentage such as 50%%", s.Drop)
	}
	p.Share = sh.Fraction
	return p, nil
}

// stageMark is a stage boundary as the collector saw it: the interval index
// the stage's samples start at and the driver's counters then.
type stageMark struct {
	index    int
	at       time.Time
	interval int
	p        driver.Progress
}

// stageResults builds each stage's figures from the intervals between its marks.
func stageResults(res *Result, st *workload.Stages, marks []stageMark) []StageResult {
	var out []StageResult
	for k := 0; k+1 < len(marks); k++ {
		a, b := marks[k], marks[k+1]
		if a.index >= len(st.Points) {
			break
		}
		pt := st.Points[a.index]
		sr := StageResult{Name: pt.Name, Index: a.index + 1, Start: a.at.Sub(res.StartedAt), End: b.at.Sub(res.StartedAt),
			Conns: int(pt.Conns), ConnectRate: pt.ConnectRate, MsgRate: pt.MsgRate, OpenAtEnd: b.p.Open,
			Established: b.p.Established - a.p.Established, FramesSent: b.p.FramesSent - a.p.FramesSent,
			FramesReceived: b.p.FramesReceived - a.p.FramesReceived, Errors: b.p.Errors - a.p.Errors}
		sr.Closed = a.p.Open + sr.Established - b.p.Open
		for m := range sr.Histograms {
			sr.Histograms[m] = metrics.NewHistogram()
		}
		for _, iv := range res.Intervals[a.interval:min(b.interval, len(res.Intervals))] {
			for m, enc := range iv.H {
				if enc == nil {
					continue
				}
				if h, err := hdr.Decode(enc); err == nil {
					sr.Histograms[m].Merge(h)
				}
			}
		}
		out = append(out, sr)
	}
	return out
}

// stormResult turns the driver's storm into the run's.
func stormResult(res *Result, d *driver.Driver) *StormResult {
	st := res.Stats.Storm
	if st == nil {
		return nil
	}
	sr := &StormResult{Dropped: st.Dropped, Reconnected: st.Reconnected, Failed: st.Failed, Recovered: st.Recovered,
		BackToFull: st.BackToFull, TargetRestarted: st.Restarted, TLSHandshake: metrics.NewHistogram(), ConnectTotal: metrics.NewHistogram()}
	if !st.At.IsZero() {
		sr.At = st.At.Sub(res.StartedAt)
	}
	if rec := d.StormRecorder(); rec != nil {
		rec.Collect()
		sr.TLSHandshake, sr.ConnectTotal = rec.Total(metrics.TLSHandshake), rec.Total(metrics.ConnectTotal)
	}
	if st.CutError != "" {
		res.Warnings = append(res.Warnings, "storm: the target could not be restarted: "+st.CutError)
	}
	if !st.Recovered && st.At.IsZero() {
		res.Warnings = append(res.Warnings, "storm: the run ended before the storm's time; nothing was cut")
	} else if !st.Recovered {
		res.Warnings = append(res.Warnings, "storm: the run did not get back to full strength before the steady window ended")
	}
	if st.FramesCut > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("storm: %d frames in flight were cut with their connections (not counted as lost)", st.FramesCut))
	}
	for class, n := range st.FailedBy {
		res.Warnings = append(res.Warnings, fmt.Sprintf("storm: %d reconnect attempts failed with %s: %s", n, class, st.FailSamples[class]))
	}
	return sr
}

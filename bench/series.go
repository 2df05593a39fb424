package bench

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/env"
)

// checkProxyPrograms refuses, before any load, topologies whose program is not
// installed, naming the package and the topologies that can still run.
func checkProxyPrograms(topologies []string) error {
	var missing, ok []string
	for _, t := range topologies {
		prog := string(env.Topology(t).ExternalProxy())
		if prog == "" {
			ok = append(ok, t)
			continue
		}
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, t)
		} else {
			ok = append(ok, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	can := "none"
	if len(ok) > 0 {
		can = strings.Join(ok, ",")
	}
	return inputErr("%s not installed: apt-get install -y %s (or leave %s out; --topology %s can run now)",
		strings.Join(missing, " and "), strings.Join(missing, " "), strings.Join(missing, ","), can)
}

// Series is what a plan's runs measured: one Result per run, in run order.
// A single run is a series of one.
type Series struct {
	// Plan is the plan that ran.
	Plan *Plan
	// Runs are the runs in the order they ran; a cell that could not run has
	// one Result with NotRun set.
	Runs []*Result
}

// Run runs every cell of the plan (each topology of a comparison, times each
// combination of its matrix) Repeat times, interleaved (A B C A B C ...) so
// the machine's drift favours none, and returns one Result per run. A cell
// that cannot work, or whose run fails to start, is returned with NotRun set
// and the series goes on. A cancelled ctx ends the current run early (its
// Result is partial) and runs no more. The error is bad input found before
// any load (*InputError), or no run of the series completed; the Series
// holds what ran either way.
func Run(ctx context.Context, p *Plan, opt Options) (*Series, error) {
	s := &Series{Plan: p}
	layouts, err := Layouts(p, opt)
	if err != nil {
		return s, err
	}
	if opt.DriveArgv != nil && opt.ReadMember == nil {
		return s, errors.New("bench.Options: DriveArgv needs ReadMember")
	}
	if opt.Interval <= 0 {
		opt.Interval = time.Second
	}
	ran := 0
	for r := 1; r <= p.Repeat; r++ {
		for _, cell := range p.Cells {
			if ctx.Err() != nil {
				return s, nil
			}
			if cell.Invalid != nil {
				if r == 1 {
					s.Runs = append(s.Runs, notRun(cell, cell.Invalid.Error()))
				}
				continue
			}
			if opt.OnRunStart != nil {
				opt.OnRunStart(cell.Name, r, p.Repeat)
			}
			lay := layouts[cell]
			if r == 1 && opt.OnLayout != nil && (lay.Split() || lay.Targets > 1 || lay.AutoSources) {
				opt.OnLayout(cell.Name, lay)
			}
			res, err := runOne(ctx, cell, r, lay, opt)
			if err != nil {
				why := err.Error()
				if p.Repeat > 1 {
					why = fmt.Sprintf("run %d of %d failed: %v", r, p.Repeat, err)
				}
				s.Runs = append(s.Runs, notRun(cell, why))
				continue
			}
			s.Runs = append(s.Runs, res)
			ran++
		}
	}
	if ran == 0 && ctx.Err() == nil {
		if p.Single() && len(s.Runs) == 1 {
			return s, errors.New(s.Runs[0].NotRun)
		}
		return s, errors.New("no run of the series completed; see each cell's reason")
	}
	return s, nil
}

// Layouts lays out every runnable cell of the plan on this machine (see
// Cell.Layout), or refuses, before any load, a plan the machine cannot run:
// one it cannot hold, or a topology whose program is not installed.
func Layouts(p *Plan, opt Options) (map[*Cell]Layout, error) {
	var topologies []string
	limits := ReadLimits()
	out := map[*Cell]Layout{}
	for _, c := range p.Runnable() {
		lay, err := c.Layout(limits, opt)
		if err != nil {
			return nil, err
		}
		out[c] = lay
		if !contains(topologies, c.Topology) {
			topologies = append(topologies, c.Topology)
		}
	}
	return out, checkProxyPrograms(topologies)
}

// notRun is the Result of a cell that did not run.
func notRun(cell *Cell, why string) *Result {
	return &Result{Config: cell.Config, Cell: cell, Topology: cell.Topology, NotRun: why, CannotWork: cell.Invalid != nil,
		StartedAt: time.Now(), Stats: &driver.Stats{}}
}

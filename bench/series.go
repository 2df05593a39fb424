package bench

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/wssbench/wssbench/bench/driver"
	"strings"
)

// checkProxyPrograms refuses, before any load, topologies whose program is not
// installed, naming the package and the topologies that can still run.
func checkProxyPrograms(topologies []string) error {
	var missing, ok []string
	for _, t := range topologies {
		if t != TopologyNginx && t != TopologyHAProxy {
			ok = append(ok, t)
			continue
		}
		if _, err := exec.LookPath(t); err != nil {
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

// RunSeries runs every cell of cfg (each topology of a comparison, times each
// combination of its matrix) Repeat times, interleaved (A B C A B C ...) so
// the machine's drift favours none, and returns one Result per run. A cell
// that cannot work, or whose run fails to start, is returned with NotRun set
// and the series goes on. A cancelled ctx stops after the current run; what
// ran is returned.
func RunSeries(ctx context.Context, cfg Config, opt Options) ([]*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkProxyPrograms(cfg.topologies()); err != nil {
		return nil, err
	}
	cells := cfg.Cells()
	repeat := max(cfg.Repeat, 1)
	var out []*Result
	ran := 0
	for r := 0; r < repeat; r++ {
		for _, cell := range cells {
			if ctx.Err() != nil {
				return out, nil
			}
			if cell.Invalid != nil {
				if r == 0 {
					out = append(out, notRun(cell, cell.Invalid.Error(), cfg.Matrix != nil))
				}
				continue
			}
			if opt.OnRunStart != nil {
				opt.OnRunStart(cell.Name, r+1, repeat)
			}
			res, err := Run(ctx, cell.Config, opt)
			if err != nil {
				out = append(out, notRun(cell, fmt.Sprintf("run %d of %d failed: %v", r+1, repeat, err), cfg.Matrix != nil))
				continue
			}
			res.Cell, res.InMatrix = cell.Name, cfg.Matrix != nil
			out = append(out, res)
			ran++
		}
	}
	if ran == 0 && ctx.Err() == nil {
		return out, errors.New("no run of the series completed; see each cell's reason")
	}
	return out, nil
}

// notRun is the Result of a cell that did not run.
func notRun(cell Cell, why string, inMatrix bool) *Result {
	t := TopologyDirect
	if len(cell.Config.Topology) > 0 {
		t = cell.Config.Topology[0]
	}
	return &Result{Config: cell.Config, Cell: cell.Name, Topology: t, NotRun: why, InMatrix: inMatrix, StartedAt: time.Now(), Stats: &driver.Stats{}}
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
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

// RunSeries runs every topology of cfg Repeat times, interleaved (A B C A B C
// ...) so the machine's drift favours none, and returns one Result per run. A
// cancelled ctx stops after the current run; what ran is returned.
func RunSeries(ctx context.Context, cfg Config, opt Options) ([]*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkProxyPrograms(cfg.Topology); err != nil {
		return nil, err
	}
	topologies := cfg.Topology
	if len(topologies) == 0 {
		topologies = []string{TopologyDirect}
	}
	repeat := max(cfg.Repeat, 1)
	var out []*Result
	for r := 0; r < repeat; r++ {
		for _, t := range topologies {
			if ctx.Err() != nil {
				return out, nil
			}
			one := cfg
			one.Topology, one.Repeat = []string{t}, 1
			one.Label = t
			if cfg.Label != "" {
				one.Label = cfg.Label + "/" + t
			}
			if opt.OnRunStart != nil {
				opt.OnRunStart(t, r+1, repeat)
			}
			res, err := Run(ctx, one, opt)
			if err != nil {
				if IsInputError(err) {
					return out, err
				}
				return out, fmt.Errorf("%s run %d of %d: %w", t, r+1, repeat, err)
			}
			out = append(out, res)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no run completed")
	}
	return out, nil
}

package reports

import (
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/threshold"
)

// seriesOf builds the report of results as one series, as bench.Run would
// have returned them: a cell per topology, thresholds from the first
// result's config. One result makes a series of one.
func seriesOf(meta Meta, results ...*bench.Result) *Series {
	cfg := results[0].Config
	ts, err := threshold.ParseAll(cfg.Thresholds)
	if err != nil {
		panic(err)
	}
	p := &bench.Plan{Config: cfg, Repeat: 1, Thresholds: ts}
	cells, reps := map[string]*bench.Cell{}, map[string]int{}
	for _, res := range results {
		name := res.Topology
		if name == "" {
			name = bench.TopologyDirect
		}
		c := cells[name]
		if c == nil {
			c = &bench.Cell{Name: name, Config: res.Config, Topology: name}
			if c.TLS, err = res.Config.TLSProfile(); err != nil {
				panic(err)
			}
			cells[name] = c
			p.Cells = append(p.Cells, c)
		}
		reps[name]++
		res.Cell, res.Repetition = c, reps[name]
		p.Repeat = max(p.Repeat, reps[name])
	}
	if len(results) > 1 && p.Single() {
		p.Repeat = 2
	}
	return FromSeries(&bench.Series{Plan: p, Runs: results}, meta)
}

// single is the series of one result; one its run's report.
func single(meta Meta, res *bench.Result) *Series { return seriesOf(meta, res) }

func one(meta Meta, res *bench.Result) *Report { return single(meta, res).Runs[0] }

// wrap makes a series of one of a report.
func wrap(r *Report) *Series { return &Series{Schema: Schema, Runs: []*Report{r}, single: true} }

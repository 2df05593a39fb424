package cli

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/reports"
)

// cmdMerge merges the shard reports of a run split over machines into one
// report, exactly as the parent of a run split over processes merges its
// driver processes (the same code: bench.MergeShards), then writes it and
// gates on it like run.
func cmdMerge(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("merge", pflag.ContinueOnError)
	fs.SortFlags = false
	var thresholds []string
	fs.StringArrayVar(&thresholds, "threshold", nil, "pass/fail expression checked on the merged run, such as 'ws_rtt.p99 < 5ms' (repeatable; replaces the shards' own; a failure exits 3)")
	files := addOutputFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `wssbench merge: merge the shards of a run split over machines

Each machine ran its share of one run with the same settings:
  wssbench run ... --shard I/N --start-at TIME --out shard-I.json
merge checks that the reports are the shards of one run (every index from 1
to N once, the same config and start time, load windows that overlap), adds
their histograms (percentiles are read from the sum, never averaged), sums
their counters, CPU and memory, aligns their timelines by interval, lists
every process, and judges the merged run as one: a shard that failed,
saturated or lost a child is named in the verdict. The shards' start skew
is in the report (shards.start_skew_ms).

Usage:
  wssbench merge SHARD.json... [--out FILE] [--html FILE] [--threshold EXPR]...

Examples:
  wssbench merge reports/shard-*.json --out out/merged.json --html out/merged.html
  wssbench merge shard-1.json shard-2.json --threshold 'ws_rtt.p99 < 5ms' --junit out/junit.xml
  wssbench compare out/base.json out/merged.json --tolerance 10%%

Exit codes: 0 the merged run is clean; 1 it failed or is not clean; 2 bad
input (a shard missing, duplicated, from another run, truncated or of another
schema: the message names the file); 3 a threshold failed.

Flags:
%s`, fs.FlagUsages())
	}
	if code, ok := parseArgs(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "wssbench merge: want the shard reports to merge\nRun \"wssbench merge --help\" for examples.\n")
		return ExitBadInput
	}
	series, err := mergeFiles(fs.Args(), thresholds, fs.Changed("threshold"))
	if err != nil {
		return errorCode(stderr, "merge", err)
	}
	rep := reports.FromSeries(series, reports.Meta{Version: Version, Commit: Commit})
	var runs []reports.RunID
	for _, r := range rep.Runs {
		runs = append(runs, reports.RunID{Cell: r.Cell, Repetition: r.Repetition})
	}
	if err := files.check(runs, rep.Single() != nil); err != nil {
		return errorCode(stderr, "merge", err)
	}
	if err := files.write(rep, stdout, stderr); err != nil {
		return errorCode(stderr, "merge", err)
	}
	return gate(stderr, rep)
}

// mergeFiles reads the shard reports and merges them run by run (a shard of
// a series holds the same runs as every other shard).
func mergeFiles(paths []string, thresholds []string, override bool) (*bench.Series, error) {
	var docs []*reports.Document
	for _, p := range paths {
		doc, err := reports.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if err := doc.RequireRuns("wssbench merge merges the reports of one run's shards"); err != nil {
			return nil, err
		}
		if len(docs) > 0 && len(doc.Runs) != len(docs[0].Runs) {
			return nil, &bench.InputError{Err: fmt.Errorf("%s holds %d runs, %s %d: not shards of one run", p, len(doc.Runs), paths[0], len(docs[0].Runs))}
		}
		docs = append(docs, doc)
	}
	var merged []*bench.Result
	for k := range docs[0].Runs {
		var parts []*bench.Result
		for i, doc := range docs {
			res, err := doc.Runs[k].Result()
			if err != nil {
				return nil, &bench.InputError{Err: fmt.Errorf("%s: run %d cannot be merged: %w", paths[i], k+1, err)}
			}
			parts = append(parts, res)
		}
		m, err := bench.MergeShards(parts, paths)
		if err != nil {
			return nil, err
		}
		merged = append(merged, m)
	}
	cfg := merged[0].Config
	if override {
		cfg.Thresholds = thresholds
	}
	plan, err := cfg.Plan()
	if err != nil {
		return nil, err
	}
	repeat := 1
	plan.Cells = nil
	for _, m := range merged {
		if !containsCell(plan.Cells, m.Cell) {
			plan.Cells = append(plan.Cells, m.Cell)
		}
		repeat = max(repeat, m.Repetition)
	}
	plan.Repeat = repeat
	plan.Matrix = docs[0].Whole.Comparison.Matrix
	return &bench.Series{Plan: plan, Runs: merged}, nil
}

func containsCell(cells []*bench.Cell, c *bench.Cell) bool {
	for _, x := range cells {
		if x == c || x.Name == c.Name {
			return true
		}
	}
	return false
}

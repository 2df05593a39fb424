package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
	"github.com/wssbench/wssbench/reports"
)

func cmdCompare(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("compare", pflag.ContinueOnError)
	fs.SortFlags = false
	tolerance := fs.String("tolerance", "10%", "how much worse a metric may get before it is a regression, a percentage such as 10% (a bare number is refused)")
	metrics := fs.StringArray("metric", nil, "metric to compare, NAME or NAME=TOLERANCE such as ws_rtt.p99=25% (repeatable; default: a set of latency, error, rate and CPU figures)")
	force := fs.Bool("force", false, "compare reports whose configs differ (the differences are listed)")
	allowSaturated := fs.Bool("allow-saturated", false, "gate on a candidate whose generator saturated instead of failing it (its latency is suspect)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `wssbench compare: the regression gate

Compares a candidate report with a baseline report (both written by
wssbench run --out) metric by metric: baseline, candidate, change and verdict.
A metric that got worse by more than the tolerance is a regression: exit 3,
and the output names it. Latency, CPU cost and errors are better lower;
connect_rate, frames.rate and success counts better higher.

Tolerances are percentages and carry %% (10%%, 0.5%%): a bare number such as
0.1 is refused (exit 2), since it could mean 10%% or 0.1%%; 0 alone is fine.
Threshold rates follow the same rule (errors.rate < 0.1%%).

Noise: when a report holds repeated runs (--repeat N), each figure is the
median of the runs, and a change whose runs' min..max ranges overlap is not
a regression ("within the runs' spread"). Repeat runs for a steadier gate.

A saturated generator (verdict.saturated: the driver ran out of CPU or fell
behind its send schedule) makes a run's latency suspect: a saturated
candidate fails the gate (exit 3, naming the run and why) unless
--allow-saturated; a saturated baseline is warned about.

Reports of different setups (load shape, mode, size, rate, TLS settings,
topology...) are refused (exit 2, listing the keys) unless --force. Labels,
--ca files, thresholds, --repeat and the target's port may differ.

Capacity searches (wssbench search --out) compare by their capacity: the
number each stated at its knee (achieved frames/s on msg-rate, connections
on conns, handshakes/s on connect-rate): "capacity fell 12.2%% (4,100 ->
3,600 frames/s)" is a regression (exit 3) when the fall is beyond the
tolerance and the passing probes' min..max ranges do not overlap. Searches
of different axes, SLOs or configs are refused (exit 2) unless --force; so
is a search with no knee (fails_at_from, generator, interrupted), a search
against a run report, and --metric with searches.

Usage:
  wssbench compare BASELINE.json CANDIDATE.json [flags]
  wssbench compare BASE-SEARCH.json CAND-SEARCH.json [--tolerance 10%%]

Examples:
  wssbench compare out/base.json out/cand.json
  wssbench compare base.json cand.json --tolerance 20%%
  wssbench compare base.json cand.json --metric ws_rtt.p50 --metric ws_rtt.p99=50%%
  wssbench compare base.json cand.json --force      configs differ, compare anyway
  wssbench compare base.json cand.json --allow-saturated

Metrics (default set: %s;
and delivery.p50, delivery.p99, reach when both reports have them):
  tcp_connect, tls_handshake, ws_upgrade, connect_total, ws_rtt, ws_rtt_uncorrected,
  delivery, storm.tls_handshake, storm.connect_total
  with .p50 .p90 .p99 .p999 .max .mean .min; errors.rate, errors.count,
  connections.failed, connections.established, frames.lost, frames.received,
  frames.rate, connect_rate, send_lag.p99, {driver,target,proxy,server}_us_per_{handshake,frame},
  reach, storm.back_to_full, storm.dropped, storm.reconnected, storm.failed

Exit codes: 0 no regression, 2 bad input (unreadable report, different
configs, unknown metric, a search without a knee), 3 a regression (or a
capacity that fell), a failed candidate run or a saturated one.

Flags:
%s`, strings.Join(reports.DefaultCompareMetrics, ", "), fs.FlagUsages())
	}
	fs.SetOutput(io.Discard)
	if code, ok := parseArgs(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 2 {
		fmt.Fprintf(stderr, "wssbench compare: want two reports, BASELINE.json CANDIDATE.json (got %d arguments)\nRun \"wssbench compare --help\" for examples.\n", fs.NArg())
		return ExitBadInput
	}
	opt := reports.CompareOptions{Force: *force, AllowSaturated: *allowSaturated, PerMetric: map[string]float64{}}
	var err error
	if opt.Tolerance, err = reports.ParseTolerance(*tolerance); err != nil {
		return errorCode(stderr, "compare", err)
	}
	for _, spec := range *metrics {
		name, tol, err := reports.ParseMetricSpec(spec)
		if err != nil {
			return errorCode(stderr, "compare", err)
		}
		opt.Metrics = append(opt.Metrics, name)
		if tol >= 0 {
			opt.PerMetric[name] = tol
		}
	}
	base, err := reports.ReadFile(fs.Arg(0))
	if err != nil {
		return errorCode(stderr, "compare", err)
	}
	cand, err := reports.ReadFile(fs.Arg(1))
	if err != nil {
		return errorCode(stderr, "compare", err)
	}
	res, err := reports.Compare(base, cand, opt)
	if err != nil {
		return errorCode(stderr, "compare", err)
	}
	if err := reports.WriteCompareText(stdout, res); err != nil {
		return errorCode(stderr, "compare", err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	for _, f := range res.Failures {
		fmt.Fprintln(stderr, f)
	}
	if res.Failed() {
		return ExitGate
	}
	return ExitOK
}

package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/fleet"
	"github.com/wssbench/wssbench/reports"
)

// cmdDrive is one driver process of a run split over processes (--procs):
// the hidden command the parent starts with a bench.MemberSpec file. It
// runs its share of the load between the parent's barriers (its stdin and
// stdout carry the fleet protocol) and writes its report, with its
// histograms, to the spec's result path for the parent to merge. It exits 0
// once the report is written, whatever the run's verdict: judging the whole
// run is the parent's job.
func cmdDrive(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "wssbench drive: want one spec file; this command is started by wssbench run --procs, not by hand")
		return ExitBadInput
	}
	spec, err := bench.ReadMemberSpec(args[0])
	if err != nil {
		return errorCode(stderr, "drive", &bench.InputError{Err: err})
	}
	plan, err := spec.Config.Plan()
	if err != nil {
		return errorCode(stderr, "drive", err)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(driverGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	link := fleet.Join(os.Stdin, stdout)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-link.Gone():
			// The parent is gone: stop, as after a Ctrl-C.
			cancel()
		case <-ctx.Done():
		}
	}()
	opt := bench.Options{Member: link, Interval: spec.Interval, Progress: func(p bench.Progress) { link.Progress(p.Progress) }, OnInterval: link.Interval}
	series, runErr := bench.Run(ctx, plan, opt)
	if runErr != nil && (series == nil || len(series.Runs) == 0) {
		return errorCode(stderr, "drive", runErr)
	}
	rep := reports.FromSeries(series, reports.Meta{Version: Version, Commit: Commit})
	b, err := rep.MarshalJSON()
	if err != nil {
		return errorCode(stderr, "drive", err)
	}
	if err := os.WriteFile(spec.Result, append(b, '\n'), 0o600); err != nil {
		return errorCode(stderr, "drive", err)
	}
	if runErr != nil {
		return errorCode(stderr, "drive", runErr)
	}
	return ExitOK
}

// readMember reads the report a driver process wrote back into its result.
func readMember(path string) (*bench.Result, error) {
	doc, err := reports.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := doc.RequireRuns("a driver process writes back the report of its run"); err != nil {
		return nil, err
	}
	if len(doc.Runs) != 1 {
		return nil, fmt.Errorf("%s holds %d runs, not one", path, len(doc.Runs))
	}
	return doc.Runs[0].Result()
}

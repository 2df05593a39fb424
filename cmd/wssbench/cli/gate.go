package cli

import (
	"fmt"
	"io"

	"github.com/wssbench/wssbench/reports"
)

// gate writes the --junit file, prints every failed threshold on its own line
// on stderr and returns the exit code of a finished run. A failed run (a
// failed connection, an error or a lost frame not tolerated by a threshold,
// or an interrupt) is exit 1 and takes precedence over a failed threshold
// (exit 3): figures from a run that failed say little, so fix the run first.
// The failed thresholds are printed either way. ok says whether the run (or
// every run of the series that could run) succeeded.
func gate(stderr io.Writer, out *runOut, ok bool, runs []*reports.Report, names, failures []string) int {
	for _, f := range failures {
		fmt.Fprintln(stderr, f)
	}
	if out.junit != "" {
		if err := reports.WriteJUnitFile(out.junit, runs, names); err != nil {
			return errorCode(stderr, "run", fmt.Errorf("write --junit: %w", err))
		}
		fmt.Fprintf(stderr, "JUnit XML written to %s\n", out.junit)
	}
	if !ok {
		return ExitRunFailed
	}
	if len(failures) > 0 {
		return ExitGate
	}
	return ExitOK
}

package cli

import (
	"fmt"
	"io"

	"github.com/wssbench/wssbench/reports"
)

// gate prints every failed threshold on its own line on stderr and returns
// the exit code of a finished series. A failed run (a failure no threshold
// tolerates, a TLS mismatch, a dead child, a crosscheck difference, an
// interrupt) is exit 1 and takes precedence over a failed threshold (exit 3):
// figures from a run that failed say little, so fix the run first. The
// failed thresholds are printed either way.
func gate(stderr io.Writer, s *reports.Series) int {
	failures := s.ThresholdFailures()
	for _, f := range failures {
		fmt.Fprintln(stderr, f)
	}
	if !s.OK() {
		return ExitRunFailed
	}
	if len(failures) > 0 {
		return ExitGate
	}
	return ExitOK
}

package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/reports"
)

// cmdReport renders a saved JSON report (one run or a series) again: the text
// summary on stdout, and HTML and Markdown files when asked.
func cmdReport(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("report", pflag.ContinueOnError)
	fs.SortFlags = false
	files := addOutputFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `wssbench report: render a saved JSON report

Reads a report written by "wssbench run --out" (one run, or a comparison of
several runs) or "wssbench search --out" (a capacity search: text, --out,
--html and --markdown), prints its text summary, and writes it in any other format:
a self-contained HTML page with plots (--html), a Markdown summary for a
pull-request comment (--markdown), JUnit XML (--junit), HdrHistogram interval
logs (--hlog) or JSON again (--out). The plots and logs are drawn from the
histograms, intervals and timeline that the report carries, so nothing needs
to run again. The formats are the same as wssbench run's.

Usage:
  wssbench report REPORT.json [--html FILE] [--markdown FILE] [--junit FILE] [--hlog FILE]

Examples:
  wssbench report out/default.json
  wssbench report out/default.json --html out/default.html
  wssbench report out/termination.json --html out/term.html --markdown out/term.md
  wssbench report out/default.json --hlog out/default.hlog

Exit codes: 0 rendered; 2 the file is missing, not a wssbench/v1 report, or an
output cannot be written.

Flags:
%s`, fs.FlagUsages())
	}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return ExitOK
	case err != nil:
		fmt.Fprintf(stderr, "wssbench report: %v\nRun \"wssbench report --help\" for the flags.\n", err)
		return ExitBadInput
	case fs.NArg() != 1:
		fmt.Fprintf(stderr, "wssbench report: want one JSON report file, got %d arguments\nRun \"wssbench report --help\" for examples.\n", fs.NArg())
		return ExitBadInput
	}
	doc, err := reports.ReadFile(fs.Arg(0))
	if err != nil {
		return errorCode(stderr, "report", &bench.InputError{Err: err})
	}
	if doc.Search != nil {
		if err := files.checkSearch(); err != nil {
			return errorCode(stderr, "report", err)
		}
		if err := files.writeSearch(doc.Search, stdout, stderr); err != nil {
			return errorCode(stderr, "report", &bench.InputError{Err: err})
		}
		return ExitOK
	}
	var runs []reports.RunID
	for _, r := range doc.Runs {
		runs = append(runs, reports.RunID{Cell: r.Cell, Repetition: r.Repetition})
	}
	if err := files.check(runs, doc.Whole.Single() != nil); err != nil {
		return errorCode(stderr, "report", err)
	}
	if err := files.write(doc.Whole, stdout, stderr); err != nil {
		return errorCode(stderr, "report", &bench.InputError{Err: err})
	}
	return ExitOK
}

// Package cli is wssbench's command line: one file per subcommand. It parses
// flags into bench.Config, builds a context that Ctrl-C cancels, calls the
// engine and turns results into exit codes.
package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
	"github.com/wssbench/wssbench/bench"
)

// Exit codes.
const (
	ExitOK        = 0 // the run was clean
	ExitRunFailed = 1 // the run failed or was not clean
	ExitBadInput  = 2 // flags, scenario or certificate files are wrong
	ExitGate      = 3 // a threshold or regression gate failed
)

// Version and Commit are set at build time with -ldflags "-X ...".
var (
	Version = "dev"
	Commit  = "unknown"
)

const usage = `wssbench: load and performance harness for WebSocket over TLS (wss://)

Usage:
  wssbench run   [flags]        one benchmark run (built-in target on loopback unless --target)
  wssbench search [flags]       find the most load that meets --slo objectives (a capacity search)
  wssbench serve [flags]        the built-in echo target, wss:// or ws://
  wssbench proxy [flags]        the built-in TLS-terminating proxy in front of a ws:// backend
  wssbench compare BASE CAND    a candidate report against a baseline: the regression gate
  wssbench merge SHARD.json...  the shards of a run split over machines (run --shard), merged exactly
  wssbench report FILE [flags]  render a saved JSON report as text, HTML (--html) or Markdown (--markdown)
  wssbench version              print the version

Examples:
  wssbench run                                          default benchmark against the built-in target
  wssbench run --conns 5000 --connect-rate 1000 --duration 10s --msg-rate 2
  wssbench run --scenario handshake-storm               a shipped scenario (or a path to a .yaml file)
  wssbench run --topology direct,builtin,nginx,haproxy --repeat 3 --out out/term.json
  wssbench report out/term.json --html out/term.html
  wssbench serve --listen 127.0.0.1:8443 &
  wssbench run --target wss://127.0.0.1:8443/ --ca /tmp/wssbench-serve-*/ca.pem
  wssbench run --threshold 'ws_rtt.p99 < 5ms' --threshold 'errors.rate < 0.1%' --junit out/junit.xml
  wssbench search --vary msg-rate --from 5 --to 200 --conns 200 --slo 'ws_rtt.p99 < 5ms' --html out/s.html
  wssbench compare out/base.json out/cand.json --tolerance 10%
  wssbench run --mode connect-hold --conns 100000 --duration 30s      split over processes as needed
  wssbench run --shard 2/4 --start-at 2026-12-01T10:00:00Z --target wss://10.0.0.5:8443/ --ca ca.pem --out shard-2.json
  wssbench merge shard-*.json --out merged.json --threshold 'ws_rtt.p99 < 5ms'

Exit codes: 0 ok, 1 run failed, 2 bad input, 3 threshold or regression gate failed.
Run "wssbench COMMAND --help" for a command's flags.
`

// Main runs the wssbench command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitBadInput
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "search":
		return cmdSearch(args[1:], stdout, stderr)
	case "serve":
		return cmdServe(args[1:], stdout, stderr)
	case "proxy":
		return cmdProxy(args[1:], stdout, stderr)
	case "compare":
		return cmdCompare(args[1:], stdout, stderr)
	case "merge":
		return cmdMerge(args[1:], stdout, stderr)
	case "drive":
		return cmdDrive(args[1:], stdout, stderr)
	case "report":
		return cmdReport(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "wssbench %s (%s)\n", Version, Commit)
		return ExitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(stderr, "wssbench: unknown command %q\n\n%s", args[0], usage)
	return ExitBadInput
}

// parseFlags parses args and maps --help and flag errors to exit codes; ok is
// false when the caller should return code.
func parseFlags(fs *pflag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	code, ok = parseArgs(fs, args, stdout, stderr)
	if ok && fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wssbench %s: unexpected argument %q (flags start with --)\n", fs.Name(), strings.Join(fs.Args(), " "))
		return ExitBadInput, false
	}
	return code, ok
}

// parseArgs is parseFlags for commands that take arguments besides flags.
func parseArgs(fs *pflag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return ExitOK, false
	}
	if err != nil {
		fmt.Fprintf(stderr, "wssbench %s: %v\nRun \"wssbench %s --help\" for the flags.\n", fs.Name(), err, fs.Name())
		return ExitBadInput, false
	}
	return 0, true
}

// errorCode prints err and returns its exit code: 2 for bad input, 1 otherwise.
func errorCode(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "wssbench %s: %v\n", cmd, err)
	if bench.IsInputError(err) {
		return ExitBadInput
	}
	return ExitRunFailed
}

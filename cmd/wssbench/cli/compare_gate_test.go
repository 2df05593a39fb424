package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/reports"
)

// saturatedReason is the reason bench gives a run whose driver ran out of CPU.
const saturatedReason = "generator saturated: the driver used more than 90% of a core (1.90 cores of 2, 95% of each on average)"

// writeReport writes the report of a clean 10-connection run with the given
// ws_rtt p50 (µs), saturated or not, as wssbench run --out does.
func writeReport(t *testing.T, dir, name string, rttP50Us int64, saturated bool) string {
	t.Helper()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	cfg := bench.Default()
	cfg.Label, cfg.Conns, cfg.MsgRate = "gate", 10, 50
	res := &bench.Result{
		Config: cfg, TargetURL: "wss://127.0.0.1:8443/", BuiltinTarget: true, StartedAt: t0, Elapsed: 3 * time.Second,
		Stats: &driver.Stats{
			Attempted: 10, Established: 10, PeakConcurrent: 10, ClosedClean: 10,
			Errors: map[string]int64{}, ErrorSamples: map[string]string{}, FramesSent: 1000, FramesReceived: 1000,
			Phases: []driver.PhaseMark{{Name: "connect", At: t0}, {Name: "steady", At: t0.Add(time.Second)},
				{Name: "close", At: t0.Add(2 * time.Second)}, {Name: "done", At: t0.Add(3 * time.Second)}},
		},
		Health: bench.Health{Cores: 2, GOGC: "100"},
	}
	if saturated {
		res.Health.Saturated, res.Health.Reasons = true, []bench.Reason{{Kind: bench.ReasonSaturated, Text: saturatedReason}}
	}
	for m := range res.Histograms {
		h := metrics.NewHistogram()
		for i := int64(0); i < 100; i++ {
			v := time.Duration(10 * int64(time.Microsecond))
			if metrics.Metric(m) == metrics.RTT || metrics.Metric(m) == metrics.RTTUncorrected {
				v = time.Duration(rttP50Us) * time.Microsecond
			}
			if err := h.RecordValue(int64(v)); err != nil {
				t.Fatal(err)
			}
		}
		res.Histograms[m] = h
	}
	plan, err := cfg.Plan()
	if err != nil {
		t.Fatal(err)
	}
	res.Cell, res.Repetition = plan.Cells[0], 1
	var buf bytes.Buffer
	if err := reports.WriteJSON(&buf, reports.FromSeries(&bench.Series{Plan: plan, Runs: []*bench.Result{res}}, reports.Meta{})); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCompareSaturatedCandidateFails checks that compare does not pass a
// candidate whose generator saturated (its latency measures the driver, not
// the target): exit 3 naming the run and the reason, unless --allow-saturated;
// and that a saturated baseline is warned about.
func TestCompareSaturatedCandidateFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := writeReport(t, dir, "base", 100, false)
	cand := writeReport(t, dir, "cand", 100, false)
	satCand := writeReport(t, dir, "satcand", 100, true)
	satBase := writeReport(t, dir, "satbase", 100, true)
	gate := []string{"--metric", "ws_rtt.p50"}
	cases := []struct {
		name      string
		args      []string
		code      int
		stdout    []string
		stderr    []string
		notStderr []string
	}{
		{name: "clean", args: []string{base, cand}, code: ExitOK, stdout: []string{"result: ok"}},
		{name: "saturated candidate", args: []string{base, satCand}, code: ExitGate,
			stdout: []string{"result: FAIL", "generator saturated"},
			stderr: []string{"candidate run of", "satcand.json", saturatedReason, "cannot pass", "--allow-saturated"}},
		{name: "saturated candidate allowed", args: []string{base, satCand, "--allow-saturated"}, code: ExitOK,
			stdout: []string{"result: ok", "generator saturated"}, stderr: []string{"warning: candidate run"}, notStderr: []string{"cannot pass"}},
		{name: "saturated baseline warns", args: []string{satBase, cand}, code: ExitOK,
			stdout: []string{"result: ok"}, stderr: []string{"warning: baseline run", "satbase.json", saturatedReason}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runMain(append(append([]string{"compare"}, tc.args...), gate...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			for _, w := range tc.notStderr {
				if strings.Contains(stderr, w) {
					t.Errorf("stderr has %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestCompareHelpAllowSaturated checks that --help documents --allow-saturated.
func TestCompareHelpAllowSaturated(t *testing.T) {
	t.Parallel()
	code, out, _ := runMain("compare", "--help")
	if code != ExitOK || !strings.Contains(out, "--allow-saturated") || !strings.Contains(out, "saturated") {
		t.Fatalf("compare --help: exit %d\n%s", code, out)
	}
}

// TestCompareToleranceBareNumberRefused checks that --tolerance 0.1 (a tenth
// of a percent, or ten percent?) is refused with exit 2 saying what to write,
// where it used to be read silently as 0.1%.
func TestCompareToleranceBareNumberRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, cand := writeReport(t, dir, "base", 100, false), writeReport(t, dir, "cand", 100, false)
	for _, args := range [][]string{{"--tolerance", "0.1"}, {"--metric", "ws_rtt.p50=0.1"}} {
		code, _, stderr := runMain(append([]string{"compare", base, cand}, args...)...)
		if code != ExitBadInput {
			t.Errorf("%q: exit %d, want %d\n%s", args, code, ExitBadInput, stderr)
		}
		for _, w := range []string{"bare number", "10%", "0.1%"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("%q: stderr lacks %q:\n%s", args, w, stderr)
			}
		}
	}
	if code, out, _ := runMain("compare", "--help"); code != ExitOK || !strings.Contains(out, "bare number") {
		t.Errorf("compare --help does not say how bare numbers are read: exit %d\n%s", code, out)
	}
}

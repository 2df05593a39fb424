package cli

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench"
)

// startServe runs `wssbench serve` as its own process with extra flags and
// returns its URL and CA file; the server is stopped when the test ends.
func startServe(t *testing.T, extra ...string) (url, ca string) {
	t.Helper()
	srv := exec.Command(os.Args[0], append([]string{"serve", "--listen", "127.0.0.1:0"}, extra...)...)
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = srv.Process.Kill()
		}
		if ca != "" {
			os.RemoveAll(filepath.Dir(ca))
		}
	})
	plain := slices.Contains(extra, "--plain") // no certificate, no CA line
	sc := bufio.NewScanner(stdout)
	for (url == "" || (ca == "" && !plain)) && sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, bench.ReadyPrefix) {
			url = strings.TrimPrefix(line, bench.ReadyPrefix)
		}
		if i := strings.Index(line, "--ca "); i >= 0 {
			ca = strings.TrimSpace(line[i+5:])
		}
	}
	if url == "" || (ca == "" && !plain) {
		t.Fatalf("serve printed no URL or CA (url %q, ca %q)", url, ca)
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return url, ca
}

func TestThresholdBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badScenario := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badScenario, []byte("conns: 10\nthresholds: ['ws_rtt.p99 < 5']\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"typo", []string{"run", "--threshold", "ws_rt.p99 < 5ms"}, []string{`did you mean "ws_rtt.p99"`, "Valid metrics", "errors.rate"}},
		{"bad value", []string{"run", "--threshold", "errors.rate < 5ms"}, []string{"percentage"}},
		{"not measured in this mode", []string{"run", "--mode", "connect-hold", "--threshold", "ws_rtt.p99 < 5ms"}, []string{"connect-hold sends no frames"}},
		{"no proxy", []string{"run", "--threshold", "proxy_us_per_frame < 50"}, []string{"no proxy"}},
		{"scenario threshold", []string{"run", "--scenario", badScenario}, []string{"needs a time unit"}},
		{"compare one file", []string{"compare", "a.json"}, []string{"want two reports"}},
		{"compare missing file", []string{"compare", filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")}, []string{"a.json", "no such file"}},
		{"compare bad metric", []string{"compare", "a.json", "b.json", "--metric", "ws_rtt.p95"}, []string{"did you mean"}},
		{"compare bad tolerance", []string{"compare", "a.json", "b.json", "--tolerance", "lots"}, []string{"tolerance"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			code, _, stderr := runMain(tc.args...)
			if code != ExitBadInput {
				t.Fatalf("exit %d, want %d; stderr: %s", code, ExitBadInput, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not say %q", stderr, w)
				}
			}
			// Refused before any load: no target was started, no run took place.
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v: the expression must be checked before the run", d)
			}
		})
	}
}

// TestThresholdFailsRunWithExitThree runs a scenario file whose thresholds
// hold one impossible bound and checks exit 3, the stderr line, the JSON
// report and the JUnit file.
func TestThresholdFailsRunWithExitThree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sc := filepath.Join(dir, "gate.yaml")
	yaml := "conns: 10\nconnect_rate: 0\nduration: 500ms\nmsg_rate: 20\nthresholds:\n  - 'ws_rtt.p50 < 1us'\n  - 'errors.count == 0'\n  - 'connections.established >= 10'\n"
	if err := os.WriteFile(sc, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	out, junit := filepath.Join(dir, "r.json"), filepath.Join(dir, "junit.xml")
	code, stdout, stderr := runMain("run", "--scenario", sc, "-q", "--out", out, "--junit", junit)
	if code != ExitGate {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitGate, stdout, stderr)
	}
	if !strings.Contains(stderr, "threshold failed: ws_rtt.p50 < 1us (measured ") || strings.Contains(stderr, "errors.count") {
		t.Fatalf("stderr must name the failed threshold, and only it:\n%s", stderr)
	}
	if !strings.Contains(stdout, "FAIL ws_rtt.p50 < 1us") || !strings.Contains(stdout, "ok   errors.count == 0 (measured 0)") {
		t.Fatalf("summary lacks the thresholds:\n%s", stdout)
	}
	var rep struct {
		Thresholds []struct {
			Expr, Metric string
			Measured     float64
			OK           bool
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Thresholds) != 3 || rep.Thresholds[0].OK || rep.Thresholds[0].Metric != "ws_rtt.p50" || rep.Thresholds[0].Measured < 1 || !rep.Thresholds[1].OK {
		t.Fatalf("report thresholds %+v", rep.Thresholds)
	}
	var ju struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	b, err = os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &ju); err != nil || ju.Tests != 4 || ju.Failures != 1 {
		t.Fatalf("junit: %v %+v\n%s", err, ju, b)
	}
	// --threshold on the command line replaces the scenario's: now it passes.
	code, stdout, stderr = runMain("run", "--scenario", sc, "-q", "--threshold", "errors.count == 0")
	if code != ExitOK {
		t.Fatalf("with the flag's threshold: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestThresholdPrecedence: a run that failed is exit 1 even when a threshold
// failed too; a failure that a passing threshold tolerates is not.
func TestThresholdPrecedence(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: every connection is refused.
	args := []string{"run", "--target", "wss://127.0.0.1:1/", "--insecure", "--conns", "2", "--duration", "200ms", "-q"}
	code, _, stderr := runMain(append(args, "--threshold", "ws_rtt.p50 < 1s")...)
	if code != ExitRunFailed || !strings.Contains(stderr, "threshold failed: ws_rtt.p50 < 1s (not measured") {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitRunFailed, stderr)
	}
	code, stdout, stderr := runMain(append(args, "--threshold", "connections.failed <= 2", "--threshold", "errors.count <= 2")...)
	if code != ExitOK || !strings.Contains(stdout, "within threshold connections.failed <= 2") {
		t.Fatalf("tolerated failures: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestSeriesThresholdNamesTheRun checks a --repeat series against a threshold.
func TestSeriesThresholdNamesTheRun(t *testing.T) {
	t.Parallel()
	junit := filepath.Join(t.TempDir(), "j.xml")
	code, stdout, stderr := runMain("run", "--repeat", "2", "--conns", "5", "--connect-rate", "0", "--duration", "300ms", "--msg-rate", "20", "-q",
		"--threshold", "tls_handshake.p50 < 1us", "--junit", junit)
	if code != ExitGate {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"threshold failed in direct run 1 of 2: tls_handshake.p50 < 1us", "threshold failed in direct run 2 of 2"} {
		if !strings.Contains(stderr, w) || !strings.Contains(stdout, w) {
			t.Errorf("stderr and summary must say %q:\n%s\n%s", w, stderr, stdout)
		}
	}
	if b, err := os.ReadFile(junit); err != nil || strings.Count(string(b), "<testsuite ") != 2 {
		t.Fatalf("junit: %v\n%s", err, b)
	}
}

// TestCompareCatchesRealRegression makes a real regression, a target that
// waits 30 ms before each echo, and checks that compare fails with exit 3
// naming the metric, while the same setup run twice passes. Loopback round
// trips are about 0.1 ms (a few ms on a loaded machine): 30 ms stands far
// out of that noise, and a generous tolerance keeps the same-setup case from
// failing on a busy machine.
func TestCompareCatchesRealRegression(t *testing.T) {
	t.Parallel()
	fastURL, fastCA := startServe(t)
	slowURL, slowCA := startServe(t, "--echo-delay", "30ms")
	dir := t.TempDir()
	run := func(name, url, ca string) string {
		out := filepath.Join(dir, name+".json")
		code, stdout, stderr := runMain("run", "--target", url, "--ca", ca, "--label", name, "--conns", "20", "--connect-rate", "0",
			"--duration", "1s", "--msg-rate", "10", "-q", "--out", out)
		if code != ExitOK {
			t.Fatalf("%s: exit %d\n%s\n%s", name, code, stdout, stderr)
		}
		return out
	}
	base, again, slow := run("base", fastURL, fastCA), run("again", fastURL, fastCA), run("cand", slowURL, slowCA)
	// On a busy machine (race detector, a CPU burner) a 20-connection run may
	// be flagged saturated; that gate has its own test
	// (TestCompareSaturatedCandidateFails), so it is allowed here.
	gate := []string{"--metric", "ws_rtt.p50", "--metric", "ws_rtt_uncorrected.p50", "--tolerance", "1000%", "--allow-saturated"}

	code, stdout, stderr := runMain(append([]string{"compare", base, again}, gate...)...)
	if code != ExitOK || !strings.Contains(stdout, "result: ok") {
		t.Fatalf("same setup twice: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("same setup twice:\n%s", stdout)
	code, stdout, stderr = runMain(append([]string{"compare", base, slow}, gate...)...)
	t.Logf("against the slow target:\n%s", stdout)
	if code != ExitGate {
		t.Fatalf("regression: exit %d, want %d\n%s\n%s", code, ExitGate, stdout, stderr)
	}
	for _, w := range []string{"regression: ws_rtt.p50 +", "regression: ws_rtt_uncorrected.p50 +"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr does not name the metric (%q):\n%s", w, stderr)
		}
	}
	if !strings.Contains(stdout, "REGRESSION") || !strings.Contains(stdout, "result: FAIL, 2 regression(s): ws_rtt.p50") {
		t.Errorf("output:\n%s", stdout)
	}

	// A different load shape is refused, naming the key; --force compares anyway.
	other := filepath.Join(dir, "other.json")
	var m map[string]any
	b, _ := os.ReadFile(base)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["config"].(map[string]any)["msg_rate"] = 50.0
	b, _ = json.Marshal(m)
	if err := os.WriteFile(other, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runMain("compare", base, other)
	if code != ExitBadInput || !strings.Contains(stderr, "msg_rate (baseline 10, candidate 50)") {
		t.Fatalf("different config: exit %d\n%s", code, stderr)
	}
	if code, stdout, _ = runMain(append([]string{"compare", base, other, "--force"}, gate...)...); code != ExitOK || !strings.Contains(stdout, "config differs (--force): msg_rate") {
		t.Fatalf("--force: exit %d\n%s", code, stdout)
	}
	// A truncated report is bad input.
	trunc := filepath.Join(dir, "trunc.json")
	if err := os.WriteFile(trunc, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr = runMain("compare", base, trunc); code != ExitBadInput || !strings.Contains(stderr, "truncated") {
		t.Fatalf("truncated: exit %d\n%s", code, stderr)
	}
}

func TestCompareHelp(t *testing.T) {
	t.Parallel()
	code, out, _ := runMain("compare", "--help")
	if code != ExitOK || !strings.Contains(out, "Examples:") || !strings.Contains(out, "--tolerance 20%") || strings.Contains(out, "%!") {
		t.Fatalf("compare --help: exit %d\n%s", code, out)
	}
	code, out, _ = runMain("run", "--help")
	if code != ExitOK || !strings.Contains(out, "--threshold") || strings.Contains(out, "%!") {
		t.Fatalf("run --help: exit %d\n%s", code, out)
	}
}

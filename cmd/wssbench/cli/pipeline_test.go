package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTLSMismatchPlusPassingThresholdExitsOne is defect 1 of issue 9: a
// TLS mismatch with a passing threshold printed "verdict ok, but: TLS not as
// asked" and exited 0. A failure no threshold covers keeps the run failed.
func TestTLSMismatchPlusPassingThresholdExitsOne(t *testing.T) {
	t.Parallel()
	url, _ := startServe(t)
	code, stdout, stderr := runMain("run", "--target", url, "--insecure", "--ciphers", "TLS_AES_256_GCM_SHA384",
		"--threshold", "ws_rtt.p99 < 10s", "--conns", "5", "--connect-rate", "0", "--duration", "300ms", "--msg-rate", "5", "-q")
	if code != ExitRunFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitRunFailed, stdout, stderr)
	}
	if !strings.Contains(stdout, "NOT OK") || !strings.Contains(stdout, "TLS not as asked") || strings.Contains(stdout, "verdict      ok") {
		t.Fatalf("summary does not fail for the mismatch:\n%s", stdout)
	}
}

// TestHlogWithMatrixWritesEveryRun is defect 2 of issue 9: --hlog with a
// matrix scenario wrote no file at all (files were keyed by topology, runs by cell).
func TestHlogWithMatrixWritesEveryRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sc := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(sc, []byte("conns: 4\nconnect_rate: 0\nduration: 1100ms\nmsg_rate: 5\nmatrix:\n  tls_max: [\"1.3\", \"1.2\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hlog := filepath.Join(dir, "m.hlog")
	code, stdout, stderr := runMain("run", "--scenario", sc, "-q", "--hlog", hlog)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"m-direct_tls_max=1.3-1.hlog", "m-direct_tls_max=1.2-1.hlog"} {
		b, err := os.ReadFile(filepath.Join(dir, want))
		if err != nil {
			t.Fatalf("%s: %v\n%s", want, err, stderr)
		}
		if !strings.Contains(string(b), "Tag=ws_rtt,") || !strings.Contains(string(b), "Tag=tls_handshake,") {
			t.Fatalf("%s has no interval of ws_rtt or tls_handshake:\n%s", want, b)
		}
	}
	// The same logs come out of the saved report, without running again.
	out := filepath.Join(dir, "m.json")
	if code, _, stderr := runMain("run", "--scenario", sc, "-q", "--out", out); code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	again := filepath.Join(dir, "again.hlog")
	if code, _, stderr := runMain("report", out, "--hlog", again); code != ExitOK {
		t.Fatalf("report --hlog: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "again-direct_tls_max=1.2-1.hlog")); err != nil {
		t.Fatal(err)
	}
}

// TestUnwritableOutputFoundBeforeLoad is defect 7 of issue 9: an unwritable
// --out or --junit was found after the whole load (exit 1, report lost). Every
// output path is checked first (exit 2), and no folder is made outside the
// current directory.
func TestUnwritableOutputFoundBeforeLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(dir, "missing", "r.json")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"parent is a file", []string{"--out", filepath.Join(file, "r.json")}, "is a file, not a folder"},
		{"junit parent is a file", []string{"--junit", filepath.Join(file, "j.xml")}, "--junit"},
		{"no permission", []string{"--out", "/proc/wssbench-report.json"}, "--out /proc/wssbench-report.json"},
		{"a folder", []string{"--markdown", dir}, "is a folder"},
		{"missing folder outside the working directory", []string{"--html", outside}, "create it first"},
		{"hlog of a series", []string{"--topology", "direct,builtin", "--hlog", filepath.Join(file, "x.hlog")}, "x-direct-1.hlog"},
		{"two formats, one file", []string{"--out", filepath.Join(dir, "r.json"), "--html", filepath.Join(dir, "r.json")}, "--out writes that file too"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			// A load of 30 s would show: the check must come first.
			code, stdout, stderr := runMain(append([]string{"run", "--duration", "30s", "-q"}, tc.args...)...)
			if code != ExitBadInput || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 saying %q\n%s", code, stderr, tc.want, stdout)
			}
			if time.Since(start) > 20*time.Second {
				t.Fatalf("took %v: the load ran before the check", time.Since(start))
			}
		})
	}
	if _, err := os.Stat(filepath.Dir(outside)); !os.IsNotExist(err) {
		t.Fatalf("a folder outside the working directory was made: %v", err)
	}
}

// TestRepeatZeroIsBadInput is defect 9 of issue 9 (--repeat 0 was accepted).
func TestRepeatZeroIsBadInput(t *testing.T) {
	t.Parallel()
	code, _, stderr := runMain("run", "--repeat", "0")
	if code != ExitBadInput || !strings.Contains(stderr, "--repeat must be between 1 and 100") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// TestTargetStallShowsInCorrectedRTTOnly shows coordinated-omission
// correction at work against a real target that stalls (serve --stall): a
// 2 s stall delays the 40% of frames scheduled during it, so the corrected
// ws_rtt p99 holds it; each connection had only one frame in flight when it
// began (0.5% of the frames), so the uncorrected p99 does not.
func TestTargetStallShowsInCorrectedRTTOnly(t *testing.T) {
	t.Parallel()
	url, ca := startServe(t, "--stall", "2s@1s")
	out := filepath.Join(t.TempDir(), "stall.json")
	code, stdout, stderr := runMain("run", "--target", url, "--ca", ca, "--conns", "10", "--connect-rate", "0",
		"--duration", "5s", "--msg-rate", "40", "-q", "--out", out)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Frames struct {
			Received int64
			RTT      struct {
				P99Us float64 `json:"p99_us"`
			} `json:"rtt"`
			RTTUncorrected struct {
				P99Us float64 `json:"p99_us"`
			} `json:"rtt_uncorrected"`
		}
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	corrected, uncorrected := rep.Frames.RTT.P99Us/1e3, rep.Frames.RTTUncorrected.P99Us/1e3
	if corrected < 1000 || uncorrected > 500 {
		t.Fatalf("ws_rtt p99 %.1f ms, uncorrected p99 %.1f ms over %d frames: want the 2 s stall in the first (over 1 s) and not in the second (under 0.5 s)",
			corrected, uncorrected, rep.Frames.Received)
	}
}

// TestWSSToPlainServerSaysUseWS is defect 8 of issue 9 through a whole run:
// wss:// aimed at a plain ws:// server was tls_handshake_failure: EOF; it is
// tls_not_tls, with what to do.
func TestWSSToPlainServerSaysUseWS(t *testing.T) {
	t.Parallel()
	url, _ := startServe(t, "--plain")
	wss := "wss://" + strings.TrimPrefix(url, "ws://")
	code, stdout, stderr := runMain("run", "--target", wss, "--insecure", "--conns", "3", "--connect-rate", "0", "--duration", "200ms", "-q")
	if code != ExitRunFailed {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "tls_not_tls") || !strings.Contains(stdout, "ws://") || strings.Contains(stdout, "tls_handshake_failure") {
		t.Fatalf("summary does not say tls_not_tls with what to do:\n%s", stdout)
	}
}

// TestMatrixThatConnectsNothingFails: a matrix forgives cells whose settings
// cannot work and cells no server could negotiate, but not cells that failed
// for any other reason: against a server whose certificate the driver does
// not trust, every cell fails, and so does the run (exit 1).
func TestMatrixThatConnectsNothingFails(t *testing.T) {
	t.Parallel()
	url, _ := startServe(t)
	_, otherCA := startServe(t) // another server's CA: not the one that signed url's certificate
	dir := t.TempDir()
	sc := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(sc, []byte("conns: 2\nconnect_rate: 0\nduration: 200ms\nmsg_rate: 5\nmatrix:\n  tls_max: [\"1.3\", \"1.2\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain("run", "--scenario", sc, "--target", url, "--ca", otherCA, "--cert-key", "", "-q")
	if code != ExitRunFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitRunFailed, stdout, stderr)
	}
	if !strings.Contains(stdout, "tls_unknown_authority") || !strings.Contains(stdout, "NOT OK") {
		t.Fatalf("summary does not fail and say why:\n%s", stdout)
	}
}

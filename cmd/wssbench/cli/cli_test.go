package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench"
)

// TestMain lets the test binary stand in for wssbench: `run` starts the
// built-in target as os.Executable() + "serve", which lands here.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "serve" || os.Args[1] == "run" || os.Args[1] == "proxy" || os.Args[1] == "drive" || os.Args[1] == "merge" || os.Args[1] == "search") && os.Getenv("WSSBENCH_TEST_CHILD") != "" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Setenv("WSSBENCH_TEST_CHILD", "1")
	code := m.Run()
	removeNodeWSInstall()
	os.Exit(code)
}

func runMain(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, &o, &e)
	return code, o.String(), e.String()
}

func TestBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badScenario := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badScenario, []byte("mode: steady\nconns: 10\nconections: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badWorkload := filepath.Join(dir, "workload.yaml")
	if err := os.WriteFile(badWorkload, []byte("mode: steady\nconns: 10\nroles:\n  - name: pub\n    share: 10%\n    send: '{{nope}}'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "Usage"},
		{"unknown command", []string{"blast"}, "unknown command"},
		{"unknown flag", []string{"run", "--connz", "5"}, "unknown flag"},
		{"malformed URL", []string{"run", "--target", "wss://[::1"}, "is not a URL"},
		{"wrong scheme", []string{"run", "--target", "https://127.0.0.1/"}, "ws:// or wss://"},
		{"zero conns", []string{"run", "--conns", "0"}, "--conns must be at least 1"},
		{"unreadable CA", []string{"run", "--target", "wss://127.0.0.1:1/", "--ca", filepath.Join(dir, "missing.pem")}, "--ca"},
		{"CA not PEM", []string{"run", "--target", "wss://127.0.0.1:1/", "--ca", notPEM}, "no PEM certificate"},
		{"too many conns for one process", []string{"run", "--conns", "30000", "--procs", "1"}, "use --procs 2 or more"},
		{"too many conns for memory", []string{"run", "--conns", "5000000", "--mode", "connect-hold", "--dry-run"}, "GiB is available"},
		{"scenario unknown key", []string{"run", "--scenario", badScenario}, "line 3"},
		{"scenario missing", []string{"run", "--scenario", filepath.Join(dir, "none.yaml")}, "shipped scenarios"},
		{"ca on ws://", []string{"run", "--target", "ws://127.0.0.1:1/", "--insecure"}, "only to wss://"},
		{"serve cert without key", []string{"serve", "--cert", notPEM}, "go together"},
		{"serve bad cert", []string{"serve", "--cert", notPEM, "--key", notPEM}, "load certificate"},
		{"extra argument", []string{"run", "wss://127.0.0.1/"}, "unexpected argument"},
		{"template with an unknown variable", []string{"run", "--scenario", badWorkload}, "line 6: roles[1]: send"},
		{"roles over the conns", []string{"run", "--conns", "10", "--scenario", "chat-fanout", "--conns", "1"}, "takes the rest, but the others take all 1"},
		{"stages backwards", []string{"run", "--stages", "ramp=-5s:100"}, "positive"},
		{"stamp without its field", []string{"run", "--latency", "stamp"}, "needs the JSON field"},
		{"threshold on a stage that is not there", []string{"run", "--stages", "up=1s:10", "--threshold", "ws_rtt.p99[stage=peak] < 5ms"}, "up"},
		{"storm after the window", []string{"run", "--duration", "2s", "--storm", "50%@5s"}, "inside the steady window"},
		{"serve rooms with push", []string{"serve", "--rooms", "3", "--push", "1"}, "do not go together"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runMain(tc.args...)
			if code != ExitBadInput {
				t.Fatalf("exit %d, want %d; stderr: %s", code, ExitBadInput, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Fatalf("stderr %q does not say %q", stderr, tc.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"run", "serve"} {
		code, out, _ := runMain(cmd, "--help")
		if code != ExitOK || !strings.Contains(out, "Examples:") || !strings.Contains(out, "--") {
			t.Fatalf("%s --help: exit %d, output %q", cmd, code, out)
		}
	}
}

// TestRunBuiltinTarget is the default path end to end: the target in a child
// process, a JSON report with the v1 keys, a clean verdict.
func TestRunBuiltinTarget(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := runMain("run", "--conns", "30", "--connect-rate", "0", "--duration", "700ms", "--msg-rate", "20", "--quiet", "--out", out)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{"tls_handshake", "ws_rtt", "TLS 1.3", "one handshake costs the driver as much CPU as", "verdict      ok"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	var rep map[string]any
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "label", "config", "started_at", "duration_s", "connections", "phases", "frames", "tls", "cpu", "verdict"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	if rep["schema"] != "wssbench/v1" {
		t.Errorf("schema = %v", rep["schema"])
	}
	cpu := rep["cpu"].(map[string]any)
	if cpu["target_s"].(float64) <= 0 || cpu["driver_us_per_frame"].(float64) <= 0 {
		t.Errorf("cpu = %v: the child target's CPU and the per-frame cost must be measured", cpu)
	}
	conns := rep["connections"].(map[string]any)
	if conns["established"].(float64) != 30 {
		t.Errorf("connections = %v", conns)
	}
}

// TestRunRemoteWithServe runs `serve` as its own process and drives it with
// --target and --ca, as a user with two terminals would.
func TestRunRemoteWithServe(t *testing.T) {
	t.Parallel()
	srv := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	defer func() {
		if srv.ProcessState == nil {
			_ = srv.Process.Kill()
		}
	}()
	sc := bufio.NewScanner(stdout)
	var url, ca string
	for (url == "" || ca == "") && sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, bench.ReadyPrefix) {
			url = strings.TrimPrefix(line, bench.ReadyPrefix)
		}
		if i := strings.Index(line, "--ca "); i >= 0 {
			ca = strings.TrimSpace(line[i+5:])
		}
	}
	if url == "" || ca == "" {
		t.Fatalf("serve printed no URL or CA (url %q, ca %q)", url, ca)
	}
	defer os.RemoveAll(filepath.Dir(ca))
	go func() {
		for sc.Scan() {
		}
	}()
	code, out, errOut := runMain("run", "--target", url, "--ca", ca, "--conns", "20", "--duration", "500ms", "--msg-rate", "0", "--binary", "-q")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	// Without --ca the self-signed certificate is refused, and classified.
	code, out, _ = runMain("run", "--target", url, "--conns", "3", "--duration", "200ms", "-q")
	if code != ExitRunFailed || !strings.Contains(out, "tls_unknown_authority") {
		t.Fatalf("without --ca: exit %d, summary:\n%s", code, out)
	}
	// --insecure connects, and the summary says it was used.
	code, out, _ = runMain("run", "--target", url, "--insecure", "--conns", "3", "--duration", "200ms", "-q")
	if code != ExitOK || !strings.Contains(out, "--insecure") {
		t.Fatalf("--insecure: exit %d, summary:\n%s", code, out)
	}
	// serve stops cleanly on SIGTERM.
	go func() { exited <- srv.Wait() }()
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM", err)
		}
		if _, err := os.Stat(filepath.Dir(ca)); !os.IsNotExist(err) {
			t.Fatalf("serve left its generated key folder %s behind (%v)", filepath.Dir(ca), err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10 s of SIGTERM")
	}
}

// TestInterruptWritesPartialReport sends SIGINT to a running `run` and checks
// that the report is still written, marked partial, and the target is gone.
// interrupt sends cmd SIGINT (Ctrl-C) and waits for it to exit, killing it
// and failing the test if it takes longer than within.
func interrupt(t *testing.T, cmd *exec.Cmd, what string, within time.Duration) {
	t.Helper()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(within):
		_ = cmd.Process.Kill()
		t.Fatalf("%s did not stop within %v of SIGINT", what, within)
	}
}

func TestInterruptWritesPartialReport(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "partial.json")
	cmd := exec.Command(os.Args[0], "run", "--conns", "20", "--duration", "60s", "--msg-rate", "5", "--out", out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	interrupt(t, cmd, "run", 20*time.Second)
	if code := cmd.ProcessState.ExitCode(); code != ExitRunFailed {
		t.Fatalf("exit %d, want %d; stderr: %s", code, ExitRunFailed, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("no partial report: %v; stdout: %s", err, stdout.String())
	}
	var rep struct {
		Partial     bool `json:"partial"`
		Connections struct {
			Established int64 `json:"established"`
			ClosedClean int64 `json:"closed_clean"`
		} `json:"connections"`
		Frames struct{ Received int64 } `json:"frames"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Partial || rep.Connections.Established != 20 || rep.Connections.ClosedClean != 20 || rep.Frames.Received == 0 {
		t.Fatalf("partial report = %+v", rep)
	}
	if !strings.Contains(stdout.String(), "PARTIAL") {
		t.Fatalf("summary does not say PARTIAL:\n%s", stdout.String())
	}
}

// TestTopologyComparisonLeavesNothingRunning compares every topology whose
// program is installed (CI installs nginx and haproxy), checks the comparison
// report, and that no process the run started is left. It is not parallel, so
// no other test's children are around when it counts.
func TestTopologyComparisonLeavesNothingRunning(t *testing.T) {
	topologies := []string{"direct", "builtin"}
	for _, p := range []string{"nginx", "haproxy"} {
		if _, err := exec.LookPath(p); err == nil {
			topologies = append(topologies, p)
		} else {
			t.Logf("%s not installed (apt-get install -y %s): compared without it", p, p)
		}
	}
	out := filepath.Join(t.TempDir(), "term.json")
	code, stdout, stderr := runMain("run", "--topology", strings.Join(topologies, ","), "--conns", "40", "--connect-rate", "0",
		"--duration", "500ms", "--msg-rate", "20", "-q", "--out", out, "--hlog", filepath.Join(filepath.Dir(out), "term.hlog"),
		"--html", filepath.Join(filepath.Dir(out), "term.html"), "--markdown", filepath.Join(filepath.Dir(out), "term.md"))
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	checkSeriesOutputs(t, filepath.Dir(out), topologies)
	var rep struct {
		Runs []struct {
			Target struct{ Topology string }
			CPU    struct {
				ProxyS float64 `json:"proxy_s"`
			}
			Connections struct{ Established int64 }
		}
		Comparison struct {
			Baseline    string
			Conclusions []string
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != len(topologies) || rep.Comparison.Baseline != "direct" || len(rep.Comparison.Conclusions) != len(topologies)-1 {
		t.Fatalf("comparison: %d runs, baseline %q, %d conclusions\n%s", len(rep.Runs), rep.Comparison.Baseline, len(rep.Comparison.Conclusions), stdout)
	}
	for i, r := range rep.Runs {
		if r.Target.Topology != topologies[i] || r.Connections.Established != 40 {
			t.Errorf("run %d: topology %q established %d", i, r.Target.Topology, r.Connections.Established)
		}
		if r.Target.Topology != "direct" && r.CPU.ProxyS <= 0 {
			t.Errorf("%s: the proxy's CPU was not measured", r.Target.Topology)
		}
	}
	children, _ := exec.Command("pgrep", "-P", fmt.Sprint(os.Getpid())).Output()
	if s := strings.TrimSpace(string(children)); s != "" {
		t.Fatalf("processes left running after the comparison: %s", s)
	}
}

package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench/capacity"
	"github.com/wssbench/wssbench/reports"
)

// searchArgs is a short search along conns, each connection sending a
// frame every 2 s, against url. The long interval keeps the driver's own
// health check (a send more than a tenth of an interval late) clear of a
// busy test machine's late wake-ups, and 100 ms of p99 clear of its noise;
// past the capacity the backlog still passes 100 ms within the 2 s window
// at 10% over (15 frames/s of backlog at 150/s).
func searchArgs(url, ca, out string) []string {
	return []string{"search", "--vary", "conns", "--from", "20", "--to", "1280", "--precision", "10%",
		"--msg-rate", "0.5", "--connect-rate", "0", "--duration", "2s", "--target", url, "--ca", ca,
		"--slo", "ws_rtt.p99 < 100ms", "--slo", "errors.rate < 0.1%", "--quiet", "--out", out}
}

type searchJSON struct {
	Schema  string `json:"schema"`
	Partial bool   `json:"partial"`
	Search  struct {
		Vary   string `json:"vary"`
		Stop   string `json:"stop"`
		Answer string `json:"answer"`
		Knee   *struct {
			Pass, Fail   float64
			FramesPerSec float64 `json:"frames_per_s"`
		} `json:"knee"`
		Probes []struct {
			Value float64 `json:"value"`
			Pass  bool    `json:"pass"`
			Runs  []any   `json:"runs"`
		} `json:"probes"`
	} `json:"search"`
}

// runSearch runs wssbench search as its own process: the driver's health
// (its CPU against the cores, which saturation is judged by) is then its
// own, not that of every test running in this one.
func runSearch(args ...string) (code int, stdout, stderr string) {
	cmd := exec.Command(os.Args[0], args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		code = -1
	}
	return code, o.String(), e.String()
}

func readSearch(t *testing.T, path string) searchJSON {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s searchJSON
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSearchFindsCapacityAndGatesOnIt: wssbench serve --capacity 150 (its
// own process, as a user's server would be), a frame every 2 s per
// connection: the knee is at 300 connections. Past it the target's queue
// grows without bound, so the knee cannot be found above it, whatever the
// machine (below it, only a very slow one would fail 100 ms). A search
// against half the capacity fails the compare gate; the same capacity
// twice passes it.
//
// It runs on its own, not in parallel with the package's other tests: a
// capacity is measured on a machine that is not also running the rest of
// the suite.
func TestSearchFindsCapacityAndGatesOnIt(t *testing.T) {
	dir := t.TempDir()
	paths := map[string]string{"base": filepath.Join(dir, "base.json"), "same": filepath.Join(dir, "same.json"), "less": filepath.Join(dir, "less.json")}
	caps := map[string]string{"base": "150", "same": "150", "less": "75"}
	type server struct{ url, ca string }
	servers := map[string]server{}
	for name, c := range caps {
		url, ca := startServe(t, "--capacity", c, "--idle-timeout", "10m")
		servers[name] = server{url, ca}
	}
	stdouts := map[string]string{}
	// One search at a time: three at once would load the machine more
	// than the searches measure.
	for _, name := range []string{"base", "same", "less"} {
		code, stdout, stderr := runSearch(searchArgs(servers[name].url, servers[name].ca, paths[name])...)
		if code != ExitOK {
			t.Fatalf("%s: exit %d\n%s%s", name, code, stdout, stderr)
		}
		stdouts[name] = stdout
	}
	s := readSearch(t, paths["base"])
	k := s.Search.Knee
	if s.Search.Stop != "knee" || k == nil || k.Pass > 300*1.1 || k.Fail < 300 || k.Pass < 300*0.5 {
		t.Fatalf("stop %s knee %+v, want the pass at most 10%% above 300 and the fail at 300 or more\n%s", s.Search.Stop, k, stdouts["base"])
	}
	if k.FramesPerSec > 150*1.1 || k.FramesPerSec <= 0 {
		t.Fatalf("knee frames/s %v against a capacity of 150", k.FramesPerSec)
	}
	if !strings.Contains(stdouts["base"], "holds") || !strings.Contains(s.Search.Answer, "ws_rtt.p99") {
		t.Fatalf("the answer is not stated plainly:\n%s\nanswer: %s", stdouts["base"], s.Search.Answer)
	}
	for _, p := range s.Search.Probes {
		if len(p.Runs) != 1 {
			t.Fatalf("probe %v holds %d runs", p.Value, len(p.Runs))
		}
	}
	if code, stdout, stderr := runMain("compare", paths["base"], paths["same"], "--tolerance", "20%"); code != ExitOK {
		t.Fatalf("the same capacity twice: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr := runMain("compare", paths["base"], paths["less"], "--tolerance", "20%")
	if code != ExitGate || !strings.Contains(stdout+stderr, "capacity fell") {
		t.Fatalf("a third less capacity: exit %d, want %d saying the capacity fell\n%s%s", code, ExitGate, stdout, stderr)
	}
}

func TestSearchBadInput(t *testing.T) {
	t.Parallel()
	base := []string{"search", "--vary", "msg-rate", "--from", "5", "--to", "50", "--slo", "ws_rtt.p99 < 5ms"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown SLO metric", with("--slo", "ws_rtt.p98 < 5ms"), "ws_rtt.p98"},
		{"from above to", with("--from", "80"), "above --to"},
		{"precision zero", with("--precision", "0%"), "--precision"},
		{"conns in a handshake storm", []string{"search", "--vary", "conns", "--from", "5", "--to", "50", "--slo", "connect_total.p99 < 50ms", "--mode", "handshake-storm"}, "vary connect-rate"},
		{"msg-rate without frames", []string{"search", "--vary", "msg-rate", "--from", "5", "--to", "50", "--slo", "connect_total.p99 < 50ms", "--mode", "connect-hold"}, "has none"},
		{"no vary", []string{"search", "--from", "5", "--to", "50", "--slo", "ws_rtt.p99 < 5ms"}, "--vary is required"},
		{"unknown axis", with("--vary", "size"), "not one of msg-rate, conns, connect-rate"},
		{"no slo", []string{"search", "--vary", "msg-rate", "--from", "5", "--to", "50"}, "--slo is required"},
		{"threshold instead of slo", with("--threshold", "ws_rtt.p99 < 5ms"), "--slo"},
		{"two topologies", with("--topology", "direct,nginx"), "search each topology"},
		{"a live page of many runs", with("--ui", "127.0.0.1:0"), "--ui follows one run"},
		{"a probe that cannot plan", with("--to", "5000000", "--vary", "conns", "--procs", "1"), "at --vary conns 5000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runMain(tc.args...)
			if code != ExitBadInput || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want %d saying %q; stderr: %s", code, ExitBadInput, tc.want, stderr)
			}
		})
	}
}

// TestSearchInterruptWritesPartialReport: Ctrl-C during a search writes
// the probes done so far, marked partial.
func TestSearchInterruptWritesPartialReport(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "partial.json")
	cmd := exec.Command(os.Args[0], "search", "--vary", "msg-rate", "--from", "1", "--to", "64", "--conns", "20", "--connect-rate", "0",
		"--duration", "700ms", "--slo", "ws_rtt.p99 < 1s", "--out", out)
	var stdout bytes.Buffer
	stderr := &syncLog{}
	cmd.Stdout = &stdout
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { stderr.add(strings.TrimSuffix(string(p), "\n")); return len(p), nil })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for the second probe to start: the first is then done.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(stderr.String(), "probe 2:") {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no second probe within 60 s; stderr: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	interrupt(t, cmd, "search", 30*time.Second)
	if code := cmd.ProcessState.ExitCode(); code != ExitRunFailed {
		t.Fatalf("exit %d, want %d; stderr: %s", code, ExitRunFailed, stderr.String())
	}
	s := readSearch(t, out)
	if !s.Partial || s.Search.Stop != "interrupted" || len(s.Search.Probes) < 1 || !s.Search.Probes[0].Pass {
		t.Fatalf("partial search %+v", s)
	}
}

// writerFunc is an io.Writer made of a function.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestSearchUndeliveredLoadFails: a probe that achieved less than 90% of
// what it offered did not hold that load, whatever its latency.
func TestSearchUndeliveredLoadFails(t *testing.T) {
	t.Parallel()
	s := &searchSetup{spec: capacity.Spec{Axis: capacity.ConnectRate}}
	s.base.Mode = "handshake-storm"
	p := reports.Probe{OfferedPerSec: 3000, Pass: true}
	p.HandshakesPerSec.Median = 1954
	s.judgeDelivered(&p)
	if p.Pass || len(p.Failed) != 1 || !strings.Contains(p.Failed[0], "1,954 handshakes/s of the 3,000 offered") {
		t.Fatalf("probe %+v", p)
	}
	p = reports.Probe{OfferedPerSec: 3000, Pass: true}
	p.HandshakesPerSec.Median = 2800
	if s.judgeDelivered(&p); !p.Pass {
		t.Fatalf("93%% delivered failed: %+v", p)
	}
}

// TestSearchMetrics: a search's --metrics-listen endpoint has each probe as
// a cell of its own, with that probe's frames.
func TestSearchMetrics(t *testing.T) {
	t.Parallel()
	addr := freeLoopback(t)
	out := filepath.Join(t.TempDir(), "s.json")
	body := scrapeLingering(t, addr, out, "search", "--vary", "msg-rate", "--from", "5", "--to", "10", "--conns", "10", "--connect-rate", "0",
		"--duration", "500ms", "--cooldown", "0s", "--slo", "ws_rtt.p99 < 1s", "-q", "--out", out, "--metrics-listen", addr, "--metrics-linger", "3s")
	s := readSearch(t, out)
	if len(s.Search.Probes) != 2 {
		t.Fatalf("%d probes, want 5 and 10", len(s.Search.Probes))
	}
	for i := range s.Search.Probes {
		want := fmt.Sprintf(`wssbench_frames_total{cell="probe %d direct",direction="received"`, i+1)
		if !strings.Contains(body, want) {
			t.Fatalf("no %s in the metrics:\n%s", want, body)
		}
	}
}

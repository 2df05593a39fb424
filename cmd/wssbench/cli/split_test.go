package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/reports"
)

// oneRun reads a one-run report.
func oneRun(t *testing.T, path string) *reports.Report {
	t.Helper()
	doc, err := reports.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Runs) != 1 {
		t.Fatalf("%s: %d runs, want 1", path, len(doc.Runs))
	}
	return doc.Runs[0]
}

// histogram decodes a run-total histogram that must be there.
func histogram(t *testing.T, r *reports.Report, name string) *hdr.Histogram {
	t.Helper()
	h, err := r.Histogram(name)
	if err != nil || h == nil {
		t.Fatalf("histogram %s: %v (present: %v)", name, err, h != nil)
	}
	return h
}

// sameCounts reports whether two histograms hold exactly the same samples.
func sameCounts(a, b *hdr.Histogram) bool {
	return a.TotalCount() == b.TotalCount() && slices.Equal(a.Export().Counts, b.Export().Counts)
}

// TestProcsTwoMergesExactly: a steady run over two driver processes
// measures every connection and frame once, and its histograms are the
// exact sum of the two processes' own (kept with --parts-dir).
func TestProcsTwoMergesExactly(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "r.json")
	code, _, stderr := runMain("run", "--procs", "2", "--conns", "40", "--connect-rate", "200", "--duration", "2s", "--msg-rate", "5",
		"--parts-dir", dir, "--out", out, "-q")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "plan: 40 connections over 2 driver processes") {
		t.Errorf("the plan was not printed: %s", stderr)
	}
	merged := oneRun(t, out)
	a, b := oneRun(t, filepath.Join(dir, "member-1.json")), oneRun(t, filepath.Join(dir, "member-2.json"))
	if merged.Procs != 2 || merged.Connections.Established != 40 || a.Connections.Established+b.Connections.Established != 40 {
		t.Fatalf("procs %d, established %d (parts %d + %d)", merged.Procs, merged.Connections.Established, a.Connections.Established, b.Connections.Established)
	}
	if merged.Frames.Received != a.Frames.Received+b.Frames.Received || merged.Frames.Sent != a.Frames.Sent+b.Frames.Sent {
		t.Errorf("frames %d/%d, parts %d+%d / %d+%d", merged.Frames.Received, merged.Frames.Sent, a.Frames.Received, b.Frames.Received, a.Frames.Sent, b.Frames.Sent)
	}
	for _, name := range []string{"tcp_connect", "tls_handshake", "ws_upgrade", "connect_total", "ws_rtt", "ws_rtt_uncorrected"} {
		sum := histogram(t, a, name)
		sum.Merge(histogram(t, b, name))
		got := histogram(t, merged, name)
		if !sameCounts(got, sum) {
			t.Errorf("%s: merged holds %d samples, not the parts' sum (%d) bucket for bucket", name, got.TotalCount(), sum.TotalCount())
		}
	}
	if want := float64(histogram(t, merged, "ws_rtt").ValueAtQuantile(99)) / 1e3; merged.Frames.RTT.P99Us != want {
		t.Errorf("rtt p99 %.1fµs, the merged histogram says %.1fµs", merged.Frames.RTT.P99Us, want)
	}
	// The target is the parent's: its own counts agree with the merged driver's.
	if cc := merged.Crosscheck; cc == nil || !cc.OK || cc.Connections.Target != 40 {
		t.Errorf("crosscheck %+v", merged.Crosscheck)
	}
	drivers := 0
	for _, p := range merged.Processes {
		if p.Role == "driver" {
			drivers++
			if p.Established != 20 || p.CPUS <= 0 || p.PeakRSS <= 0 {
				t.Errorf("driver process %+v", p)
			}
		}
	}
	if drivers != 2 || !merged.Verdict.OK {
		t.Errorf("%d driver processes listed; verdict %+v", drivers, merged.Verdict)
	}
}

// splitRun starts `run` as a child process with a long window and waits
// until its stderr shows the load is steady; it returns the command and the
// report path.
func splitRun(t *testing.T, args ...string) (*exec.Cmd, string, *syncLog) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(os.Args[0], append(append([]string{"run"}, args...), "--out", out)...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	log := &syncLog{}
	steady := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		once := false
		for sc.Scan() {
			log.add(sc.Text())
			if !once && strings.Contains(sc.Text(), "steady") {
				once = true
				close(steady)
			}
		}
	}()
	select {
	case <-steady:
	case <-time.After(30 * time.Second):
		t.Fatalf("the run did not reach its steady window: %s", log.String())
	}
	return cmd, out, log
}

// syncLog collects a child's stderr lines from the goroutine that reads them.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line + "\n")
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// children lists the PIDs of pid's child processes whose command line holds word.
func children(t *testing.T, pid int, word string) []int {
	t.Helper()
	b, _ := exec.Command("pgrep", "-P", fmt.Sprint(pid)).Output()
	var out []int
	for _, f := range strings.Fields(string(b)) {
		var c int
		fmt.Sscan(f, &c)
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c))
		if strings.Contains(string(cmdline), word) {
			out = append(out, c)
		}
	}
	return out
}

// TestProcsInterruptWritesMergedPartialReport: Ctrl-C stops every driver
// process, and the parent still writes the merged (partial) report; nothing
// it started is left.
func TestProcsInterruptWritesMergedPartialReport(t *testing.T) {
	cmd, out, log := splitRun(t, "--procs", "2", "--conns", "20", "--duration", "60s", "--msg-rate", "5")
	if n := len(children(t, cmd.Process.Pid, "drive")); n != 2 {
		t.Fatalf("%d driver processes running, want 2", n)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != ExitRunFailed {
		t.Fatalf("exit %v, want %d; stderr: %s", err, ExitRunFailed, log.String())
	}
	r := oneRun(t, out)
	if !r.Partial || r.Connections.Established != 20 || r.Frames.Received == 0 {
		t.Errorf("partial %v, established %d, frames %d", r.Partial, r.Connections.Established, r.Frames.Received)
	}
	if left := children(t, cmd.Process.Pid, ""); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
}

// TestProcsMemberDeathIsNamed: a driver process that dies costs only its
// own share: the others' figures are in the merged report, and the verdict
// names the one that died.
func TestProcsMemberDeathIsNamed(t *testing.T) {
	cmd, out, log := splitRun(t, "--procs", "2", "--conns", "20", "--duration", "60s", "--msg-rate", "5")
	members := children(t, cmd.Process.Pid, "drive")
	if len(members) != 2 {
		t.Fatalf("%d driver processes, want 2", len(members))
	}
	if err := syscall.Kill(members[1], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The survivor goes on; end the run (its report is partial, and says who died).
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != ExitRunFailed {
		t.Fatalf("exit %v, want %d; stderr: %s", err, ExitRunFailed, log.String())
	}
	r := oneRun(t, out)
	var died []string
	for _, reason := range r.Verdict.Reasons {
		if reason.Kind == "child_died" {
			died = append(died, reason.Text)
		}
	}
	if len(died) != 1 || !strings.Contains(died[0], fmt.Sprintf("(pid %d)", members[1])) || !strings.Contains(died[0], "driver process") {
		t.Errorf("child_died reasons %q; want the killed driver process %d named", died, members[1])
	}
	if r.Connections.Established != 10 || r.Frames.Received == 0 {
		t.Errorf("the surviving process's figures: established %d, frames %d", r.Connections.Established, r.Frames.Received)
	}
}

// shardReports runs three shards of one run at once, each against its own
// built-in target, and returns their report paths.
func shardReports(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	at := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
	var paths []string
	var cmds []*exec.Cmd
	for i := 1; i <= 3; i++ {
		p := filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))
		c := exec.Command(os.Args[0], "run", "--conns", "30", "--duration", "2s", "--msg-rate", "5", "--shard", fmt.Sprintf("%d/3", i), "--start-at", at, "--out", p, "-q")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, paths = append(cmds, c), append(paths, p)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("a shard failed: %v", err)
		}
	}
	return paths
}

// edit writes a copy of the report at path with its top-level JSON changed by f.
func edit(t *testing.T, path, name string, f func(map[string]any)) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, _ = json.Marshal(m)
	out := filepath.Join(filepath.Dir(path), name)
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMergeShards: three real shard reports merge into one run whose counts
// and histograms are their sums, gated like a run; and every bad input
// (a shard missing, duplicated, from another run, truncated, of another
// schema, not a shard) exits 2 naming the file.
func TestMergeShards(t *testing.T) {
	paths := shardReports(t)
	dir := filepath.Dir(paths[0])
	out := filepath.Join(dir, "merged.json")
	code, _, stderr := runMain(append(append([]string{"merge"}, paths...), "--out", out)...)
	if code != ExitOK {
		t.Fatalf("merge exit %d: %s", code, stderr)
	}
	m := oneRun(t, out)
	var est, frames int64
	sum := hdr.New(1, 1, 1)
	for i, p := range paths {
		r := oneRun(t, p)
		if r.Shard == nil || r.Shard.Index != i+1 || r.Shard.Conns != 10 || r.Connections.Established != 10 {
			t.Fatalf("%s: shard %+v, established %d", p, r.Shard, r.Connections.Established)
		}
		est += r.Connections.Established
		frames += r.Frames.Received
		if i == 0 {
			sum = histogram(t, r, "ws_rtt")
		} else {
			sum.Merge(histogram(t, r, "ws_rtt"))
		}
	}
	if m.Connections.Established != est || m.Frames.Received != frames || !sameCounts(histogram(t, m, "ws_rtt"), sum) {
		t.Errorf("merged: %d established (shards %d), %d frames (shards %d), rtt samples %d (shards %d)",
			m.Connections.Established, est, m.Frames.Received, frames, histogram(t, m, "ws_rtt").TotalCount(), sum.TotalCount())
	}
	if m.Shards == nil || m.Shards.Count != 3 || len(m.Shards.Shards) != 3 || m.Shards.StartSkewMs < 0 || m.Shards.StartSkewMs > 2000 {
		t.Errorf("shards %+v", m.Shards)
	}
	// The gate works on the merged run.
	if code, _, stderr := runMain(append(append([]string{"merge"}, paths...), "--threshold", "ws_rtt.p50 < 1us")...); code != ExitGate {
		t.Errorf("a failing threshold on the merge: exit %d, want %d: %s", code, ExitGate, stderr)
	}

	truncated := filepath.Join(dir, "truncated.json")
	b, _ := os.ReadFile(paths[2])
	if err := os.WriteFile(truncated, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain.json")
	if code, _, stderr := runMain("run", "--conns", "5", "--duration", "1s", "--out", plain, "-q"); code != ExitOK {
		t.Fatalf("plain run: %s", stderr)
	}
	other := edit(t, paths[2], "other-config.json", func(m map[string]any) { m["config"].(map[string]any)["size"] = 128 })
	schema := edit(t, paths[2], "schema.json", func(m map[string]any) { m["schema"] = "wssbench/v2" })
	elsewhen := edit(t, paths[2], "elsewhen.json", func(m map[string]any) {
		for _, mk := range m["phase_marks"].([]any) {
			at, _ := time.Parse(time.RFC3339Nano, mk.(map[string]any)["at"].(string))
			mk.(map[string]any)["at"] = at.Add(-time.Hour).Format(time.RFC3339Nano)
		}
	})
	for _, tc := range []struct {
		name  string
		files []string
		want  []string
	}{
		{"missing", paths[:2], []string{"shard(s) 3 of 3 missing"}},
		{"duplicated", []string{paths[0], paths[0], paths[1], paths[2]}, []string{"both shard 1 of 3"}},
		{"another config", []string{paths[0], paths[1], other}, []string{"other-config.json ran another config", "size"}},
		{"another time", []string{paths[0], paths[1], elsewhen}, []string{"elsewhen.json", "did not overlap"}},
		{"truncated", []string{paths[0], paths[1], truncated}, []string{"truncated.json", "truncated JSON"}},
		{"another schema", []string{paths[0], paths[1], schema}, []string{"schema.json", "wssbench/v2"}},
		{"not a shard", []string{paths[0], paths[1], plain}, []string{"plain.json is not a shard report"}},
		{"no file", []string{paths[0], filepath.Join(dir, "nope.json")}, []string{"nope.json"}},
	} {
		code, _, stderr := runMain(append([]string{"merge"}, tc.files...)...)
		if code != ExitBadInput {
			t.Errorf("%s: exit %d, want %d: %s", tc.name, code, ExitBadInput, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: %q does not say %q", tc.name, stderr, w)
			}
		}
	}
}

// TestProcsTwoWithWorkloads splits runs with roles, rooms and stages over
// two driver processes: each takes its share of the roles and the stages,
// and the merge adds them back to the whole run's.
func TestProcsTwoWithWorkloads(t *testing.T) {
	t.Parallel()
	t.Run("chat", func(t *testing.T) {
		t.Parallel()
		rep := runReport(t, "--procs", "2", "--scenario", "chat-fanout", "--conns", "200", "--connect-rate", "0", "--duration", "1s", "--threshold", "reach > 50%")
		if p, s := num(t, rep, "roles", "publishers", "planned"), num(t, rep, "roles", "subscribers", "planned"); p != 2 || s != 198 {
			t.Fatalf("planned publishers %d subscribers %d, want 2 and 198", p, s)
		}
		if src := rep["reach_detail"].(map[string]any)["source"]; src != "target" || num(t, rep, "reach_detail", "received") != num(t, rep, "frames", "delivered") {
			t.Fatalf("reach %v, delivered %d", rep["reach_detail"], num(t, rep, "frames", "delivered"))
		}
	})
	t.Run("stages", func(t *testing.T) {
		t.Parallel()
		rep := runReport(t, "--procs", "2", "--stages", "up=1s:40,down=500ms:0")
		stages := rep["stages"].([]any)
		if len(stages) != 2 {
			t.Fatalf("%d stages", len(stages))
		}
		up := stages[0].(map[string]any)
		if up["conns"].(float64) != 40 || num(t, rep, "connections", "peak_concurrent") > 40 || num(t, rep, "connections", "established") != 40 {
			t.Fatalf("stage up %v; peak %d established %d", up, num(t, rep, "connections", "peak_concurrent"), num(t, rep, "connections", "established"))
		}
	})
}

// TestProcsMetricsCarryEveryProcess: a run split over two driver
// processes exports their latency histograms and counts added up: the
// endpoint's ws_rtt count and frames received equal the merged report's.
func TestProcsMetricsCarryEveryProcess(t *testing.T) {
	t.Parallel()
	addr := freeLoopback(t)
	out := filepath.Join(t.TempDir(), "r.json")
	body := scrapeLingering(t, addr, out, "run", "--procs", "2", "--conns", "40", "--connect-rate", "0", "--duration", "1s", "--msg-rate", "10",
		"-q", "--out", out, "--metrics-listen", addr, "--metrics-linger", "3s")
	rep := func() map[string]any {
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}()
	value := func(prefix string) int64 {
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, prefix) {
				f := strings.Fields(line)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				return int64(v)
			}
		}
		t.Fatalf("no %s in the metrics:\n%s", prefix, body)
		return 0
	}
	rtt, received := num(t, rep, "frames", "rtt", "count"), num(t, rep, "frames", "received")
	if got := value("wssbench_ws_rtt_seconds_count{"); got != rtt || rtt == 0 {
		t.Fatalf("the endpoint's ws_rtt count is %d, the report's %d", got, rtt)
	}
	if got := value(`wssbench_frames_total{cell="direct",direction="received"`); got != received {
		t.Fatalf("the endpoint's frames received %d, the report's %d", got, received)
	}
}

// scrapeLingering runs the command args (which write their report to out and
// keep --metrics-listen addr up with --metrics-linger), scrapes addr's
// /metrics once the report is written, and waits for the command's exit,
// which must be 0.
func scrapeLingering(t *testing.T, addr, out string, args ...string) string {
	t.Helper()
	done := make(chan int, 1)
	go func() {
		code, _, _ := runMain(args...)
		done <- code
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(out); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no report %s within 60 s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the report is written whole before the linger begins
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if code := <-done; code != ExitOK {
		t.Fatalf("%s: exit %d", args[0], code)
	}
	return string(body)
}

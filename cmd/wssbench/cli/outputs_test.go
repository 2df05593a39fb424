package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench/metrics"
)

// TestRunOutputs makes one small real run against the built-in target with
// every output, then checks each: the interval log against the JSON report,
// the HTML page in headless Chromium, the Markdown summary, and that
// `wssbench report` renders the same page again from the JSON alone.
func TestRunOutputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := func(name string) string { return filepath.Join(dir, name) }
	code, stdout, stderr := runMain("run", "--conns", "20", "--connect-rate", "20", "--duration", "2s", "--msg-rate", "10", "-q",
		"--out", f("r.json"), "--html", f("r.html"), "--markdown", f("r.md"), "--hlog", f("r.hlog"))
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rep struct {
		Phases map[string]struct{ Count int64 } `json:"phases"`
		Frames struct {
			RTT            struct{ Count int64 } `json:"rtt"`
			RTTUncorrected struct{ Count int64 } `json:"rtt_uncorrected"`
		} `json:"frames"`
		Timeline []struct {
			TS          float64 `json:"t_s"`
			Established int64   `json:"established"`
		} `json:"timeline"`
		Histograms map[string]string `json:"histograms"`
		Build      map[string]any    `json:"build"`
	}
	b, err := os.ReadFile(f("r.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	// 1 s intervals over a run of about 3 s (1 s ramp, 2 s steady, the close).
	if n := len(rep.Timeline); n < 3 || n > 6 || rep.Timeline[n-1].Established != 20 {
		t.Fatalf("timeline has %d points: %+v", n, rep.Timeline)
	}
	for _, k := range []string{"version", "commit", "go_version", "cpu_model", "cores", "os", "kernel"} {
		if _, ok := rep.Build[k]; !ok {
			t.Errorf("build lacks %s: %v", k, rep.Build)
		}
	}

	t.Run("hlog", func(t *testing.T) {
		fh, err := os.Open(f("r.hlog"))
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		counts, lines := map[string]int64{}, map[string]int{}
		lr := hdr.NewHistogramLogReader(fh)
		for {
			h, err := lr.NextIntervalHistogram()
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			if h == nil {
				break
			}
			counts[h.Tag()] += h.TotalCount()
			lines[h.Tag()]++
		}
		want := map[string]int64{"ws_rtt": rep.Frames.RTT.Count, "ws_rtt_uncorrected": rep.Frames.RTTUncorrected.Count}
		for name, p := range rep.Phases {
			want[name] = p.Count
		}
		if len(lines) != int(metrics.NumMetrics) {
			t.Errorf("tags %v, want the %d metric names", lines, metrics.NumMetrics)
		}
		if counts["delivery"] != 0 {
			t.Errorf("an echo run logged %d delivery samples", counts["delivery"])
		}
		for tag, n := range lines {
			if n != len(rep.Timeline) {
				t.Errorf("tag %s has %d intervals, the report's timeline %d", tag, n, len(rep.Timeline))
			}
		}
		for name, n := range want {
			if n == 0 || counts[name] != n {
				t.Errorf("%s: %d values in the log, %d in the report", name, counts[name], n)
			}
		}
		// The log's totals are the report's histograms.
		total, err := hdr.Decode([]byte(rep.Histograms["tls_handshake"]))
		if err != nil || total.TotalCount() != counts["tls_handshake"] {
			t.Errorf("histograms.tls_handshake: %v, err %v", total, err)
		}
	})

	t.Run("markdown", func(t *testing.T) {
		md, err := os.ReadFile(f("r.md"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"**Verdict: ok**", "| tls_handshake | 20 |", "| conns | 20 |", "| Go | go1."} {
			if !strings.Contains(string(md), want) {
				t.Errorf("markdown lacks %q:\n%s", want, md)
			}
		}
	})

	t.Run("report re-renders the same page", func(t *testing.T) {
		code, out, errOut := runMain("report", f("r.json"), "--html", f("again.html"), "--markdown", f("again.md"))
		if code != ExitOK || !strings.Contains(out, "verdict      ok") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		for _, pair := range [][2]string{{"r.html", "again.html"}, {"r.md", "again.md"}} {
			a, err1 := os.ReadFile(f(pair[0]))
			b, err2 := os.ReadFile(f(pair[1]))
			if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
				t.Errorf("%s from the JSON differs from %s written by run (%v, %v)", pair[1], pair[0], err1, err2)
			}
		}
	})

	t.Run("chromium", func(t *testing.T) {
		dom, console := renderInChromium(t, f("r.html"))
		if len(console) > 0 {
			t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
		}
		// Two percentile plots and five over time, each with its axis labels.
		if n := strings.Count(dom, "<svg"); n != 7 {
			t.Errorf("rendered DOM has %d svg elements, want 7", n)
		}
		for _, want := range []string{`id="verdict"`, "Verdict: ok", ">99%</text>", ">seconds from start</text>", ">tls_handshake</text>"} {
			if !strings.Contains(dom, want) {
				t.Errorf("rendered DOM lacks %q", want)
			}
		}
	})
}

// TestChromiumSeesConsoleErrors is the control for the check above: a page
// that logs an error must be caught.
func TestChromiumSeesConsoleErrors(t *testing.T) {
	t.Parallel()
	page := filepath.Join(t.TempDir(), "bad.html")
	if err := os.WriteFile(page, []byte(`<!DOCTYPE html><html><body><svg></svg><script>console.error("probe"); undefinedFn();</script></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, console := renderInChromium(t, page)
	joined := strings.Join(console, "\n")
	if !strings.Contains(joined, `"probe"`) || !strings.Contains(joined, "undefinedFn is not defined") {
		t.Fatalf("console errors not seen; got %q", joined)
	}
}

// consoleLine is how Chromium's --enable-logging=stderr prints a page's
// console message: [pid:tid:time:INFO:CONSOLE:line] "message", source: URL (line).
var consoleLine = regexp.MustCompile(`:CONSOLE[:(]`)

// renderInChromium loads path in headless Chromium and returns the DOM after
// load and the page's console messages. Without Chromium the test is skipped,
// unless WSSBENCH_REQUIRE_CHROMIUM=1 (CI), where it fails.
func renderInChromium(t *testing.T, path string) (dom string, console []string) {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return chromiumDOM(t, "file://"+abs)
}

// chromiumDOM loads url in headless Chromium (with extra flags, such as
// --virtual-time-budget) and returns the DOM it dumps and the page's console
// messages; skipped without Chromium as renderInChromium is.
func chromiumDOM(t *testing.T, url string, flags ...string) (dom string, console []string) {
	t.Helper()
	bin := chromiumBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}, flags...)
	cmd := exec.CommandContext(ctx, bin, append(args, "--dump-dom", url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if consoleLine.MatchString(line) {
			console = append(console, line)
		}
	}
	if !strings.Contains(stdout.String(), "</html>") {
		t.Fatalf("chromium printed no DOM; stderr:\n%s", stderr.String())
	}
	return stdout.String(), console
}

// chromiumBin finds Chromium, or skips the test (fails it where
// WSSBENCH_REQUIRE_CHROMIUM=1, as in CI).
func chromiumBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("WSSBENCH_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("chromium is not installed but WSSBENCH_REQUIRE_CHROMIUM=1: apt-get install -y chromium")
		}
		t.Skip("chromium not installed (apt-get install -y chromium): the HTML render check is skipped")
	}
	return bin
}

func TestReportBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notJSON := write("notjson.json", "connections: 5\n")
	v9 := write("v9.json", `{"schema": "wssbench/v9", "runs": []}`)
	good := write("good.json", `{"schema": "wssbench/v1", "label": "old report without histograms", "config": {}, "connections": {}, "phases": {}, "frames": {}, "cpu": {}, "verdict": {"ok": true}}`)
	unwritable := filepath.Join(write("afile", "x"), "sub", "r.html") // a folder under a file
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no file", []string{"report"}, "want one JSON report"},
		{"two files", []string{"report", good, good}, "want one JSON report"},
		{"missing file", []string{"report", filepath.Join(dir, "none.json")}, "no such file"},
		{"not JSON", []string{"report", notJSON}, "not a JSON object"},
		{"unknown schema", []string{"report", v9}, `is not "wssbench/v1"`},
		{"unwritable html", []string{"report", good, "--html", unwritable}, "--html"},
		{"unknown flag", []string{"report", good, "--htlm", "x"}, "unknown flag"},
		{"run unwritable markdown", []string{"run", "--markdown", unwritable}, "--markdown"},
		{"run unwritable hlog", []string{"run", "--hlog", unwritable}, "--hlog"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runMain(tc.args...)
			if code != ExitBadInput || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q should say %q", code, ExitBadInput, stderr, tc.want)
			}
		})
	}
	// An old report without histograms still renders, with notes in place of plots.
	out := filepath.Join(dir, "old.html")
	if code, _, stderr := runMain("report", good, "--html", out); code != ExitOK {
		t.Fatalf("old report: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "carries no histograms") {
		t.Fatal("old report's page does not say why it has no plots")
	}
	if code, out, _ := runMain("report", "--help"); code != ExitOK || !strings.Contains(out, "Examples:") || !strings.Contains(out, "--markdown") {
		t.Fatalf("report --help: exit %d\n%s", code, out)
	}
}

// checkSeriesOutputs checks what a comparison of topologies wrote to dir
// besides its JSON: one interval log per run, one HTML page that overlays
// the runs, one Markdown summary with the comparison table.
func checkSeriesOutputs(t *testing.T, dir string, topologies []string) {
	t.Helper()
	for _, topo := range topologies {
		b, err := os.ReadFile(filepath.Join(dir, "term-"+topo+"-1.hlog"))
		if err != nil || !strings.Contains(string(b), "Tag=tls_handshake,") {
			t.Errorf("interval log of %s: %v", topo, err)
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, "term.html"))
	if err != nil {
		t.Fatal(err)
	}
	// Six percentile plots and three over time, one curve per run.
	if n := strings.Count(string(page), "<svg"); n != 9 {
		t.Errorf("comparison page has %d plots, want 9", n)
	}
	for _, topo := range topologies {
		if !strings.Contains(string(page), ">"+topo+" #1</text>") {
			t.Errorf("comparison page has no curve for %s", topo)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "term.md"))
	if err != nil || !strings.Contains(string(md), "| figure | direct (n=1) |") {
		t.Errorf("comparison markdown: %v\n%s", err, md)
	}
}

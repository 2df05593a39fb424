package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wssbench/wssbench/bench/threshold"
	"github.com/wssbench/wssbench/reports"
)

// writeSearchReport writes a msg-rate search whose knee passes at 60 per
// connection with the given achieved frames/s and fails at 70 (ws_rtt p50
// over its bound), as wssbench search --out does.
func writeSearchReport(t *testing.T, dir, name string, achieved float64) string {
	t.Helper()
	doc, err := reports.ReadFile(writeReport(t, dir, name+"-run", 100, false))
	if err != nil {
		t.Fatal(err)
	}
	slo, err := threshold.ParseAll([]string{"ws_rtt.p50 < 1ms"})
	if err != nil {
		t.Fatal(err)
	}
	pass, fail := *doc.Runs[0], *doc.Runs[0]
	pass.Frames.PerSec, fail.Frames.PerSec = achieved, achieved
	fail.Frames.RTT.P50Us = 2000
	sr := &reports.SearchReport{Schema: reports.Schema, Search: reports.Search{Vary: reports.VaryMsgRate, Unit: "frames/s per connection",
		SLO: []string{"ws_rtt.p50 < 1ms"}, From: 10, To: 100, Precision: 0.1, Repeat: 1, Stop: reports.StopKnee,
		Probes: []reports.Probe{reports.NewProbe(60, 600, []*reports.Report{&pass}, slo), reports.NewProbe(70, 700, []*reports.Report{&fail}, slo)}}}
	sr.Search.SetAnswer()
	var buf bytes.Buffer
	if err := reports.WriteSearch("json", &buf, sr); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSearchReportsThroughTheCLI checks compare, report and merge on
// capacity search reports: a fall in capacity is exit 3, the same capacity
// exit 0, a search against a run exit 2; report renders a search; merge
// refuses one.
func TestSearchReportsThroughTheCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, same, fell := writeSearchReport(t, dir, "base", 4100), writeSearchReport(t, dir, "same", 4100), writeSearchReport(t, dir, "fell", 3600)
	run := writeReport(t, dir, "run", 100, false)
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"same capacity", []string{"compare", base, same}, ExitOK, []string{"capacity unchanged (4,100 frames/s)", "result: ok"}, nil},
		{"capacity fell", []string{"compare", base, fell}, ExitGate, []string{"capacity fell 12.2% (4,100 -> 3,600 frames/s)", "result: FAIL"}, []string{"regression: capacity fell"}},
		{"within a wide tolerance", []string{"compare", base, fell, "--tolerance", "20%"}, ExitOK, []string{"result: ok"}, nil},
		{"search against run", []string{"compare", base, run}, ExitBadInput, nil, []string{"is a capacity search (wssbench search) and", "a run report"}},
		{"report renders a search", []string{"report", base, "--markdown", filepath.Join(dir, "s.md"), "--html", filepath.Join(dir, "s.html")}, ExitOK,
			[]string{"answer: holds 4,100 frames/s"}, []string{"markdown written to", "html written to"}},
		{"report refuses junit of a search", []string{"report", base, "--junit", filepath.Join(dir, "s.xml")}, ExitBadInput, nil, []string{"--junit: a capacity search is written as text, json, html, markdown only"}},
		{"merge refuses a search", []string{"merge", base, same, "--out", filepath.Join(dir, "m.json")}, ExitBadInput, nil, []string{"is a capacity search (wssbench search), not a run report"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runMain(tc.args...)
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
		})
	}
}

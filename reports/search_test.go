package reports

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/threshold"
)

// testBuild is a fixed machine description, so golden files do not depend on the machine.
var testBuild = Build{Version: "test", Commit: "abc", GoVersion: "go1.26.8", CPUModel: "Test CPU", Cores: 2, OS: "linux", Arch: "amd64", Kernel: "6.1.0", OSRelease: "Debian GNU/Linux 12 (bookworm)"}

// probeRun is fixedResult's report with the given achieved frames/s and
// ws_rtt p99 (ms); p50 and p99.9 follow from p99, the TLS handshake is fixed.
func probeRun(framesPerSec, rttP99Ms float64, edit ...func(*Report)) *Report {
	r := one(Meta{Version: "test", Commit: "abc"}, fixedResult())
	r.Build = testBuild
	r.Frames.PerSec = framesPerSec
	r.Frames.RTT.P50Us, r.Frames.RTT.P99Us, r.Frames.RTT.P999Us = rttP99Ms*250, rttP99Ms*1000, rttP99Ms*1500
	r.Connections.ConnectPerSec = 10
	r.Phases.TLSHandshake.P50Us, r.Phases.TLSHandshake.P99Us, r.Phases.TLSHandshake.P999Us = 900, 2100, 2600
	for _, e := range edit {
		e(r)
	}
	return r
}

func slos(t *testing.T, exprs ...string) []threshold.Threshold {
	t.Helper()
	ts, err := threshold.ParseAll(exprs)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// failedConns makes a run whose connections failed: 5 of 10, errors by class.
func failedConns(r *Report) {
	r.Connections.Failed = 5
	r.Connections.Errors = map[string]int64{"dial_refused": 5}
	r.Verdict.Reasons = append(r.Verdict.Reasons, bench.Reason{Kind: bench.ReasonConnectionsFailed, Text: "5 of 10 connections failed"})
	r.Verdict.OK = false
}

func saturated(r *Report) {
	r.Verdict.Saturated = true
	r.Verdict.Reasons = append(r.Verdict.Reasons, bench.Reason{Kind: bench.ReasonSaturated, Text: "generator saturated"})
}

func TestNewProbeMedianRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		p99s     []float64
		pass     bool
		measured float64
	}{
		{"noisy but the median holds", []float64{4, 6, 4.5}, true, 4500},
		{"the median fails", []float64{6, 4, 7}, false, 6000},
		{"one run", []float64{4.9}, true, 4900},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var runs []*Report
			for i, p99 := range tc.p99s {
				runs = append(runs, probeRun(1000+float64(i)*10, p99))
			}
			p := NewProbe(100, 1000, runs, slos(t, "ws_rtt.p99 < 5ms"))
			s := p.SLO[0]
			if p.Pass != tc.pass || s.OK != tc.pass || s.Measured != tc.measured || s.Unit != "us" {
				t.Fatalf("probe pass %v, SLO %+v; want pass %v measured %v", p.Pass, s, tc.pass, tc.measured)
			}
			if n := len(tc.p99s); n > 1 {
				lo, hi := tc.p99s[0], tc.p99s[0]
				for _, v := range tc.p99s {
					lo, hi = min(lo, v), max(hi, v)
				}
				if s.Min != lo*1000 || s.Max != hi*1000 || p.RTT.P99Us.N != n || p.RTT.P99Us.Median != tc.measured {
					t.Errorf("spread %v..%v, rtt %+v", s.Min, s.Max, p.RTT.P99Us)
				}
			}
		})
	}
}

func TestNewProbeFigures(t *testing.T) {
	t.Parallel()
	runs := []*Report{probeRun(990, 4), probeRun(970, 4), probeRun(1000, 4, func(r *Report) { r.Connections.ConnectPerSec = 30 })}
	p := NewProbe(100, 1000, runs, nil)
	if p.FramesPerSec != (Stat{Median: 990, Min: 970, Max: 1000, N: 3}) {
		t.Errorf("frames/s %+v", p.FramesPerSec)
	}
	if p.HandshakesPerSec != (Stat{Median: 10, Min: 10, Max: 30, N: 3}) {
		t.Errorf("handshakes/s %+v", p.HandshakesPerSec)
	}
	if p.TLSHandshake.P99Us.Median != 2100 || p.RTT.P50Us.Median != 1000 || p.RTT.P999Us.Median != 6000 {
		t.Errorf("percentiles %+v %+v", p.TLSHandshake, p.RTT)
	}
	if !p.Pass || p.Saturated || len(p.Failed) != 0 || p.Errors != nil || p.Value != 100 || p.OfferedPerSec != 1000 || len(p.Runs) != 3 {
		t.Errorf("probe %+v", p)
	}
}

func TestNewProbeFailedRunAndSaturation(t *testing.T) {
	t.Parallel()
	t.Run("a failed run fails the probe", func(t *testing.T) {
		t.Parallel()
		runs := []*Report{probeRun(1000, 4), probeRun(1000, 4, failedConns), probeRun(1000, 4, failedConns)}
		p := NewProbe(100, 1000, runs, slos(t, "ws_rtt.p99 < 5ms"))
		if p.Pass || !p.SLO[0].OK {
			t.Fatalf("pass %v, SLO %+v", p.Pass, p.SLO[0])
		}
		if len(p.Failed) != 2 || p.Failed[0] != "run 2 of 3: 5 of 10 connections failed" {
			t.Errorf("failed %q", p.Failed)
		}
		if p.Errors["dial_refused"] != 10 {
			t.Errorf("errors %v, want dial_refused summed to 10", p.Errors)
		}
	})
	t.Run("a passing errors.rate SLO tolerates failed connections", func(t *testing.T) {
		t.Parallel()
		// 5 errors over 10 attempts and 1000 frames: 0.5%.
		runs := []*Report{probeRun(1000, 4, failedConns)}
		p := NewProbe(100, 1000, runs, slos(t, "ws_rtt.p99 < 5ms", "errors.rate < 1%"))
		if !p.Pass || len(p.Failed) != 0 {
			t.Fatalf("pass %v failed %q slo %+v", p.Pass, p.Failed, p.SLO)
		}
		p = NewProbe(100, 1000, runs, slos(t, "errors.rate < 0.1%"))
		if p.Pass || p.SLO[0].OK || len(p.Failed) != 1 {
			t.Fatalf("errors.rate over its bound: pass %v failed %q slo %+v", p.Pass, p.Failed, p.SLO)
		}
	})
	t.Run("saturation flags the probe", func(t *testing.T) {
		t.Parallel()
		p := NewProbe(100, 1000, []*Report{probeRun(1000, 4), probeRun(1000, 4, saturated)}, slos(t, "ws_rtt.p99 < 5ms"))
		if !p.Saturated || !p.Pass {
			t.Fatalf("saturated %v pass %v", p.Saturated, p.Pass)
		}
	})
	t.Run("a figure a run lacks fails its SLO with the note", func(t *testing.T) {
		t.Parallel()
		p := NewProbe(100, 1000, []*Report{probeRun(1000, 4)}, slos(t, "delivery.p99 < 5ms"))
		if p.Pass || p.SLO[0].OK || !strings.Contains(p.SLO[0].Note, "recorded no delivery samples") {
			t.Fatalf("pass %v slo %+v", p.Pass, p.SLO[0])
		}
	})
	t.Run("no run", func(t *testing.T) {
		t.Parallel()
		if p := NewProbe(100, 1000, nil, nil); p.Pass {
			t.Fatal("a probe without runs passed")
		}
	})
}

// testSLO are the SLOs of the fixture searches.
var testSLO = []string{"ws_rtt.p99 < 5ms", "errors.rate < 0.1%"}

// msgRateSearch is a search of msg-rate from 10 to 100 per connection (10
// connections): it doubles to 80, which fails, and bisects to the knee
// between 60 (pass) and 70 (fail, ws_rtt.p99 7.2 ms).
func msgRateSearch(t *testing.T) *SearchReport {
	t.Helper()
	ts := slos(t, testSLO...)
	type pr struct{ value, p99 float64 }
	var probes []Probe
	for _, x := range []pr{{10, 1}, {20, 1.2}, {40, 2}, {80, 12}, {60, 4.1}, {70, 7.2}} {
		probes = append(probes, NewProbe(x.value, x.value*10, []*Report{probeRun(x.value*10*0.99, x.p99)}, ts))
	}
	return searchOf(VaryMsgRate, "frames/s per connection", 10, 100, StopKnee, probes)
}

func searchOf(vary, unit string, from, to float64, stop string, probes []Probe) *SearchReport {
	sr := &SearchReport{Schema: Schema, Label: "capacity", Build: testBuild, StartedAt: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), DurationS: 63,
		Search: Search{Vary: vary, Unit: unit, SLO: testSLO, From: from, To: to, Precision: 0.05, Repeat: 1, Probes: probes, Stop: stop}}
	sr.Search.SetAnswer()
	return sr
}

func TestSearchKnee(t *testing.T) {
	t.Parallel()
	s := msgRateSearch(t).Search
	if s.Knee == nil || *s.Knee != (Knee{Pass: 60, Fail: 70, FramesPerSec: 594, HandshakesPerSec: 10}) {
		t.Fatalf("knee %+v", s.Knee)
	}
	if !s.Passed() {
		t.Error("a search with a knee did not pass")
	}
}

func TestSearchAnswers(t *testing.T) {
	t.Parallel()
	ts := slos(t, testSLO...)
	probe := func(v, p99 float64, edit ...func(*Report)) Probe {
		return NewProbe(v, v*10, []*Report{probeRun(v*10*0.99, p99, edit...)}, ts)
	}
	tests := []struct {
		name   string
		search func() *SearchReport
		want   []string
	}{
		{"knee", func() *SearchReport { return msgRateSearch(t) }, []string{
			"holds 594 frames/s (between 600/s offered, which passed, and 700/s, which failed: --msg-rate 60 and 70 per connection) with ws_rtt.p99 < 5ms and errors.rate < 0.1%; the first SLO to fail was ws_rtt.p99 (7.20ms at 700/s)",
		}},
		{"knee with errors", func() *SearchReport {
			return searchOf(VaryMsgRate, "frames/s per connection", 10, 100, StopKnee, []Probe{probe(10, 1), probe(20, 1, failedConns)})
		}, []string{"holds 99 frames/s", "the first SLO to fail was errors.rate (0.495% at 200/s); errors there: dial_refused ×5"}},
		{"knee on conns", func() *SearchReport {
			return searchOf(VaryConns, "connections", 1000, 10000, StopKnee, []Probe{NewProbe(4000, 0, []*Report{probeRun(4000, 3)}, ts), NewProbe(4400, 0, []*Report{probeRun(4400, 6)}, ts)})
		}, []string{"holds 4,000 connections (between 4,000, which passed, and 4,400 connections, which failed)", "(6.00ms at 4,400 connections)"}},
		{"knee on connect-rate", func() *SearchReport {
			return searchOf(VaryConnectRate, "connections/s", 100, 1000, StopKnee, []Probe{NewProbe(400, 400, []*Report{probeRun(0, 3, func(r *Report) { r.Connections.ConnectPerSec = 410 })}, ts),
				NewProbe(440, 440, []*Report{probeRun(0, 6)}, ts)})
		}, []string{"holds 410 handshakes/s (between --connect-rate 400/s, which passed, and 440/s, which failed)"}},
		{"holds to", func() *SearchReport {
			return searchOf(VaryMsgRate, "frames/s per connection", 10, 40, StopHoldsTo, []Probe{probe(10, 1), probe(20, 1), probe(40, 2)})
		}, []string{"holds at least 396 frames/s up to --to (400/s, the highest probe, passed) with ws_rtt.p99 < 5ms and errors.rate < 0.1%; raise --to"}},
		{"fails at from", func() *SearchReport {
			return searchOf(VaryMsgRate, "frames/s per connection", 10, 100, StopFailsAtFrom, []Probe{probe(10, 9)})
		}, []string{"fails already at --from (100/s) for ws_rtt.p99 < 5ms and errors.rate < 0.1%: the first SLO to fail was ws_rtt.p99 (9.00ms at 100/s); lower --from"}},
		{"generator", func() *SearchReport {
			return searchOf(VaryMsgRate, "frames/s per connection", 10, 100, StopGenerator, []Probe{probe(10, 1), probe(20, 1, saturated)})
		}, []string{"holds at least 198 frames/s (200/s passed) with ws_rtt.p99 < 5ms and errors.rate < 0.1%; the driver is the limit at 200/s (it saturated): the server's capacity is above what one driver process can offer; use --procs 2 or more machines (--shard)"}},
		{"generator over procs", func() *SearchReport {
			return searchOf(VaryMsgRate, "frames/s per connection", 10, 100, StopGenerator, []Probe{probe(10, 1, saturated, func(r *Report) { r.Procs = 4 })})
		}, []string{"the driver is the limit at 100/s (it saturated): the server's capacity is above what 4 driver processes can offer; use --procs 8"}},
		{"interrupted", func() *SearchReport {
			return searchOf(VaryMsgRate, "frames/s per connection", 10, 100, StopInterrupted, []Probe{probe(10, 1), probe(20, 1), probe(40, 8)})
		}, []string{"interrupted after 3 probes (partial): holds 198 frames/s so far (between 200/s offered, which passed, and 400/s, which failed"}},
		{"interrupted early", func() *SearchReport {
			return searchOf(VaryMsgRate, "frames/s per connection", 10, 100, StopInterrupted, []Probe{probe(10, 1)})
		}, []string{"interrupted after 1 probe (partial): holds at least 99 frames/s so far (100/s passed)"}},
		{"interrupted before any probe", func() *SearchReport {
			return searchOf(VaryMsgRate, "frames/s per connection", 10, 100, StopInterrupted, nil)
		}, []string{"interrupted after 0 probes (partial): no probe finished"}},
		{"error", func() *SearchReport {
			return searchOf(VaryMsgRate, "frames/s per connection", 10, 100, StopError, []Probe{probe(10, 7)})
		}, []string{"stopped on an error after 1 probe: no probe passed; 100/s failed: the first SLO to fail was ws_rtt.p99"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.search().Search.Answer
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("answer %q\nlacks %q", got, w)
				}
			}
		})
	}
}

func TestSearchGoldenTextAndMarkdown(t *testing.T) {
	sr := msgRateSearch(t)
	var buf bytes.Buffer
	if err := WriteSearch("text", &buf, sr); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "search.txt", buf.Bytes())
	buf.Reset()
	if err := WriteSearch("markdown", &buf, sr); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "search.md", buf.Bytes())
}

func TestSearchHTML(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteSearch("html", &buf, msgRateSearch(t)); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		`<div class="verdict ok" id="answer">`, "Holds 594 frames/s", `<table id="probes">`,
		"Offered against achieved load", "Frame round trip against load", "TLS handshake against load",
		"achieved = offered", "knee: 600 pass, 700 fail", "SLO ws_rtt.p99 &lt; 5ms",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, "<svg"); n != 3 {
		t.Errorf("%d plots, want 3", n)
	}
	// The knee is on all three plots (a label and a legend entry each), the
	// RTT SLO only on the RTT plot.
	if n := strings.Count(page, ">knee: 600 pass, 700 fail<"); n != 6 {
		t.Errorf("knee label %d times, want 6", n)
	}
	if n := strings.Count(page, ">SLO ws_rtt.p99 &lt; 5ms<"); n != 2 {
		t.Errorf("SLO label %d times, want 2", n)
	}
	if strings.Contains(page, "http://") && !strings.Contains(page, "http://www.w3.org/") {
		t.Error("the page fetches something")
	}
}

func TestSearchEncodersTable(t *testing.T) {
	t.Parallel()
	sr := msgRateSearch(t)
	for _, e := range Encoders {
		if e.WriteSearch == nil {
			if err := e.WriteSearchFile(t.TempDir()+"/x", sr); err == nil || !bench.IsInputError(err) {
				t.Errorf("%s: %v, want an input error", e.Name, err)
			}
			continue
		}
		var buf bytes.Buffer
		if err := e.WriteSearch(&buf, sr); err != nil || buf.Len() == 0 {
			t.Errorf("%s: %v, %d bytes", e.Name, err, buf.Len())
		}
	}
	if err := WriteSearch("junit", &bytes.Buffer{}, sr); err == nil {
		t.Error("junit of a search: no error")
	}
}

func TestSearchJSONRoundTrip(t *testing.T) {
	t.Parallel()
	sr := msgRateSearch(t)
	var buf bytes.Buffer
	if err := WriteSearchJSON(&buf, sr); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"schema": "wssbench/v1"`, `"search": {`, `"vary": "msg-rate"`, `"slo": [`, `"ws_rtt.p99 < 5ms"`, `"probes": [`,
		`"offered_per_s": 600`, `"frames_per_s": {`, `"knee": {`, `"stop": "knee"`, `"answer": "holds 594`, `"runs": [`} {
		if !strings.Contains(buf.String(), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
	doc, err := Decode(bytes.NewReader(buf.Bytes()), "search.json")
	if err != nil {
		t.Fatal(err)
	}
	if doc.Search == nil || doc.Runs != nil || doc.Whole != nil {
		t.Fatalf("decoded %+v", doc)
	}
	got := doc.Search.Search
	if len(got.Probes) != 6 || *got.Knee != *sr.Search.Knee || got.Answer != sr.Search.Answer || got.Probes[5].SLO[0].Measured != 7200 {
		t.Fatalf("decoded search %+v", got)
	}
	if r := got.Probes[0].Runs[0]; r.Frames.PerSec != 99 {
		t.Errorf("probe run %+v", r.Frames)
	} else if h, err := r.Histogram("ws_rtt"); err != nil || h.TotalCount() != 100 {
		t.Errorf("probe run histogram: %v, %v", h, err)
	}
	err = doc.RequireRuns("wssbench merge merges run reports")
	if err == nil || !bench.IsInputError(err) || !strings.Contains(err.Error(), "search.json is a capacity search") {
		t.Errorf("RequireRuns: %v", err)
	}
	// A run report still decodes as one, and passes RequireRuns.
	rd := docOf(t, "run.json", probeRun(1000, 4))
	if rd.Search != nil || len(rd.Runs) != 1 || rd.RequireRuns("x") != nil {
		t.Errorf("run report decoded as %+v", rd)
	}
}

func TestSearchDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, json, want string }{
		{"no probes key", `{"schema":"wssbench/v1","search":{"vary":"conns","slo":[],"stop":"knee"}}`, `search has no "probes" key`},
		{"broken probe run", `{"schema":"wssbench/v1","search":{"vary":"conns","slo":[],"stop":"knee","probes":[{"runs":[{"schema":"wssbench/v1"}]}]}}`, `probe 1 run 1 of 1 has no "config" key`},
		{"search is not an object", `{"schema":"wssbench/v1","search":[]}`, "search is not an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(strings.NewReader(tc.json), "x.json")
			if err == nil || !bench.IsInputError(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// searchDoc round-trips a search through JSON and Decode, as compare reads it.
func searchDoc(t *testing.T, name string, sr *SearchReport) *Document {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSearchJSON(&buf, sr); err != nil {
		t.Fatal(err)
	}
	d, err := Decode(&buf, name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// kneeSearch is a msg-rate search whose knee passes at 60 per connection
// with the given achieved frames/s over its runs, and fails at 70.
func kneeSearch(t *testing.T, achieved ...float64) *SearchReport {
	t.Helper()
	ts := slos(t, testSLO...)
	var pass, fail []*Report
	for _, a := range achieved {
		pass, fail = append(pass, probeRun(a, 4)), append(fail, probeRun(a, 8))
	}
	sr := searchOf(VaryMsgRate, "frames/s per connection", 10, 100, StopKnee, []Probe{NewProbe(60, 600, pass, ts), NewProbe(70, 700, fail, ts)})
	sr.Search.Repeat = len(achieved)
	return sr
}

func TestCompareSearches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		base, cand *SearchReport
		fail       bool
		verdict    string
		line       string
	}{
		{"same capacity", kneeSearch(t, 600), kneeSearch(t, 600), false, "ok", "capacity unchanged (600 frames/s)"},
		{"a fall beyond the tolerance", kneeSearch(t, 4100), kneeSearch(t, 3600), true, "REGRESSION: worse by more than 10%", "capacity fell 12.2% (4,100 -> 3,600 frames/s)"},
		{"a fall within the tolerance", kneeSearch(t, 4100), kneeSearch(t, 3900), false, "ok", "capacity fell 4.9%"},
		{"a rise", kneeSearch(t, 3600), kneeSearch(t, 4100), false, "better", "capacity rose 13.9% (3,600 -> 4,100 frames/s)"},
		{"a fall within the probes' spread", kneeSearch(t, 3700, 4100, 4300), kneeSearch(t, 3500, 3600, 3800), false, "ok, within the runs' spread", "capacity fell 12.2%"},
		{"a fall beyond the probes' spread", kneeSearch(t, 4000, 4100, 4200), kneeSearch(t, 3500, 3600, 3700), true, "REGRESSION: worse by more than 10%", "capacity fell 12.2%"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := Compare(searchDoc(t, "base.json", tc.base), searchDoc(t, "cand.json", tc.cand), CompareOptions{Tolerance: 0.1})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed() != tc.fail || res.Search.Capacity.Verdict != tc.verdict || !strings.HasPrefix(res.Search.Line, tc.line) {
				t.Fatalf("failed %v (%q), capacity %+v, line %q", res.Failed(), res.Failures, res.Search.Capacity, res.Search.Line)
			}
			var buf bytes.Buffer
			if err := WriteCompareText(&buf, res); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for _, want := range []string{"capacity search baseline base.json", "capacity (frames/s)", "knee (msg-rate, passing)", tc.line} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if tc.fail && !strings.Contains(out, "result: FAIL, capacity fell") {
				t.Errorf("output:\n%s", out)
			}
		})
	}
}

func TestCompareSearchesRefused(t *testing.T) {
	t.Parallel()
	conns := kneeSearch(t, 600)
	conns.Search.Vary = VaryConns
	otherSLO := kneeSearch(t, 600)
	otherSLO.Search.SLO = []string{"ws_rtt.p99 < 9ms"}
	failsAtFrom := searchOf(VaryMsgRate, "frames/s per connection", 10, 100, StopFailsAtFrom, []Probe{NewProbe(10, 100, []*Report{probeRun(99, 9)}, slos(t, testSLO...))})
	bigger := kneeSearch(t, 600)
	for _, p := range bigger.Search.Probes {
		p.Runs[0].Config.PayloadBytes = 4096
	}
	tests := []struct {
		name       string
		base, cand func() *Document
		opt        CompareOptions
		want       string
	}{
		{"axes differ", func() *Document { return searchDoc(t, "base.json", kneeSearch(t, 600)) }, func() *Document { return searchDoc(t, "cand.json", conns) },
			CompareOptions{Tolerance: 0.1}, "axis (baseline msg-rate, candidate conns)"},
		{"SLOs differ", func() *Document { return searchDoc(t, "base.json", kneeSearch(t, 600)) }, func() *Document { return searchDoc(t, "cand.json", otherSLO) },
			CompareOptions{Tolerance: 0.1}, "SLO (baseline errors.rate < 0.1%, ws_rtt.p99 < 5ms, candidate ws_rtt.p99 < 9ms)"},
		{"configs differ", func() *Document { return searchDoc(t, "base.json", kneeSearch(t, 600)) }, func() *Document { return searchDoc(t, "cand.json", bigger) },
			CompareOptions{Tolerance: 0.1}, "size (baseline 64, candidate 4096)"},
		{"no knee", func() *Document { return searchDoc(t, "base.json", failsAtFrom) }, func() *Document { return searchDoc(t, "cand.json", kneeSearch(t, 600)) },
			CompareOptions{Tolerance: 0.1}, "base.json found no capacity to compare (stop fails_at_from: fails already at --from"},
		{"a search against a run", func() *Document { return searchDoc(t, "base.json", kneeSearch(t, 600)) }, func() *Document { return docOf(t, "run.json", probeRun(600, 4)) },
			CompareOptions{Tolerance: 0.1}, "base.json is a capacity search (wssbench search) and run.json a run report"},
		{"a run against a search", func() *Document { return docOf(t, "run.json", probeRun(600, 4)) }, func() *Document { return searchDoc(t, "cand.json", kneeSearch(t, 600)) },
			CompareOptions{Tolerance: 0.1}, "run.json is a run report and cand.json a capacity search"},
		{"--metric", func() *Document { return searchDoc(t, "base.json", kneeSearch(t, 600)) }, func() *Document { return searchDoc(t, "cand.json", kneeSearch(t, 600)) },
			CompareOptions{Tolerance: 0.1, Metrics: []string{"ws_rtt.p99"}}, "leave out --metric"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compare(tc.base(), tc.cand(), tc.opt)
			if err == nil || !bench.IsInputError(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant %q", err, tc.want)
			}
		})
	}
	t.Run("--force compares different axes", func(t *testing.T) {
		t.Parallel()
		res, err := Compare(searchDoc(t, "base.json", kneeSearch(t, 600)), searchDoc(t, "cand.json", conns), CompareOptions{Tolerance: 0.1, Force: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.ConfigDiffs) != 1 || !strings.Contains(strings.Join(res.Notes, "\n"), "setup differs (--force): axis") {
			t.Errorf("diffs %q notes %q", res.ConfigDiffs, res.Notes)
		}
	})
}

func TestCompareSearchesSaturatedAndHoldsTo(t *testing.T) {
	t.Parallel()
	sat := kneeSearch(t, 600)
	sat.Search.Probes[0].Saturated = true
	res, err := Compare(searchDoc(t, "base.json", kneeSearch(t, 600)), searchDoc(t, "cand.json", sat), CompareOptions{Tolerance: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed() || res.SaturatedFailures != 1 {
		t.Errorf("saturated candidate: failures %q", res.Failures)
	}
	res, err = Compare(searchDoc(t, "base.json", kneeSearch(t, 600)), searchDoc(t, "cand.json", sat), CompareOptions{Tolerance: 0.1, AllowSaturated: true})
	if err != nil || res.Failed() || len(res.Warnings) != 1 {
		t.Errorf("--allow-saturated: %v, failures %q warnings %q", err, res.Failures, res.Warnings)
	}
	// A candidate that held up to a lower --to has not shown a fall.
	ts := slos(t, testSLO...)
	held := searchOf(VaryMsgRate, "frames/s per connection", 10, 30, StopHoldsTo, []Probe{NewProbe(30, 300, []*Report{probeRun(300, 4)}, ts)})
	res, err = Compare(searchDoc(t, "base.json", kneeSearch(t, 600)), searchDoc(t, "cand.json", held), CompareOptions{Tolerance: 0.1})
	if err != nil || res.Failed() || !strings.Contains(res.Search.Capacity.Verdict, "not proven") {
		t.Errorf("holds_to candidate: %v, failures %q, capacity %+v", err, res.Failures, res.Search.Capacity)
	}
}

// FuzzReadSearchJSON seeds the decoder with a whole search report, so the
// fuzzer mutates from a search's shape.
func FuzzReadSearchJSON(f *testing.F) {
	ts, err := threshold.ParseAll(testSLO)
	if err != nil {
		f.Fatal(err)
	}
	sr := searchOf(VaryMsgRate, "frames/s per connection", 10, 100, StopKnee, []Probe{NewProbe(10, 100, []*Report{probeRun(99, 1)}, ts), NewProbe(20, 200, []*Report{probeRun(198, 9)}, ts)})
	var buf bytes.Buffer
	if err := WriteSearchJSON(&buf, sr); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		doc, err := Decode(bytes.NewReader(in), "fuzz")
		if err != nil || doc.Search == nil {
			return
		}
		for _, e := range Encoders {
			if e.WriteSearch != nil {
				_ = e.WriteSearch(io.Discard, doc.Search)
			}
		}
		doc.Search.Search.SetAnswer()
		_, _ = Compare(doc, doc, CompareOptions{Tolerance: 0.1})
	})
}

package reports

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/wssbench/wssbench/bench"
)

// docOf round-trips reports through JSON and Decode, as compare reads them:
// one report is a one-run file, several a series.
func docOf(t *testing.T, name string, runs ...*Report) *Document {
	t.Helper()
	v := wrap(runs[0])
	if len(runs) > 1 {
		v = &Series{Schema: Schema, Runs: runs}
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, v); err != nil {
		t.Fatal(err)
	}
	d, err := Decode(&buf, name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// run is fixedResult's report with its ws_rtt p50 set (and min..max around it).
func run(rttP50 float64, edit ...func(*Report)) *Report {
	r := one(Meta{}, fixedResult())
	r.Frames.RTT.P50Us = rttP50
	for _, e := range edit {
		e(r)
	}
	return r
}

func rttOnly(tol float64) CompareOptions {
	return CompareOptions{Tolerance: tol, Metrics: []string{"ws_rtt.p50"}}
}

func TestCompareVerdicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		base, cand  []*Report
		opt         CompareOptions
		wantVerdict string
		wantFail    bool
	}{
		{"same", []*Report{run(100)}, []*Report{run(100)}, rttOnly(0.1), "ok", false},
		{"within tolerance", []*Report{run(100)}, []*Report{run(109)}, rttOnly(0.1), "ok", false},
		{"regression", []*Report{run(100)}, []*Report{run(5100)}, rttOnly(0.1), "REGRESSION: worse by more than 10%", true},
		{"better", []*Report{run(100)}, []*Report{run(50)}, rttOnly(0.1), "better", false},
		{"per-metric tolerance", []*Report{run(100)}, []*Report{run(150)},
			CompareOptions{Tolerance: 0.1, Metrics: []string{"ws_rtt.p50"}, PerMetric: map[string]float64{"ws_rtt.p50": 0.6}}, "ok", false},
		// Medians 200 and 260 (+30%), but the runs' ranges [100..300] and [250..270] overlap.
		{"within the runs' spread", []*Report{run(100), run(200), run(300)}, []*Report{run(250), run(260), run(270)}, rttOnly(0.1), "ok, within the runs' spread", false},
		{"beyond the runs' spread", []*Report{run(100), run(110), run(120)}, []*Report{run(250), run(260), run(270)}, rttOnly(0.1), "REGRESSION: worse by more than 10%", true},
		{"errors from zero", []*Report{run(100)}, []*Report{run(100, func(r *Report) { r.Connections.Errors = map[string]int64{"reset": 1} })},
			CompareOptions{Tolerance: 0.1, Metrics: []string{"errors.rate"}}, "REGRESSION: worse by more than 10%", true},
		{"higher is better", []*Report{run(100)}, []*Report{run(100, func(r *Report) { r.Connections.ConnectPerSec = 5 })},
			CompareOptions{Tolerance: 0.1, Metrics: []string{"connect_rate"}}, "REGRESSION: worse by more than 10%", true},
		{"not measured", []*Report{run(100)}, []*Report{run(100)}, CompareOptions{Tolerance: 0.1, Metrics: []string{"proxy_us_per_frame"}}, "not measured", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := Compare(docOf(t, "base.json", tc.base...), docOf(t, "cand.json", tc.cand...), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Deltas) != 1 || res.Deltas[0].Verdict != tc.wantVerdict || res.Failed() != tc.wantFail {
				t.Fatalf("deltas %+v failures %q; want %q, failed %v", res.Deltas, res.Failures, tc.wantVerdict, tc.wantFail)
			}
			var buf bytes.Buffer
			if err := WriteCompareText(&buf, res); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if !strings.Contains(out, tc.wantVerdict) || !strings.Contains(out, res.Deltas[0].Metric) {
				t.Fatalf("output lacks the verdict:\n%s", out)
			}
			if tc.wantFail && (!strings.Contains(out, "result: FAIL") || !strings.Contains(res.Failures[0], "regression: "+res.Deltas[0].Metric)) {
				t.Fatalf("a regression must be named:\n%s\n%q", out, res.Failures)
			}
		})
	}
}

func TestCompareRegressionFigures(t *testing.T) {
	t.Parallel()
	res, err := Compare(docOf(t, "b", run(100)), docOf(t, "c", run(5100)), rttOnly(0.1))
	if err != nil {
		t.Fatal(err)
	}
	d := res.Deltas[0]
	if math.Abs(d.Change-50) > 1e-9 || d.Base.Median != 100 || d.Cand.Median != 5100 {
		t.Fatalf("%+v", d)
	}
	if want := "regression: ws_rtt.p50 +5000.0% (100µs → 5.10ms), tolerance 10%"; res.Failures[0] != want {
		t.Fatalf("failure %q, want %q", res.Failures[0], want)
	}
}

func TestCompareRefusesDifferentSetups(t *testing.T) {
	t.Parallel()
	base := docOf(t, "base.json", run(100))
	cand := docOf(t, "cand.json", run(100, func(r *Report) { r.Config.MsgRate, r.Config.Conns = 20, 500 }))
	_, err := Compare(base, cand, rttOnly(0.1))
	if !bench.IsInputError(err) {
		t.Fatalf("err = %v, want an input error", err)
	}
	for _, w := range []string{"msg_rate (baseline 50, candidate 20)", "conns (baseline 10, candidate 500)", "--force"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	res, err := Compare(base, cand, CompareOptions{Tolerance: 0.1, Metrics: []string{"ws_rtt.p50"}, Force: true})
	if err != nil || len(res.Notes) == 0 || !strings.Contains(strings.Join(res.Notes, "|"), "config differs (--force): conns") {
		t.Fatalf("forced: %v, notes %q", err, res.Notes)
	}
	// A different topology set is a different setup too.
	topo := docOf(t, "t.json", run(100, func(r *Report) { r.Target.Topology, r.Cell = "builtin", "builtin" }))
	if _, err := Compare(base, topo, rttOnly(0.1)); err == nil || !strings.Contains(err.Error(), "topology") {
		t.Fatalf("topology: %v", err)
	}
}

func TestCompareIgnoresWhatMayDiffer(t *testing.T) {
	t.Parallel()
	remote := func(target, ca, label string) func(*Report) {
		return func(r *Report) {
			r.Config.Target, r.Config.CAFile, r.Config.Label, r.Label = target, ca, label, label
			r.Config.Thresholds = []string{"ws_rtt.p99 < " + label}
		}
	}
	base := docOf(t, "b", run(100, remote("wss://127.0.0.1:40001/", "/tmp/a/ca.pem", "base")))
	cand := docOf(t, "c", run(100, remote("wss://127.0.0.1:40002/", "/tmp/b/ca.pem", "cand")))
	if _, err := Compare(base, cand, rttOnly(0.1)); err != nil {
		t.Fatalf("port, ca, label and thresholds may differ: %v", err)
	}
	other := docOf(t, "o", run(100, remote("wss://10.0.0.1:40002/", "/tmp/b/ca.pem", "cand")))
	if _, err := Compare(base, other, rttOnly(0.1)); err == nil || !strings.Contains(err.Error(), "target") {
		t.Fatalf("another host is another setup: %v", err)
	}
}

func TestCompareFailsOnUncleanCandidate(t *testing.T) {
	t.Parallel()
	bad := run(100, func(r *Report) {
		r.Verdict = Verdict{Reasons: []bench.Reason{{Kind: bench.ReasonFramesLost, Text: "3 frames lost"}}}
	})
	res, err := Compare(docOf(t, "b", run(100)), docOf(t, "c", bad), rttOnly(0.1))
	if err != nil || !res.Failed() || !strings.Contains(res.Failures[0], "3 frames lost") {
		t.Fatalf("%v %q", err, res.Failures)
	}
	// An unclean baseline is a note, not a failure.
	res, err = Compare(docOf(t, "b", bad), docOf(t, "c", run(100)), rttOnly(0.1))
	if err != nil || res.Failed() || len(res.Notes) == 0 {
		t.Fatalf("%v failures %q notes %q", err, res.Failures, res.Notes)
	}
}

func TestParseToleranceAndMetricSpec(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"10%": 0.1, " 2.5% ": 0.025, "0": 0} {
		if got, err := ParseTolerance(in); err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("ParseTolerance(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"-5%", "ten", "", "NaN", "10", "0.1"} {
		if _, err := ParseTolerance(in); !bench.IsInputError(err) {
			t.Errorf("ParseTolerance(%q) accepted", in)
		}
	}
	if n, tol, err := ParseMetricSpec("ws_rtt.p99=25%"); err != nil || n != "ws_rtt.p99" || tol != 0.25 {
		t.Errorf("spec: %q %v %v", n, tol, err)
	}
	if _, _, err := ParseMetricSpec("ws_rtt.p99=25"); !bench.IsInputError(err) || !strings.Contains(err.Error(), "25%") {
		t.Errorf("bare per-metric tolerance: %v", err)
	}
	if _, _, err := ParseMetricSpec("ws_rt.p99"); err == nil || !strings.Contains(err.Error(), `did you mean "ws_rtt.p99"`) {
		t.Errorf("typo: %v", err)
	}
}

func TestDecodeRefusesForeignReports(t *testing.T) {
	t.Parallel()
	var good bytes.Buffer
	if err := WriteJSON(&good, wrap(run(100))); err != nil {
		t.Fatal(err)
	}
	full := good.String()
	noPhases := strings.Replace(full, `"phases"`, `"phasez"`, 1)
	tests := []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"truncated", full[:len(full)/2], "truncated"},
		{"not JSON", "hello", "not a JSON object"},
		{"a list", "[1,2]", "not a JSON object"},
		{"no schema", `{"label":"x"}`, `no "schema" key`},
		{"other schema", `{"schema":"k6/v2"}`, `schema "k6/v2" is not "wssbench/v1"`},
		{"missing key", noPhases, `no "phases" key`},
		{"empty series", `{"schema":"wssbench/v1","runs":[]}`, "runs is empty"},
		{"series of junk", `{"schema":"wssbench/v1","runs":[1]}`, "run 1 of 1 is not a JSON object"},
		{"wrong type", strings.Replace(full, `"attempted": 10`, `"attempted": "ten"`, 1), "cannot unmarshal"},
		{"data after", full + "{}", "data after the report"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(strings.NewReader(tc.in), "r.json")
			if !bench.IsInputError(err) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "r.json") {
				t.Fatalf("err = %v, want an input error naming r.json that says %q", err, tc.want)
			}
		})
	}
	d, err := Decode(strings.NewReader(full), "r.json")
	if err != nil || len(d.Runs) != 1 || d.Series || d.Runs[0].Frames.RTT.P50Us != 100 {
		t.Fatalf("good report: %v %+v", err, d)
	}
}

// FuzzDecode: any input decodes or fails with an input error, never panics;
// what decodes holds at least one run and can be compared with itself.
func FuzzDecode(f *testing.F) {
	one, _ := json.Marshal(run(100))
	series, _ := json.Marshal(&Series{Schema: Schema, Runs: []*Report{run(100), run(200)}})
	f.Add(string(one))
	f.Add(string(series))
	f.Add(string(one[:len(one)/3]))
	f.Add(`{"schema":"wssbench/v1","runs":[{"schema":"wssbench/v1"}]}`)
	f.Add(`{"schema":"wssbench/v1","config":{},"connections":{},"phases":{},"frames":{},"cpu":{},"verdict":{}}`)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Decode(strings.NewReader(s), "fuzz.json")
		if err != nil {
			if !bench.IsInputError(err) {
				t.Fatalf("error %v is not an input error", err)
			}
			return
		}
		if len(d.Runs) == 0 || len(d.Runs) != len(d.configs) {
			t.Fatalf("decoded %d runs, %d configs", len(d.Runs), len(d.configs))
		}
		res, err := Compare(d, d, CompareOptions{Tolerance: 0.1})
		if err != nil {
			t.Fatalf("a report differs from itself: %v", err)
		}
		for _, dl := range res.Deltas {
			if dl.Regression {
				t.Fatalf("a report regressed against itself: %+v", dl)
			}
		}
		var buf bytes.Buffer
		if err := WriteCompareText(&buf, res); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCompareWorkloadDefaults: with no --metric, delivery latency and reach
// are compared when both reports have them, and left out when not.
func TestCompareWorkloadDefaults(t *testing.T) {
	t.Parallel()
	base := one(Meta{}, workloadResult())
	cand := one(Meta{}, workloadResult())
	lower := 0.95
	cand.Reach = &lower
	res, err := Compare(docOf(t, "base", base), docOf(t, "cand", cand), CompareOptions{Tolerance: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Delta{}
	for _, d := range res.Deltas {
		got[d.Metric] = d
	}
	if d, ok := got["reach"]; !ok || !d.Regression {
		t.Errorf("reach 99.95%% → 95%% with 1%% tolerance: %+v (higher is better)", d)
	}
	if d, ok := got["delivery.p99"]; !ok || d.Verdict != "ok" {
		t.Errorf("delivery.p99: %+v", d)
	}
	plain, err := Compare(docOf(t, "base", run(100)), docOf(t, "cand", run(100)), CompareOptions{Tolerance: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range plain.Deltas {
		if d.Metric == "reach" || strings.HasPrefix(d.Metric, "delivery") {
			t.Errorf("an echo run's comparison lists %s", d.Metric)
		}
	}
}

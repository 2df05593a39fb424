package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/bench/threshold"
	"gonum.org/v1/plot/plotter"
)

// linear is a histogram of n values step, 2·step, ... n·step.
func linear(n int, step time.Duration) *hdr.Histogram {
	h := metrics.NewHistogram()
	for i := 1; i <= n; i++ {
		if err := h.RecordValue(int64(i) * int64(step)); err != nil {
			panic(err)
		}
	}
	return h
}

// workloadResult is fixedResult as a pub/sub run: 1 publisher and 9
// subscribers, stamped deliveries with the target's count, two stages
// (ramp, peak) and a storm at 2 s that recovered in 0.8 s.
func workloadResult() *bench.Result {
	res := withTimeline(fixedResult())
	res.Config.Label = "pubsub"
	res.Config.Latency = &bench.Latency{Mode: bench.LatencyStamp, Field: "ts"}
	res.Config.Roles = []bench.Role{{Name: "publishers", Count: 1, Send: `{"ts":{{now_ns}}}`}, {Name: "subscribers", Share: "rest"}}
	res.Config.Stages = []bench.Stage{{Name: "ramp", Duration: bench.Duration(time.Second), Conns: 10},
		{Name: "peak", Duration: bench.Duration(2 * time.Second), Conns: 10}}
	res.Config.Storm = &bench.Storm{At: bench.Duration(time.Second), Drop: "50%"}
	res.Histograms[metrics.Delivery] = linear(100, 100*time.Microsecond) // p50 5ms, p99 9.9ms
	res.Roles = []bench.RoleResult{
		{Name: "publishers", Connections: 1, Planned: 1, FramesSent: 5000, Errors: map[string]int64{}, ErrorSamples: map[string]string{},
			Latency: linear(100, 20*time.Microsecond), Delivery: metrics.NewHistogram()},
		{Name: "subscribers", Connections: 9, Planned: 9, FramesReceived: 44975,
			Errors: map[string]int64{"expect_timeout": 2}, ErrorSamples: map[string]string{"expect_timeout": `expected "joined", got {"x":1}`},
			Latency: metrics.NewHistogram(), Delivery: linear(100, 100*time.Microsecond)},
	}
	res.Reach = &bench.Reach{Received: 49975, Expected: 50000, Ratio: 0.9995, Source: "target"}
	for i, name := range []string{"ramp", "peak"} {
		s := bench.StageResult{Name: name, Index: i + 1, Start: time.Duration(i) * time.Second, End: time.Duration(2*i+1) * time.Second,
			Conns: 10, ConnectRate: 10, MsgRate: 50, OpenAtEnd: 10, Established: int64(10 * (1 - i)), FramesSent: 500, FramesReceived: int64(500 * (i + 1)), Errors: int64(i)}
		s.Histograms[metrics.TLSHandshake] = linear(10, time.Millisecond)
		s.Histograms[metrics.ConnectTotal] = linear(10, 2*time.Millisecond)
		s.Histograms[metrics.RTT] = linear(100, time.Duration(i+1)*10*time.Microsecond)
		s.Histograms[metrics.Delivery] = linear(50, time.Duration(i+1)*100*time.Microsecond)
		if name == "ramp" {
			s.Histograms[metrics.Delivery] = metrics.NewHistogram() // nothing delivered yet
		}
		res.Stages = append(res.Stages, s)
	}
	res.Storm = &bench.StormResult{At: 2 * time.Second, Dropped: 5, Reconnected: 5, Recovered: true, BackToFull: 800 * time.Millisecond,
		TLSHandshake: linear(5, 3*time.Millisecond), ConnectTotal: linear(5, 4*time.Millisecond)}
	return res
}

func TestGoldenWorkloadText(t *testing.T) {
	r := one(Meta{Version: "test", Commit: "abc"}, workloadResult())
	var buf bytes.Buffer
	if err := runText(&buf, r); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "workload.txt", buf.Bytes())
	for _, want := range []string{
		"reach        99.95% (received 49,975 of 50,000 owed, from the target's count)",
		"storm        at 2s: 5 dropped, 5 reconnected, 0 failed reconnects; back to full strength in 0.80s",
		"expect_timeout ×2: expected \"joined\", got {\"x\":1}",
		"delivery                  100    5.00ms",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestGoldenWorkloadMarkdown(t *testing.T) {
	r := one(Meta{Version: "test", Commit: "abc"}, workloadResult())
	r.Build = Build{Version: "test", Commit: "abc", GoVersion: "go1.26.8", CPUModel: "Test CPU", Cores: 2, OS: "linux", Arch: "amd64", Kernel: "6.1.0", OSRelease: "Debian GNU/Linux 12 (bookworm)"}
	var buf bytes.Buffer
	if err := runMarkdown(&buf, r); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "workload.md", buf.Bytes())
	for _, want := range []string{"| subscribers | 9/9 | 0 | 44,975 | 2 | - | 5.00ms / 9.90ms |", "| peak | 1–3s | 10 | 10 | 500.0 |",
		"| reach | 99.95% (received 49,975 of 50,000 owed, from the target's count) |", "| storm | at 2s: 5 dropped"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestWorkloadHTML(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := runHTML(&buf, one(Meta{}, workloadResult())); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	// fixedResult's seven plots and the delivery percentiles.
	if n := strings.Count(page, "<svg"); n != 8 {
		t.Errorf("%d SVG plots, want 8", n)
	}
	for _, want := range []string{`<table id="roles">`, `<td>subscribers</td><td class="n">9/9</td>`, "subscribers: expect_timeout ×2",
		`<table id="stages">`, "<td>peak</td>", "One-way delivery latency by percentile", "99.95% (received 49,975 of 50,000 owed",
		"back to full strength in 0.80s"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	checkSelfContained(t, page)
	// A plain run has neither section.
	buf.Reset()
	if err := runHTML(&buf, one(Meta{}, fixedResult())); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `id="roles"`) || strings.Contains(buf.String(), `id="stages"`) || strings.Contains(buf.String(), "delivery") {
		t.Error("a run without roles, stages or deliveries shows them")
	}
}

// TestTimelineMarks: the plots over time carry the stages as labelled bands
// and the storm as labelled lines; without them the plot is as before.
func TestTimelineMarks(t *testing.T) {
	t.Parallel()
	r := one(Meta{}, workloadResult())
	m := runMarks(r)
	if len(m.bands) != 2 || m.bands[1] != (timeBand{from: 1, to: 3, label: "peak"}) || len(m.lines) != 2 ||
		m.lines[0].at != 2 || m.lines[1].at != 2.8 || !m.lines[1].good {
		t.Fatalf("marks %+v", m)
	}
	curves := []series{{name: "open", xy: plotter.XYs{{X: 1, Y: 10}, {X: 2, Y: 5}, {X: 3, Y: 10}}}}
	with, err := timePlot("open", "connections", curves, smallPlot, m)
	if err != nil {
		t.Fatal(err)
	}
	without, err := timePlot("open", "connections", curves, smallPlot, timeMarks{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{">ramp<", ">peak<", ">storm: drop<", ">back to full<"} {
		if !strings.Contains(string(with), want) {
			t.Errorf("plot lacks the label %q", want)
		}
		if strings.Contains(string(without), want) {
			t.Errorf("unmarked plot has %q", want)
		}
	}
}

// TestWorkloadJSONRoundTrip: the roles, reach, stages and storm survive
// the JSON report and Report.Result exactly, histograms and all, so shard
// reports merge.
func TestWorkloadJSONRoundTrip(t *testing.T) {
	t.Parallel()
	res := workloadResult()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, single(Meta{}, res)); err != nil {
		t.Fatal(err)
	}
	js := buf.String()
	for _, key := range []string{`"roles": {`, `"publishers": {`, `"planned": 9`, `"frames": {`, `"error_samples": {`, `"latency": {`,
		`"reach": 0.9995`, `"reach_detail": {`, `"source": "target"`, `"stages": [`, `"start_s": 1`, `"open_at_end": 10`,
		`"ws_rtt": {`, `"storm": {`, `"back_to_full_s": 0.8`, `"target_restarted": false`, `"delivery": "HISTF`} {
		if !strings.Contains(js, key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
	doc, err := Decode(&buf, "test")
	if err != nil {
		t.Fatal(err)
	}
	rep := doc.Runs[0]
	if rep.Frames.Delivery == nil || rep.Frames.Delivery.P99Us < 9800 || rep.Frames.Delivery.P99Us > 10000 {
		t.Fatalf("frames.delivery %+v", rep.Frames.Delivery)
	}
	back, err := rep.Result()
	if err != nil {
		t.Fatal(err)
	}
	same := func(what string, got, want *hdr.Histogram) {
		t.Helper()
		if want == nil || want.TotalCount() == 0 {
			if got != nil && got.TotalCount() != 0 {
				t.Errorf("%s: %d samples, want none", what, got.TotalCount())
			}
			return
		}
		if got == nil || !got.Equals(want) {
			t.Errorf("%s differs after the round trip", what)
		}
	}
	if len(back.Roles) != 2 || back.Roles[0].Name != "publishers" || back.Roles[1].FramesReceived != 44975 ||
		back.Roles[1].Errors["expect_timeout"] != 2 || back.Roles[1].ErrorSamples["expect_timeout"] == "" || back.Roles[1].Planned != 9 {
		t.Fatalf("roles %+v", back.Roles)
	}
	for i, ro := range res.Roles {
		same(ro.Name+" latency", back.Roles[i].Latency, ro.Latency)
		same(ro.Name+" delivery", back.Roles[i].Delivery, ro.Delivery)
		if back.Roles[i].Latency == nil || back.Roles[i].Delivery == nil {
			t.Errorf("%s: a nil histogram", ro.Name)
		}
	}
	if *back.Reach != *res.Reach {
		t.Errorf("reach %+v, want %+v", back.Reach, res.Reach)
	}
	if len(back.Stages) != 2 {
		t.Fatalf("stages %+v", back.Stages)
	}
	for i, s := range res.Stages {
		b := back.Stages[i]
		if b.Name != s.Name || b.Index != s.Index || b.Start != s.Start || b.End != s.End || b.Conns != s.Conns || b.MsgRate != s.MsgRate ||
			b.OpenAtEnd != s.OpenAtEnd || b.Established != s.Established || b.FramesReceived != s.FramesReceived || b.Errors != s.Errors {
			t.Errorf("stage %d: %+v, want %+v", i+1, b, s)
		}
		for m := range metrics.NumMetrics {
			same(s.Name+" "+m.Name(), b.Histograms[m], s.Histograms[m])
		}
	}
	st, want := back.Storm, res.Storm
	if st.At != want.At || st.Dropped != want.Dropped || st.Reconnected != want.Reconnected || st.BackToFull != want.BackToFull || !st.Recovered {
		t.Errorf("storm %+v, want %+v", st, want)
	}
	same("storm tls_handshake", st.TLSHandshake, want.TLSHandshake)
	same("storm connect_total", st.ConnectTotal, want.ConnectTotal)
	same("run delivery", back.Histograms[metrics.Delivery], res.Histograms[metrics.Delivery])
	// A plain run writes none of these keys.
	buf.Reset()
	if err := WriteJSON(&buf, single(Meta{}, fixedResult())); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"roles"`, `"reach"`, `"reach_detail"`, `"stages"`, `"storm"`, `"delivery": {`} {
		if strings.Contains(buf.String(), key) {
			t.Errorf("a plain run's JSON has %s", key)
		}
	}
}

func TestDecodeRefusesBadWorkloadHistogram(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ key, want string }{
		{`"roles": {"a": {"histograms": {"latency": "HISTFAAAnope"}}}`, "roles.a.histograms.latency"},
		{`"stages": [{"name": "a", "histograms": {"ws_rtt": "HISTFAAAnope"}}]`, "stages[0].histograms.ws_rtt"},
		{`"stages": [{"name": "a", "histograms": {"bananas": "HISTFAAAnope"}}]`, `unknown metric "bananas"`},
		{`"storm": {"histograms": {"tls_handshake": "nope"}}`, "storm.histograms.tls_handshake"},
	} {
		_, err := Decode(strings.NewReader(`{"schema": "wssbench/v1", `+minimalKeys+`, `+tc.key+`}`), "test")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", tc.key, err, tc.want)
		}
	}
}

// TestWorkloadThresholds: thresholds narrowed to a stage or a role read
// that stage's or role's figures; one on a measure the run lacks fails,
// saying why; a passing threshold on one role tolerates nothing of the run.
func TestWorkloadThresholds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		res  func() *bench.Result
		expr string
		ok   bool
		has  string // in the result's String()
	}{
		{"stage rtt", workloadResult, "ws_rtt.p99[stage=peak] < 2ms", true, "measured 1.98ms"},
		{"stage rtt fails", workloadResult, "ws_rtt.p99[stage=peak] < 1ms", false, "measured 1.98ms"},
		{"stage from the full histogram", workloadResult, "tls_handshake.p50[stage=ramp] <= 5.1ms", true, "measured 5.00ms"},
		{"stage count", workloadResult, "frames.received[stage=peak] >= 1000", true, "measured 1000"},
		{"stage rate", workloadResult, "frames.rate[stage=peak] >= 500", true, "measured 500.0/s"},
		{"stage errors", workloadResult, "errors.count[stage=ramp] == 0", true, "measured 0"},
		{"stage recorded nothing", workloadResult, "delivery.p99[stage=ramp] < 10ms", false, "stage ramp recorded no delivery samples"},
		{"stage did not run", workloadResult, "ws_rtt.p99[stage=drain] < 10ms", false, "stage drain did not run: the report has stages ramp, peak"},
		{"role delivery", workloadResult, "delivery.p99[role=subscribers] < 10ms", true, "measured 9.90ms"},
		{"role latency", workloadResult, "ws_rtt.p99[role=publishers] < 10ms", true, "measured 1.98ms"},
		{"role count", workloadResult, "frames.received[role=subscribers] > 1000", true, "measured 44975"},
		{"role errors", workloadResult, "errors.count[role=subscribers] <= 2", true, "measured 2"},
		{"role without deliveries", workloadResult, "delivery.p99[role=publishers] < 10ms", false, "role publishers recorded no delivery samples"},
		{"no such role in the report", fixedResult, "frames.sent[role=publishers] > 0", false, "the report has no roles"},
		{"reach", workloadResult, "reach > 99.9%", true, "measured 99.95%"},
		{"reach too low", workloadResult, "reach > 99.99%", false, "measured 99.95%"},
		{"reach unknown", fixedResult, "reach > 99%", false, "no reach figure"},
		{"delivery", workloadResult, "delivery.p99 < 10ms", true, "measured 9.90ms"},
		{"delivery without stamps", fixedResult, "delivery.p99 < 10ms", false, "recorded no delivery samples (delivery latency is taken from stamped frames"},
		{"back to full", workloadResult, "storm.back_to_full < 1s", true, "measured 800.00ms"},
		{"storm handshakes", workloadResult, "storm.tls_handshake.p99 < 20ms", true, "measured 15.01ms"},
		{"storm count", workloadResult, "storm.reconnected >= 5", true, "measured 5"},
		{"no storm", fixedResult, "storm.tls_handshake.p99 < 20ms", false, "the run had no reconnect storm"},
		{"no storm back to full", fixedResult, "storm.back_to_full < 1s", false, "the run had no reconnect storm"},
		{"never recovered", func() *bench.Result { r := workloadResult(); r.Storm.Recovered = false; return r },
			"storm.back_to_full < 1s", false, "never got back to full strength"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := tc.res()
			res.Config.Thresholds = []string{tc.expr}
			r := one(Meta{}, res)
			got := r.Thresholds[0]
			if got.OK != tc.ok || !strings.Contains(got.String(), tc.has) {
				t.Fatalf("%s: ok %v, %q; want ok %v, saying %q", tc.expr, got.OK, got.String(), tc.ok, tc.has)
			}
		})
	}
	// A passing threshold on one role's errors does not tolerate the run's.
	res := workloadResult()
	res.Stats.Errors = map[string]int64{"expect_timeout": 2}
	res.Config.Thresholds = []string{"errors.count[role=subscribers] <= 2"}
	r := one(Meta{}, res)
	if r.Verdict.OK || r.Thresholds[0].Selector != "role=subscribers" {
		t.Fatalf("verdict %+v, thresholds %+v", r.Verdict, r.Thresholds)
	}
	res.Config.Thresholds = []string{"errors.count <= 2"}
	if r := one(Meta{}, res); !r.Verdict.OK {
		t.Fatalf("the run's own errors threshold should tolerate them: %+v", r.Verdict)
	}
}

// TestEverySelectableNameHasAValue keeps the catalogue's selectors and the
// report's lookups in step.
func TestEverySelectableNameHasAValue(t *testing.T) {
	t.Parallel()
	r := one(Meta{}, workloadResult())
	for _, n := range threshold.Names() {
		in, _ := threshold.Lookup(n)
		for key, on := range map[string]bool{threshold.SelectStage: in.ByStage, threshold.SelectRole: in.ByRole} {
			if !on {
				continue
			}
			name := map[string]string{threshold.SelectStage: "peak", threshold.SelectRole: "subscribers"}[key]
			if _, _, ok := measure(r, n, threshold.Selector{Key: key, Value: name}); !ok {
				t.Errorf("%s[%s=%s] has no value", n, key, name)
			}
		}
	}
}

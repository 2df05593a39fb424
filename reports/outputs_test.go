package reports

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/metrics"
)

// withTimeline adds a 4-point timeline to the fixed result: a ramp in the
// first second, then the steady phase, one error at 3 s.
func withTimeline(res *bench.Result) *bench.Result {
	ms := time.Millisecond
	res.Timeline = []bench.TimelinePoint{
		{At: time.Second, Established: 10, Open: 10, TLSHandshakeP50: 2 * ms, TLSHandshakeP99: 5 * ms, ConnectTotalP50: 3 * ms, ConnectTotalP99: 7 * ms},
		{At: 2 * time.Second, Established: 10, Open: 10, FramesPerSec: 500, RTTP50: ms / 2, RTTP99: 2 * ms},
		{At: 3 * time.Second, Established: 10, Open: 10, FramesPerSec: 500, Errors: 1, RTTP50: ms / 2, RTTP99: 3 * ms},
		{At: 3500 * ms, Established: 10, Open: 0},
	}
	return res
}

func TestJSONRoundTripKeepsHistogramsAndTimeline(t *testing.T) {
	t.Parallel()
	res := withTimeline(fixedResult())
	var buf bytes.Buffer
	if err := WriteJSON(&buf, single(Meta{Version: "v1.2.3", Commit: "abc"}, res)); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"histograms"`, `"ws_rtt": "HISTF`, `"timeline"`, `"t_s": 1`, `"tls_handshake_p99_us": 5000`, `"kernel"`, `"os"`} {
		if !strings.Contains(buf.String(), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
	doc, err := Decode(&buf, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Runs) != 1 || doc.Series {
		t.Fatalf("one-run report read as %+v", doc)
	}
	for m := range metrics.NumMetrics {
		h, err := doc.Runs[0].Histogram(m.Name())
		if err != nil || h == nil {
			t.Fatalf("%s: %v, %v", m.Name(), h, err)
		}
		want := res.Histograms[m]
		if h.TotalCount() != want.TotalCount() || h.ValueAtQuantile(99) != want.ValueAtQuantile(99) || h.Max() != want.Max() {
			t.Errorf("%s: decoded count %d p99 %d max %d, want %d %d %d", m.Name(), h.TotalCount(), h.ValueAtQuantile(99), h.Max(),
				want.TotalCount(), want.ValueAtQuantile(99), want.Max())
		}
	}
	tl := doc.Runs[0].Timeline
	if len(tl) != 4 || tl[2].Errors != 1 || tl[2].FramesPerS != 500 || tl[2].RTTP99Us != 3000 || tl[3].TS != 3.5 {
		t.Errorf("timeline = %+v", tl)
	}
	if doc.Runs[0].Build.Version != "v1.2.3" || doc.Runs[0].Build.GoVersion == "" || doc.Runs[0].Build.Cores == 0 {
		t.Errorf("build = %+v", doc.Runs[0].Build)
	}
}

func TestReadJSONSeries(t *testing.T) {
	t.Parallel()
	a, b := withTimeline(fixedResult()), withTimeline(fixedResult())
	a.Topology, b.Topology = "direct", "builtin"
	var buf bytes.Buffer
	if err := WriteJSON(&buf, seriesOf(Meta{}, a, b)); err != nil {
		t.Fatal(err)
	}
	doc, err := Decode(&buf, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !doc.Series || len(doc.Whole.Runs) != 2 || doc.Whole.Comparison.Baseline != "direct" {
		t.Fatalf("series read as %+v", doc)
	}
	if h, err := doc.Whole.Runs[1].Histogram("tls_handshake"); err != nil || h.TotalCount() != 100 {
		t.Fatalf("second run's tls_handshake: %v %v", h, err)
	}
}

// minimalKeys are the keys every run report must have, empty.
const minimalKeys = `"config": {}, "connections": {}, "phases": {}, "frames": {}, "cpu": {}, "verdict": {"ok": true}`

func TestReadJSONRefusesBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"not JSON", "hello", "not a JSON object"},
		{"no schema", `{"label": "x"}`, `no "schema"`},
		{"unknown schema", `{"schema": "wssbench/v9"}`, `is not "wssbench/v1"`},
		{"wrong type", `{"schema": "wssbench/v1", ` + minimalKeys + `, "duration_s": "long"}`, "duration_s"},
		{"bad histogram", `{"schema": "wssbench/v1", ` + minimalKeys + `, "histograms": {"ws_rtt": "HISTFAAAnope"}}`, "ws_rtt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(strings.NewReader(tc.in), "test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// externalRef finds anything a browser would fetch: the only URLs allowed
// are the SVG namespaces.
var externalRef = regexp.MustCompile(`(?i)<script|<link|<img|<iframe|@import|url\(|(src|href)=|https?://`)

func checkSelfContained(t *testing.T, page string) {
	t.Helper()
	page = strings.NewReplacer(`xmlns="http://www.w3.org/2000/svg"`, "", `xmlns:xlink="http://www.w3.org/1999/xlink"`, "").Replace(page)
	if m := externalRef.FindString(page); m != "" {
		t.Errorf("page is not self-contained: it has %q", m)
	}
}

func TestRunHTML(t *testing.T) {
	t.Parallel()
	res := withTimeline(fixedResult())
	res.Health.Saturated, res.Health.Reasons = true, []bench.Reason{{Kind: bench.ReasonSaturated, Text: "generator saturated: the driver used more than 90% of a core (1.90 cores of 2, 95% of each on average)"}}
	var buf bytes.Buffer
	if err := runHTML(&buf, one(Meta{Version: "v9", Commit: "c0ffee"}, res)); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	// Two percentile plots and five over time.
	if n := strings.Count(page, "<svg"); n != 7 {
		t.Errorf("%d SVG plots, want 7", n)
	}
	for _, want := range []string{"generator saturated: the driver used more than 90% of a core", "Verdict: ok", "tls_handshake p99",
		">99%<", "Connections over time", "Errors per interval", "v9 (c0ffee)", "kernel", "connect_rate", "<td class=\"n\">100</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<?xml") || strings.Contains(page, "Liberation Serif") {
		t.Error("SVG kept its XML prolog or a serif font")
	}
	checkSelfContained(t, page)
}

func TestWriteHTMLWithoutHistograms(t *testing.T) {
	t.Parallel()
	r := one(Meta{}, fixedResult())
	r.Histograms, r.Timeline = nil, nil
	var buf bytes.Buffer
	if err := runHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "<svg"); n != 0 || !strings.Contains(buf.String(), "carries no histograms") {
		t.Fatalf("an old report should render notes instead of plots (%d plots)", n)
	}
}

func TestWriteSeriesHTMLAndMarkdown(t *testing.T) {
	t.Parallel()
	var results []*bench.Result
	for _, topo := range []string{"direct", "builtin", "direct", "builtin"} {
		res := withTimeline(fixedResult())
		res.Topology = topo
		results = append(results, res)
	}
	results[3].Stats.FramesLost = 2
	sr := seriesOf(Meta{}, results...)
	var buf bytes.Buffer
	if err := seriesHTML(&buf, sr); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if n := strings.Count(page, "<svg"); n != 9 {
		t.Errorf("%d SVG plots, want 9 (six percentile, three over time)", n)
	}
	for _, want := range []string{"direct (n=2)", "builtin (n=2)", "builtin #2", "2 frames lost", "Verdict: NOT OK", "tls_handshake_p50_us", "(1.00x)"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	checkSelfContained(t, page)
	buf.Reset()
	if err := seriesMarkdown(&buf, sr); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{"| figure | direct (n=2) | builtin (n=2) |", "|---|--:|--:|", "- builtin #2: NOT OK: 2 frames lost", "<details><summary>Build and machine</summary>"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestGoldenMarkdown(t *testing.T) {
	r := one(Meta{Version: "test", Commit: "abc"}, withTimeline(fixedResult()))
	// The machine's description differs from one machine to the next.
	r.Build = Build{Version: "test", Commit: "abc", GoVersion: "go1.26.8", CPUModel: "Test CPU", Cores: 2, OS: "linux", Arch: "amd64", Kernel: "6.1.0", OSRelease: "Debian GNU/Linux 12 (bookworm)"}
	r.Verdict.Reasons = append(r.Verdict.Reasons, bench.Reason{Kind: bench.ReasonOther, Text: "a reason with | a pipe"})
	var buf bytes.Buffer
	if err := runMarkdown(&buf, r); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "steady.md", buf.Bytes())
}

func TestPercentileTicks(t *testing.T) {
	t.Parallel()
	var labels []string
	for _, tk := range percentileTicks(1e4) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got := strings.Join(labels, " "); got != "0% 90% 99% 99.9% 99.99%" {
		t.Fatalf("labels %q", got)
	}
	labels = labels[:0]
	for _, tk := range percentileTicks(100) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got := strings.Join(labels, " "); got != "0% 50% 90% 99%" {
		t.Fatalf("labels on a short axis %q", got)
	}
	if x := percentileX(99); x < 99.99 || x > 100.01 {
		t.Fatalf("percentileX(99) = %v, want 100", x)
	}
}

// TestHlogReadsBack writes three collected intervals of a run's report as
// an interval log and reads them back with hdrhistogram-go's log reader.
func TestHlogReadsBack(t *testing.T) {
	t.Parallel()
	rec := metrics.NewRecorder(2)
	r := one(Meta{}, fixedResult())
	r.Intervals = nil
	for i := range 3 {
		for j := 0; j <= i; j++ {
			rec.Record(j, metrics.TLSHandshake, time.Duration(i+1)*time.Millisecond)
		}
		rec.Record(0, metrics.RTT, 300*time.Microsecond)
		iv := rec.Collect()
		ri := Interval{StartMs: iv.Start.UnixMilli(), EndMs: iv.End.UnixMilli(), Histograms: map[string]string{}}
		for m, h := range iv.H {
			if h.TotalCount() == 0 {
				continue
			}
			b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
			if err != nil {
				t.Fatal(err)
			}
			ri.Histograms[metrics.Metric(m).Name()] = string(b)
		}
		r.Intervals = append(r.Intervals, ri)
	}
	var buf bytes.Buffer
	if err := writeHlog(&buf, wrap(r)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "#[BaseTime: ") || !strings.Contains(buf.String(), "Tag=ws_upgrade,") {
		t.Fatalf("log lacks its header or a tag:\n%s", buf.String())
	}
	counts, lines := readHlog(t, &buf)
	if lines != 3*int(metrics.NumMetrics) {
		t.Fatalf("%d interval lines, want %d", lines, 3*metrics.NumMetrics)
	}
	if counts["tls_handshake"] != 6 || counts["ws_rtt"] != 3 || counts["send_lag"] != 0 {
		t.Fatalf("counts by tag %v", counts)
	}
}

// readHlog reads an interval log and returns the total count by tag and the number of interval lines.
func readHlog(t *testing.T, r io.Reader) (map[string]int64, int) {
	t.Helper()
	lr := hdr.NewHistogramLogReader(r)
	counts := map[string]int64{}
	n := 0
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if h == nil {
			return counts, n
		}
		counts[h.Tag()] += h.TotalCount()
		n++
	}
}

// FuzzReadJSON feeds the report decoder, and every encoder after it, with
// arbitrary input: nothing may panic.
func FuzzReadJSON(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, single(Meta{}, withTimeline(fixedResult()))); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"schema": "wssbench/v1", "runs": [null]}`))
	f.Add([]byte(`{"schema": "wssbench/v1", "search": {"vary": "msg-rate", "slo": ["ws_rtt.p99 < 5ms"], "stop": "knee", "knee": {"pass": 5, "fail": 6},
		"probes": [{"value": 5, "pass": true, "frames_per_s": {"median": 1, "n": 1}, "rtt": {"p99_us": {"median": 4000, "n": 1}}, "runs": []}]}}`))
	f.Add([]byte(`{"schema": "wssbench/v1", "runs": [{"schema": "wssbench/v1", "timeline": [{"t_s": 1}]}]}`))
	f.Add([]byte(`{"schema": "wssbench/v1", "timeline": [{"t_s": -1, "frames_per_s": 1e300}], "histograms": {"ws_rtt": ""}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		doc, err := Decode(bytes.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		if doc.Search != nil {
			for _, e := range Encoders {
				if e.WriteSearch != nil {
					_ = e.WriteSearch(io.Discard, doc.Search)
				}
			}
			_, _ = Compare(doc, doc, CompareOptions{Tolerance: 0.1})
			return
		}
		if doc.Series {
			_ = seriesText(io.Discard, doc.Whole)
			_ = seriesMarkdown(io.Discard, doc.Whole)
			_ = seriesHTML(io.Discard, doc.Whole)
			return
		}
		_ = runText(io.Discard, doc.Runs[0])
		_ = runMarkdown(io.Discard, doc.Runs[0])
		_ = runHTML(io.Discard, doc.Runs[0])
	})
}

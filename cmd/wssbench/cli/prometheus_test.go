package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench/proc"
)

// prometheusBinary is Prometheus (Debian: apt-get install -y prometheus);
// without it the test skips, or fails under WSSBENCH_REQUIRE_PROMETHEUS=1 (CI).
func prometheusBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("prometheus")
	if err != nil {
		msg := "prometheus is not installed (Debian: apt-get install -y --no-install-recommends prometheus): the test of --metrics-listen against a real Prometheus needs it"
		if os.Getenv("WSSBENCH_REQUIRE_PROMETHEUS") == "1" {
			t.Fatal(msg + ", and WSSBENCH_REQUIRE_PROMETHEUS=1 (CI) does not let it skip")
		}
		t.Skip(msg)
	}
	return p
}

// freeLoopback is a loopback address with a port free a moment ago.
func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startPrometheus runs Prometheus on loopback, scraping target every second
// with native histograms on; it is stopped by its PID at the test's end and
// dies with the test binary (bench/proc).
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: wssbench
    static_configs:
      - targets: [%q]
`, target)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeLoopback(t)
	child, _, err := proc.Start(context.Background(), proc.StartOptions{Name: "prometheus", Argv: []string{bin,
		"--config.file=" + conf, "--storage.tsdb.path=" + filepath.Join(dir, "data"), "--web.listen-address=" + addr,
		"--enable-feature=native-histograms"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := child.Stop(10 * time.Second); err != nil {
			t.Logf("stop prometheus: %v\n%s", err, child.Stderr())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if child.Exited() || time.Now().After(deadline) {
			t.Fatalf("prometheus did not become ready on %s: %v\n%s", addr, err, child.Stderr())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// promQuery evaluates an instant query at at and returns its one scalar
// result: a sample's value, or a native histogram's when the query yields one.
func promQuery(t *testing.T, base, query string, at time.Time) float64 {
	t.Helper()
	q := url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64)}}
	resp, err := http.Get(base + "/api/v1/query?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if r.Status != "success" || len(r.Data.Result) != 1 {
		t.Fatalf("%s: status %s %s, %d results, want one", query, r.Status, r.Error, len(r.Data.Result))
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s: value %v: %v", query, r.Data.Result[0].Value, err)
	}
	return v
}

// TestPrometheusScrapesARun runs a series of two runs (two topologies) with
// --metrics-listen against a real Prometheus, and checks that what it
// stored is the report: the last frames and round-trip counts, and a p99
// over both runs' native histograms within their buckets' resolution (schema
// 3: 2^(1/8), 9%) of the two reports' merged HdrHistograms.
func TestPrometheusScrapesARun(t *testing.T) {
	bin := prometheusBinary(t)
	metricsAddr := freeLoopback(t)
	base := startPrometheus(t, bin, metricsAddr)
	out := filepath.Join(t.TempDir(), "r.json")
	// --metrics-linger keeps the endpoint up after the report, so the final
	// values are scraped (twice or more, at 1 s) before the process ends.
	const linger = 4 * time.Second
	code, _, stderr := runMain("run", "--topology", "direct,builtin", "--conns", "20", "--msg-rate", "20", "--duration", "4s",
		"--metrics-listen", metricsAddr, "--metrics-linger", linger.String(), "--label", "promtest", "--out", out, "-q")
	ended := time.Now()
	if code != ExitOK {
		t.Fatalf("run exited %d:\n%s", code, stderr)
	}
	var rep struct {
		Runs []struct {
			Frames struct {
				Received int64 `json:"received"`
				RTT      struct {
					Count int64 `json:"count"`
				} `json:"rtt"`
			} `json:"frames"`
			Histograms map[string]string `json:"histograms"`
		} `json:"runs"`
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 2 {
		t.Fatalf("%d runs in the report, want 2", len(rep.Runs))
	}
	var received, rttCount int64
	merged := hdr.New(1000, int64(10*time.Minute), 3)
	for _, r := range rep.Runs {
		received += r.Frames.Received
		rttCount += r.Frames.RTT.Count
		h, err := hdr.Decode([]byte(r.Histograms["ws_rtt"]))
		if err != nil {
			t.Fatalf("decode ws_rtt: %v", err)
		}
		merged.Merge(h)
	}
	if received == 0 || rttCount != merged.TotalCount() {
		t.Fatalf("report: %d received, rtt count %d, merged histogram %d", received, rttCount, merged.TotalCount())
	}
	// Inside the linger, after its scrapes: the series are not stale yet.
	at := ended.Add(-1500 * time.Millisecond)
	sel := `{job="wssbench",run="promtest"}`
	if got := promQuery(t, base, `sum(wssbench_frames_total{direction="received",job="wssbench",run="promtest"})`, at); got != float64(received) {
		t.Errorf("wssbench_frames_total{direction=received} = %v, report frames.received %d", got, received)
	}
	if got := promQuery(t, base, `histogram_count(sum(wssbench_ws_rtt_seconds`+sel+`))`, at); got != float64(rttCount) {
		t.Errorf("ws_rtt histogram count %v, report frames.rtt.count %d", got, rttCount)
	}
	if got := promQuery(t, base, `count(wssbench_ws_rtt_seconds`+sel+`)`, at); got != 2 {
		t.Errorf("%v ws_rtt series, want one per cell (2)", got)
	}
	p99 := promQuery(t, base, `histogram_quantile(0.99, sum(wssbench_ws_rtt_seconds`+sel+`))`, at)
	want := float64(merged.ValueAtQuantile(99)) / 1e9
	// One native bucket either way, and HdrHistogram's 0.1%.
	if tol := math.Exp2(1.0/8) * 1.001; p99 > want*tol || p99 < want/tol {
		t.Errorf("histogram_quantile(0.99) over both runs = %.6f s, merged reports' p99 %.6f s: more than a native bucket apart", p99, want)
	}
	t.Logf("p99 %.6f s from Prometheus, %.6f s from the reports; %d frames", p99, want, received)
	checkDashboard(t, base, at)
}

// checkDashboard evaluates every query of the shipped Grafana dashboard
// (its variables set to match all) against the Prometheus that scraped a run:
// each must be valid PromQL for it.
func checkDashboard(t *testing.T, base string, at time.Time) {
	t.Helper()
	b, err := os.ReadFile("../../../deploy/grafana/wssbench.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("deploy/grafana/wssbench.json: %v", err)
	}
	vars := strings.NewReplacer("$__rate_interval", "5s", "$run", ".*", "$cell", ".*", "$job", ".*")
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			q := url.Values{"query": {vars.Replace(tg.Expr)}, "time": {strconv.FormatInt(at.Unix(), 10)}}
			resp, err := http.Get(base + "/api/v1/query?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			}
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if err != nil || r.Status != "success" {
				t.Errorf("dashboard panel %q: %s: %v %s", p.Title, tg.Expr, err, r.Error)
			}
		}
	}
}

// TestMetricsListenBadAddress: an address in use or unparsable is bad input
// (exit 2), found before any load.
func TestMetricsListenBadAddress(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Closed once the parallel subtests are done, not when this returns.
	t.Cleanup(func() { busy.Close() })
	for _, addr := range []string{busy.Addr().String(), "nonsense", "127.0.0.1:99999"} {
		for _, cmd := range [][]string{
			{"run", "--conns", "1", "--duration", "1m", "--metrics-listen", addr},
			{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", addr},
			{"proxy", "--listen", "127.0.0.1:0", "--backend", "ws://127.0.0.1:1/", "--metrics-listen", addr},
		} {
			t.Run(cmd[0]+" "+addr, func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				code, stdout, stderr := runMain(cmd...)
				if code != ExitBadInput || !strings.Contains(stderr, "--metrics-listen "+addr) {
					t.Errorf("exit %d, stderr %q; want 2 and a message naming --metrics-listen %s", code, stderr, addr)
				}
				if strings.Contains(stdout, "wss://") || time.Since(start) > 10*time.Second {
					t.Errorf("it served or ran before failing (%v):\n%s", time.Since(start), stdout)
				}
			})
		}
	}
}

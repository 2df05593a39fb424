package telemetry

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/bench/target"
)

// gather collects c's families by name.
func gather(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// sample is the sample of family name whose labels include want.
func sample(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	for _, m := range fams[name].GetMetric() {
		ok := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			ok = ok && found
		}
		if ok {
			return m
		}
	}
	t.Fatalf("no %s%v", name, want)
	return nil
}

// nativeBuckets decodes a native histogram's positive buckets by index.
func nativeBuckets(h *dto.Histogram) map[int]int64 {
	out := map[int]int64{}
	i, n := 0, int64(0)
	d := 0
	for _, s := range h.GetPositiveSpan() {
		i += int(s.GetOffset())
		for range s.GetLength() {
			n += h.GetPositiveDelta()[d]
			d++
			if n != 0 {
				out[i] = n
			}
			i++
		}
	}
	return out
}

func TestHistogramConversion(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		draw func(r *rand.Rand) time.Duration
	}{
		{"lognormal around 1ms", func(r *rand.Rand) time.Duration { return time.Duration(math.Exp(r.NormFloat64() + math.Log(1e6))) }},
		{"uniform 1us-2s", func(r *rand.Rand) time.Duration { return time.Duration(1e3 + r.Float64()*2e9) }},
		{"one value", func(*rand.Rand) time.Duration { return 250 * time.Microsecond }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(1, 2))
			// Two intervals, merged by the exporter as a run's are.
			e := New(Labels{Run: "r", Topology: "direct", Shard: "1/1"})
			e.StartRun("c", 1)
			total := metrics.NewHistogram()
			var raw []float64
			for range 2 {
				h := metrics.NewHistogram()
				for range 5000 {
					v := int64(tc.draw(r))
					if err := h.RecordValue(v); err != nil {
						t.Fatal(err)
					}
					raw = append(raw, float64(v)/1e9)
				}
				total.Merge(h)
				var iv metrics.Interval
				iv.H[metrics.RTT] = h
				e.Observe(iv)
			}
			fams := gather(t, e)
			h := sample(t, fams, "wssbench_ws_rtt_seconds", map[string]string{"cell": "c"}).GetHistogram()
			if h.GetSampleCount() != uint64(total.TotalCount()) {
				t.Fatalf("count %d, want %d", h.GetSampleCount(), total.TotalCount())
			}
			wantSum := total.Mean() * float64(total.TotalCount()) / 1e9
			if math.Abs(h.GetSampleSum()-wantSum) > 1e-9*wantSum {
				t.Errorf("sum %g s, want %g s", h.GetSampleSum(), wantSum)
			}
			if h.GetSchema() != NativeSchema {
				t.Errorf("schema %d, want %d", h.GetSchema(), NativeSchema)
			}
			native := nativeBuckets(h)
			var inNative int64
			for _, n := range native {
				inNative += n
			}
			if uint64(inNative) != h.GetSampleCount() {
				t.Errorf("native buckets hold %d, want %d", inNative, h.GetSampleCount())
			}
			// Each quantile of the HdrHistogram lies in the native bucket
			// where the cumulative count crosses it (3 significant figures
			// of slack at the bucket's edges).
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
				want := float64(total.ValueAtQuantile(q*100)) / 1e9
				lo, hi := nativeQuantileBucket(native, q)
				if want < lo*(1-1e-3) || want > hi*(1+1e-3) {
					t.Errorf("p%v: HDR %g s outside the native bucket (%g, %g]", q*100, want, lo, hi)
				}
			}
			// Classic buckets: cumulative, each within HDR resolution of the
			// raw values at or under its bound.
			var prev uint64
			for i, b := range h.GetBucket() {
				if b.GetUpperBound() != ClassicBounds[i] || b.GetCumulativeCount() < prev {
					t.Fatalf("classic bucket %d: le %g count %d after %d", i, b.GetUpperBound(), b.GetCumulativeCount(), prev)
				}
				prev = b.GetCumulativeCount()
				var under, near uint64
				for _, v := range raw {
					if v <= b.GetUpperBound() {
						under++
					}
					if math.Abs(v-b.GetUpperBound()) <= 1e-3*b.GetUpperBound() {
						near++
					}
				}
				if d := int64(b.GetCumulativeCount()) - int64(under); d > int64(near) || -d > int64(near) {
					t.Errorf("le %g: %d counted, %d raw values at or under it (%d near it)", b.GetUpperBound(), b.GetCumulativeCount(), under, near)
				}
			}
		})
	}
}

// nativeQuantileBucket is the bounds of the native bucket that holds the q-quantile.
func nativeQuantileBucket(b map[int]int64, q float64) (lo, hi float64) {
	var total int64
	minI, maxI := math.MaxInt, math.MinInt
	for i, n := range b {
		total += n
		minI, maxI = min(minI, i), max(maxI, i)
	}
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i := minI; i <= maxI; i++ {
		if seen += b[i]; seen >= rank {
			return nativeUpper(i - 1), nativeUpper(i)
		}
	}
	return nativeUpper(maxI - 1), nativeUpper(maxI)
}

func TestNativeIndex(t *testing.T) {
	t.Parallel()
	for _, v := range []float64{1e-6, 1e-3, 0.5, 1, 1.0905, 2, 3, 60, 600} {
		i := nativeIndex(v)
		if !(v > nativeUpper(i-1) && v <= nativeUpper(i)) {
			t.Errorf("%g in bucket %d = (%g, %g]", v, i, nativeUpper(i-1), nativeUpper(i))
		}
	}
	if nativeIndex(1) != 0 || nativeIndex(2) != 8 {
		t.Errorf("1 in %d, 2 in %d; want 0 and 8 (schema 3)", nativeIndex(1), nativeIndex(2))
	}
}

func progress(received, attempted int64, errs map[string]int64, phase string) bench.Progress {
	return bench.Progress{Progress: driver.Progress{Attempted: attempted, Established: attempted, FramesSent: received, FramesReceived: received,
		ErrorsByClass: errs, TLSVersions: map[string]int64{"TLS 1.3": attempted}, Phase: phase, Open: attempted}, Target: int(attempted)}
}

func TestCountersMonotonicOverCells(t *testing.T) {
	t.Parallel()
	e := New(Labels{Run: "series", Topology: "direct,builtin", Shard: "1/1"})
	value := func(cell, name string, labels map[string]string) float64 {
		t.Helper()
		want := map[string]string{"cell": cell}
		for k, v := range labels {
			want[k] = v
		}
		return sample(t, gather(t, e), name, want).GetCounter().GetValue()
	}
	received := map[string]string{"direction": "received"}
	steps := []struct {
		cell            string
		rep             int
		received        []int64
		wantA, wantB    float64
		wantTimeoutErrs float64
	}{
		{"a", 1, []int64{10, 100}, 100, -1, 2},
		{"b", 1, []int64{5, 50}, 100, 50, 2},
		// a's second repetition starts from zero: its counter goes on from 100.
		{"a", 2, []int64{3, 30}, 130, 50, 4},
	}
	last := map[string]float64{}
	for _, s := range steps {
		e.StartRun(s.cell, s.rep)
		for _, n := range s.received {
			e.Progress(progress(n, 10, map[string]int64{"timeout": 2}, driver.PhaseSteady))
			for _, c := range []string{"a", "b"} {
				if c == "b" && s.wantB < 0 {
					continue
				}
				v := value(c, FramesTotal, received)
				if v < last[c] {
					t.Fatalf("cell %s: frames received went down from %v to %v", c, last[c], v)
				}
				last[c] = v
			}
		}
		if got := value("a", FramesTotal, received); got != s.wantA {
			t.Errorf("after %s rep %d: a received %v, want %v", s.cell, s.rep, got, s.wantA)
		}
		if s.wantB >= 0 {
			if got := value("b", FramesTotal, received); got != s.wantB {
				t.Errorf("after %s rep %d: b received %v, want %v", s.cell, s.rep, got, s.wantB)
			}
		}
		if got := value("a", ErrorsTotal, map[string]string{"class": "timeout"}); got != s.wantTimeoutErrs {
			t.Errorf("after %s rep %d: a timeout errors %v, want %v", s.cell, s.rep, got, s.wantTimeoutErrs)
		}
	}
	fams := gather(t, e)
	if v := sample(t, fams, HandshakesTotal, map[string]string{"cell": "a", "version": "TLS 1.3", "run": "series"}).GetCounter().GetValue(); v != 20 {
		t.Errorf("a's TLS 1.3 handshakes %v, want 20", v)
	}
	// Only the current cell has a phase, and exactly one is 1.
	var ones int
	for _, m := range fams[Phase].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "cell" && l.GetValue() != "a" {
				t.Errorf("phase of cell %s, which is not running", l.GetValue())
			}
		}
		if m.GetGauge().GetValue() == 1 {
			ones++
		}
	}
	if ones != 1 {
		t.Errorf("%d phases at 1, want 1", ones)
	}
	e.Done()
	if v := sample(t, gather(t, e), Phase, map[string]string{"phase": "done"}).GetGauge().GetValue(); v != 1 {
		t.Errorf("phase done = %v after Done, want 1", v)
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, addr := range []string{busy.Addr().String(), "no-port", "127.0.0.1:99999"} {
		_, err := Serve(context.Background(), addr)
		var le *ListenError
		if !errors.As(err, &le) {
			t.Errorf("Serve(%q) = %v, want a *ListenError", addr, err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	e := New(Labels{Run: "r", Topology: "direct", Shard: "1/1"})
	e.StartRun("c", 1)
	e.Progress(progress(7, 1, nil, driver.PhaseSteady))
	srv, err := Serve(ctx, "127.0.0.1:0", e, TargetCollector(func() target.Counts { return target.Counts{Accepted: 3, FramesEchoed: 9} }))
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + srv.Addr().String() + "/metrics"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`wssbench_frames_total{cell="c",direction="received",run="r",shard="1/1",topology="direct"} 7`,
		`wssbench_target_frames_echoed_total 9`,
		`wssbench_ws_rtt_seconds_bucket{cell="c",run="r",shard="1/1",topology="direct",le="0.0001"} 0`,
		`process_cpu_seconds_total`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := http.Get(url); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still serving 5 s after its context ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

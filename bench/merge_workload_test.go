package bench

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/metrics"
)

// samples returns a histogram of n random latencies around mean, and the
// values, so a test can build the histogram of the union itself.
func samples(rng *rand.Rand, n int, mean time.Duration) (*hdr.Histogram, []int64) {
	h := metrics.NewHistogram()
	var vs []int64
	for range n {
		v := int64(float64(mean) * rng.ExpFloat64())
		v = max(v, metrics.LowestNs)
		if err := h.RecordValue(v); err != nil {
			panic(err)
		}
		vs = append(vs, v)
	}
	return h, vs
}

func union(vs ...[]int64) *hdr.Histogram {
	h := metrics.NewHistogram()
	for _, v := range vs {
		for _, x := range v {
			if err := h.RecordValue(x); err != nil {
				panic(err)
			}
		}
	}
	return h
}

// workloadPart is one part of a split run with roles, reach, two stages and
// a storm, its histograms random; vals are its samples by histogram.
func workloadPart(rng *rand.Rand, start time.Time, share int) (*Result, map[string][]int64) {
	vals := map[string][]int64{}
	hist := func(name string, n int, mean time.Duration) *hdr.Histogram {
		h, v := samples(rng, n, mean)
		vals[name] = v
		return h
	}
	p := &Result{StartedAt: start, Elapsed: 30 * time.Second,
		Stats: &driver.Stats{Errors: map[string]int64{}, ErrorSamples: map[string]string{},
			Phases: []driver.PhaseMark{{Name: "connect", At: start}, {Name: "done", At: start.Add(30 * time.Second)}}}}
	p.Roles = []RoleResult{
		{Name: "publishers", Connections: 1, Planned: 1, FramesSent: 100, Errors: map[string]int64{},
			ErrorSamples: map[string]string{}, Latency: hist("pub.latency", 100, time.Millisecond), Delivery: metrics.NewHistogram()},
		{Name: "subscribers", Connections: int64(share), Planned: int64(share), FramesReceived: int64(100 * share),
			Errors: map[string]int64{"expect_timeout": 1}, ErrorSamples: map[string]string{"expect_timeout": "got {\"x\":1}"},
			Latency: metrics.NewHistogram(), Delivery: hist("sub.delivery", 500+rng.IntN(500), 2*time.Millisecond)},
	}
	p.Reach = &Reach{Received: int64(100*share - 1), Expected: int64(100 * share), Source: "target"}
	for i, name := range []string{"ramp", "peak"} {
		s := StageResult{Name: name, Index: i + 1, Start: time.Duration(i) * 10 * time.Second, End: time.Duration(i+1) * 10 * time.Second,
			Conns: share, ConnectRate: float64(share), MsgRate: 5, OpenAtEnd: int64(share), Established: int64(share),
			FramesSent: 10, FramesReceived: 20, Errors: 1}
		s.Histograms[metrics.RTT] = hist(name+".ws_rtt", 200+rng.IntN(300), time.Duration(i+1)*time.Millisecond)
		s.Histograms[metrics.Delivery] = hist(name+".delivery", 100, 3*time.Millisecond)
		p.Stages = append(p.Stages, s)
	}
	p.Storm = &StormResult{At: 15 * time.Second, Dropped: int64(share), Reconnected: int64(share - 1), Failed: 1,
		Recovered: true, BackToFull: time.Duration(1+rng.IntN(3000)) * time.Millisecond,
		TLSHandshake: hist("storm.tls", share, 5*time.Millisecond), ConnectTotal: hist("storm.connect", share, 8*time.Millisecond)}
	return p, vals
}

// TestMergeWorkloadIsExact: the merge of a split run's parts has each
// role's, stage's and storm's histograms equal to the histogram of the union
// of the parts' samples (so every percentile is the union's), its counts
// summed, the reach taken again from the sums.
func TestMergeWorkloadIsExact(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a, av := workloadPart(rng, t0, 40)
	b, bv := workloadPart(rng, t0.Add(200*time.Millisecond), 60)
	b.Storm.Recovered = false
	m := mergeParts(&Cell{Name: "direct"}, []*Result{a, b})

	same := func(what string, got *hdr.Histogram, vals ...[]int64) {
		t.Helper()
		want := union(vals...)
		for _, q := range []float64{50, 90, 99, 99.9, 100} {
			if got.ValueAtQuantile(q) != want.ValueAtQuantile(q) {
				t.Errorf("%s p%g = %d, the union's is %d", what, q, got.ValueAtQuantile(q), want.ValueAtQuantile(q))
			}
		}
		if got.TotalCount() != want.TotalCount() {
			t.Errorf("%s count %d, want %d", what, got.TotalCount(), want.TotalCount())
		}
	}
	if len(m.Roles) != 2 || m.Roles[0].Name != "publishers" || m.Roles[1].Name != "subscribers" {
		t.Fatalf("roles %+v", m.Roles)
	}
	sub := m.Roles[1]
	if sub.Connections != 100 || sub.FramesReceived != 10000 || sub.Errors["expect_timeout"] != 2 || sub.ErrorSamples["expect_timeout"] == "" {
		t.Errorf("subscribers %+v", sub)
	}
	same("publishers latency", m.Roles[0].Latency, av["pub.latency"], bv["pub.latency"])
	same("subscribers delivery", sub.Delivery, av["sub.delivery"], bv["sub.delivery"])
	if a.Roles[1].Delivery.TotalCount() != int64(len(av["sub.delivery"])) {
		t.Error("the merge changed a part's histogram")
	}
	if r := m.Reach; r == nil || r.Received != 9998 || r.Expected != 10000 || r.Ratio != 0.9998 || r.Source != "target" {
		t.Errorf("reach %+v", m.Reach)
	}
	if len(m.Stages) != 2 {
		t.Fatalf("stages %+v", m.Stages)
	}
	for i, s := range m.Stages {
		name := []string{"ramp", "peak"}[i]
		if s.Name != name || s.Index != i+1 || s.Established != 100 || s.OpenAtEnd != 100 || s.FramesReceived != 40 || s.Errors != 2 {
			t.Errorf("stage %d %+v", i+1, s)
		}
		// The parts' shares of a split run add up to the run's targets.
		if s.Conns != 100 || s.ConnectRate != 100 || s.MsgRate != 5 {
			t.Errorf("stage %s targets %d %g %g", name, s.Conns, s.ConnectRate, s.MsgRate)
		}
		if s.Start != time.Duration(i)*10*time.Second || s.End != time.Duration(i+1)*10*time.Second+200*time.Millisecond {
			t.Errorf("stage %s window %s..%s", name, s.Start, s.End)
		}
		same("stage "+name+" ws_rtt", s.Histograms[metrics.RTT], av[name+".ws_rtt"], bv[name+".ws_rtt"])
		same("stage "+name+" delivery", s.Histograms[metrics.Delivery], av[name+".delivery"], bv[name+".delivery"])
	}
	st := m.Storm
	if st == nil || st.Dropped != 100 || st.Reconnected != 98 || st.Failed != 2 || st.Recovered || st.At != 15*time.Second ||
		st.BackToFull != max(a.Storm.BackToFull, b.Storm.BackToFull) {
		t.Fatalf("storm %+v", st)
	}
	same("storm tls_handshake", st.TLSHandshake, av["storm.tls"], bv["storm.tls"])
	same("storm connect_total", st.ConnectTotal, av["storm.connect"], bv["storm.connect"])
}

func TestMergeReachDisagreeing(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for name, edit := range map[string]func(b *Result){
		"sources differ": func(b *Result) { b.Reach.Source = "fanout" },
		"one without":    func(b *Result) { b.Reach = nil },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(5, 6))
			a, _ := workloadPart(rng, t0, 10)
			b, _ := workloadPart(rng, t0, 10)
			edit(b)
			m := mergeParts(&Cell{Name: "direct"}, []*Result{a, b})
			if m.Reach != nil || !strings.Contains(strings.Join(m.Warnings, "\n"), "reach left out") {
				t.Fatalf("reach %+v, warnings %q", m.Reach, m.Warnings)
			}
		})
	}
	// Each part holds its share of a stage's connections: they add up.
	a, _ := workloadPart(rng, t0, 10)
	b, _ := workloadPart(rng, t0, 10)
	if m := mergeParts(&Cell{Name: "direct"}, []*Result{a, b}); m.Stages[0].Conns != 20 {
		t.Fatalf("two parts' shares of 10 connections merged into %d", m.Stages[0].Conns)
	}
}

package metrics

import (
	"sync"
	"testing"
	"time"
)

func TestRecorderMergesShardsAndIntervals(t *testing.T) {
	t.Parallel()
	r := NewRecorder(4)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				r.Record(w, RTT, time.Duration(100+i)*time.Microsecond)
			}
		}(w)
	}
	wg.Wait()
	iv := r.Collect()
	if got := iv.H[RTT].TotalCount(); got != 8000 {
		t.Fatalf("interval count %d, want 8000", got)
	}
	if iv.H[RTT].Tag() != "ws_rtt" || iv.H[TCPConnect].TotalCount() != 0 {
		t.Fatalf("tag %q, tcp count %d", iv.H[RTT].Tag(), iv.H[TCPConnect].TotalCount())
	}
	r.Record(0, RTT, time.Millisecond)
	iv = r.Collect()
	if got := iv.H[RTT].TotalCount(); got != 1 {
		t.Fatalf("second interval count %d, want 1 (the first was not reset)", got)
	}
	total := r.Total(RTT)
	if total.TotalCount() != 8001 {
		t.Fatalf("total %d, want 8001", total.TotalCount())
	}
	// 3 significant figures: p50 of 100..1099 µs is about 600 µs.
	if p50 := time.Duration(total.ValueAtQuantile(50)); p50 < 590*time.Microsecond || p50 > 610*time.Microsecond {
		t.Fatalf("p50 %v, want about 600µs", p50)
	}
}

func TestRecorderClipsAndFloors(t *testing.T) {
	t.Parallel()
	r := NewRecorder(1)
	r.Record(0, WSUpgrade, time.Hour)
	r.Record(0, WSUpgrade, 0)
	r.Collect()
	h := r.Total(WSUpgrade)
	if h.TotalCount() != 2 || r.Clipped() != 1 {
		t.Fatalf("count %d clipped %d, want 2 and 1", h.TotalCount(), r.Clipped())
	}
	if h.Min() > LowestNs || !h.ValuesAreEquivalent(h.Max(), HighestNs) {
		t.Fatalf("min %d max %d", h.Min(), h.Max())
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for m := Metric(0); m < NumMetrics; m++ {
		if m.Name() == "" || seen[m.Name()] {
			t.Fatalf("metric %d has an empty or repeated name %q", m, m.Name())
		}
		seen[m.Name()] = true
	}
}

func BenchmarkRecord(b *testing.B) {
	r := NewRecorder(4)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Record(i, RTT, time.Duration(i%5000)*time.Microsecond)
			i++
		}
	})
}

package fleet

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench/metrics"
)

// TestIntervalsAddUpAcrossMembers: two members' interval lines, as the
// parent reads them, add up exactly into one interval.
func TestIntervalsAddUpAcrossMembers(t *testing.T) {
	var f Fleet
	want := metrics.NewHistogram()
	for m := range 2 {
		var out bytes.Buffer
		l := &Link{out: &out}
		iv := metrics.Interval{Start: time.Now(), End: time.Now()}
		for i := range iv.H {
			iv.H[i] = metrics.NewHistogram()
		}
		for v := range 100 {
			d := int64((m*100 + v + 1) * 1000)
			_ = iv.H[metrics.RTT].RecordValue(d)
			_ = want.RecordValue(d)
		}
		l.Interval(iv)
		line := strings.TrimSuffix(strings.TrimPrefix(out.String(), Prefix), "\n")
		if !strings.HasPrefix(line, lineInterval) {
			t.Fatalf("member %d wrote %q", m, line)
		}
		f.pending.add(strings.TrimPrefix(line, lineInterval))
	}
	got := f.TakeInterval().H[metrics.RTT]
	if got.TotalCount() != 200 || !got.Equals(want) {
		t.Fatalf("merged %d samples, p99 %d; want 200, p99 %d", got.TotalCount(), got.ValueAtQuantile(99), want.ValueAtQuantile(99))
	}
	if again := f.TakeInterval().H[metrics.RTT]; again.TotalCount() != 0 {
		t.Fatalf("taken twice: %d samples", again.TotalCount())
	}
}

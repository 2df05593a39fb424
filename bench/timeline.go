package bench

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/metrics"
)

// TimelinePoint is one collection interval of a run: the counters at its end
// and the latency of what completed during it.
type TimelinePoint struct {
	// At is the interval's end, as an offset from the run's start.
	At time.Duration
	// Established counts connections established so far; Open those open at At.
	Established, Open int64
	// FramesPerSec is echoes received per second during the interval.
	FramesPerSec float64
	// Errors is the number of errors counted during the interval.
	Errors int64
	// ConnectTotal, TLSHandshake and RTT are the p50 and p99 of the
	// connections set up and the frames echoed during the interval; zero when none.
	ConnectTotalP50, ConnectTotalP99 time.Duration
	TLSHandshakeP50, TLSHandshakeP99 time.Duration
	RTTP50, RTTP99                   time.Duration
}

// timeline accumulates one TimelinePoint per collected interval.
type timeline struct {
	start  time.Time
	prev   driver.Progress
	prevAt time.Time
	points []TimelinePoint
}

func newTimeline(start time.Time) *timeline { return &timeline{start: start, prevAt: start} }

// add appends the point of interval iv, given the driver's counters at its end.
func (t *timeline) add(iv metrics.Interval, p driver.Progress) TimelinePoint {
	pt := TimelinePoint{At: iv.End.Sub(t.start), Established: p.Established, Open: p.Open, Errors: p.Errors - t.prev.Errors}
	if dt := iv.End.Sub(t.prevAt).Seconds(); dt > 0 {
		pt.FramesPerSec = float64(p.FramesReceived-t.prev.FramesReceived) / dt
	}
	pt.ConnectTotalP50, pt.ConnectTotalP99 = p50p99(iv.H[metrics.ConnectTotal])
	pt.TLSHandshakeP50, pt.TLSHandshakeP99 = p50p99(iv.H[metrics.TLSHandshake])
	pt.RTTP50, pt.RTTP99 = p50p99(iv.H[metrics.RTT])
	t.prev, t.prevAt = p, iv.End
	t.points = append(t.points, pt)
	return pt
}

func p50p99(h *hdr.Histogram) (time.Duration, time.Duration) {
	if h == nil || h.TotalCount() == 0 {
		return 0, 0
	}
	return time.Duration(h.ValueAtQuantile(50)), time.Duration(h.ValueAtQuantile(99))
}

// Interval is one collection interval's histograms, each encoded in
// HdrHistogram's V2 compressed form (nil when it holds no sample), so a run
// keeps its intervals for the interval log at a few hundred bytes each.
type Interval struct {
	Start, End time.Time
	H          [metrics.NumMetrics][]byte
}

// encodeInterval copies iv's histograms out before the next Collect reuses them.
func encodeInterval(iv metrics.Interval) Interval {
	out := Interval{Start: iv.Start, End: iv.End}
	for m, h := range iv.H {
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		// Encode fails only on an unknown cookie version.
		if b, err := h.Encode(hdr.V2CompressedEncodingCookieBase); err == nil {
			out.H[m] = b
		}
	}
	return out
}

package reports

import (
	"fmt"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/metrics"
)

// encodeHistograms encodes each non-nil run-total histogram by metric name.
func encodeHistograms(hs [metrics.NumMetrics]*hdr.Histogram) map[string]string {
	out := map[string]string{}
	for m, h := range hs {
		if h == nil {
			continue
		}
		b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
		if err != nil {
			// Encode fails only on an unknown version; leave the histogram out.
			continue
		}
		out[metrics.Metric(m).Name()] = string(b)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Histogram decodes the run-total histogram of the named metric (values in
// nanoseconds). It returns nil and no error when the report does not carry it
// (a report written before histograms were added, or a metric with no samples).
func (r *Report) Histogram(name string) (*hdr.Histogram, error) {
	enc, ok := r.Histograms[name]
	if !ok || enc == "" {
		return nil, nil
	}
	h, err := hdr.Decode([]byte(enc))
	if err != nil {
		return nil, fmt.Errorf("histograms.%s: %w", name, err)
	}
	return h, nil
}

// intervalsOf turns the run's encoded interval histograms into the report's.
func intervalsOf(ivs []bench.Interval) []Interval {
	out := make([]Interval, 0, len(ivs))
	for _, iv := range ivs {
		ri := Interval{StartMs: iv.Start.UnixMilli(), EndMs: iv.End.UnixMilli()}
		for m, b := range iv.H {
			if b == nil {
				continue
			}
			if ri.Histograms == nil {
				ri.Histograms = map[string]string{}
			}
			ri.Histograms[metrics.Metric(m).Name()] = string(b)
		}
		out = append(out, ri)
	}
	return out
}

package telemetry

import (
	"math"
	"sort"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// NativeSchema is the schema of the exported native histograms: bucket
// boundaries grow by 2^(1/8), about 9% each, so a quantile read from them is
// within 9% of the HdrHistogram's (which holds 3 significant figures).
const NativeSchema = 3

// ClassicBounds are the upper bounds in seconds of the classic buckets every
// latency histogram also carries, for servers that do not ingest native
// histograms: 100 µs to 60 s.
var ClassicBounds = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
}

// cumulative is one latency distribution added up over intervals: the
// native buckets by index, the classic buckets by bound (not cumulative;
// the last is above every bound), the count and the sum in seconds.
type cumulative struct {
	count   uint64
	sum     float64
	native  map[int]int64
	classic []uint64
}

func newCumulative() *cumulative {
	return &cumulative{native: map[int]int64{}, classic: make([]uint64, len(ClassicBounds)+1)}
}

// bucketCount is one HdrHistogram bucket: its median equivalent value in
// seconds and its count.
type bucketCount struct {
	seconds float64
	count   int64
}

// hdrBuckets lists h's non-empty buckets. It walks h's buckets up to its
// largest value: call it once per interval, never per sample.
func hdrBuckets(h *hdr.Histogram, into []bucketCount) []bucketCount {
	into = into[:0]
	if h == nil || h.TotalCount() == 0 {
		return into
	}
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		// HdrHistogram's own mean counts each value at its bucket's median.
		median := float64(b.From) + float64(b.To-b.From+1)/2
		into = append(into, bucketCount{seconds: median / float64(time.Second), count: b.Count})
	}
	return into
}

// add puts each bucket's count into the native bucket and the classic
// bucket its value falls in.
func (c *cumulative) add(buckets []bucketCount) {
	for _, b := range buckets {
		c.count += uint64(b.count)
		c.sum += b.seconds * float64(b.count)
		c.native[nativeIndex(b.seconds)] += b.count
		c.classic[sort.SearchFloat64s(ClassicBounds, b.seconds)] += uint64(b.count)
	}
}

// merge adds o into c.
func (c *cumulative) merge(o *cumulative) {
	c.count += o.count
	c.sum += o.sum
	for k, v := range o.native {
		c.native[k] += v
	}
	for i, v := range o.classic {
		c.classic[i] += v
	}
}

// nativeIndex is the index of the native bucket of schema NativeSchema that
// holds v > 0: bucket i holds (2^((i-1)/8), 2^(i/8)].
func nativeIndex(v float64) int {
	const per = 1 << NativeSchema
	i := int(math.Ceil(math.Log2(v) * per))
	// Log2 rounds: settle the boundary cases on the bounds themselves.
	for v > math.Exp2(float64(i)/per) {
		i++
	}
	for v <= math.Exp2(float64(i-1)/per) {
		i--
	}
	return i
}

// nativeUpper is the upper bound of native bucket i.
func nativeUpper(i int) float64 { return math.Exp2(float64(i) / (1 << NativeSchema)) }

// metric is c as a const histogram of desc: native buckets and classic
// buckets in one sample, so either kind of ingestion finds its own.
func (c *cumulative) metric(desc *prometheus.Desc, created time.Time, labelValues ...string) (prometheus.Metric, error) {
	m, err := prometheus.NewConstNativeHistogram(desc, c.count, c.sum, c.native, nil, 0,
		NativeSchema, prometheus.DefNativeHistogramZeroThreshold, created, labelValues...)
	if err != nil {
		return nil, err
	}
	return withClassic{Metric: m, buckets: c.classicBuckets()}, nil
}

// classicBuckets are the classic buckets, cumulative, as the exposition wants them.
func (c *cumulative) classicBuckets() []*dto.Bucket {
	out := make([]*dto.Bucket, 0, len(ClassicBounds))
	var below uint64
	for i, le := range ClassicBounds {
		below += c.classic[i]
		out = append(out, &dto.Bucket{UpperBound: new(le), CumulativeCount: new(below)})
	}
	return out
}

// withClassic adds classic buckets to a const native histogram.
type withClassic struct {
	prometheus.Metric
	buckets []*dto.Bucket
}

func (m withClassic) Write(out *dto.Metric) error {
	if err := m.Metric.Write(out); err != nil {
		return err
	}
	// The native histogram is made for this one scrape: its sample is ours.
	out.Histogram.Bucket = m.buckets
	return nil
}

// Package metrics names what wssbench measures and records latencies into
// per-shard HdrHistograms that are merged at intervals, so no sample takes a
// global lock or a channel send and no histogram exists per connection.
package metrics

import (
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Metric identifies one latency distribution.
type Metric int

// The latency metrics, in report order.
const (
	TCPConnect     Metric = iota // dial start to TCP established
	TLSHandshake                 // HandshakeContext
	WSUpgrade                    // upgrade request written to 101 read
	ConnectTotal                 // dial start to upgraded
	RTT                          // frame round trip from the scheduled send time (coordinated omission corrected)
	RTTUncorrected               // frame round trip from the actual send time
	SendLag                      // how late a frame left against its schedule (generator health)
	Delivery                     // one-way delivery latency of a stamped frame: its publisher's send time to its arrival
	NumMetrics
)

var names = [NumMetrics]string{"tcp_connect", "tls_handshake", "ws_upgrade", "connect_total", "ws_rtt", "ws_rtt_uncorrected", "send_lag", "delivery"}

// Name returns the metric's stable name as used in reports, thresholds and .hlog tags.
func (m Metric) Name() string { return names[m] }

// ByName returns the metric of a name, or false.
func ByName(name string) (Metric, bool) {
	for i, n := range names {
		if n == name {
			return Metric(i), true
		}
	}
	return 0, false
}

// Histogram bounds: nanoseconds, 1 µs to 10 minutes, 3 significant figures.
const (
	LowestNs  = 1000
	HighestNs = int64(10 * time.Minute)
	SigFigs   = 3
)

// NewHistogram returns an empty histogram with wssbench's bounds.
func NewHistogram() *hdr.Histogram { return hdr.New(LowestNs, HighestNs, SigFigs) }

type shard struct {
	mu  sync.Mutex
	cur [NumMetrics]*hdr.Histogram
	// clipped counts values above HighestNs, recorded as HighestNs.
	clipped int64
	_       [64]byte // keep shards on separate cache lines
}

// Recorder holds per-shard interval histograms. Record is safe for concurrent
// use; writers on different shards never contend.
type Recorder struct {
	shards []shard
	spare  [NumMetrics]*hdr.Histogram
	iv     [NumMetrics]*hdr.Histogram // reused by every Collect
	mu     sync.Mutex                 // serialises Collect
	total  [NumMetrics]*hdr.Histogram
	start  time.Time
	last   time.Time
}

// NewRecorder returns a Recorder with n shards (at least 1).
func NewRecorder(n int) *Recorder {
	if n < 1 {
		n = 1
	}
	r := &Recorder{shards: make([]shard, n), start: time.Now()}
	r.last = r.start
	for i := range r.shards {
		for m := range r.shards[i].cur {
			r.shards[i].cur[m] = NewHistogram()
		}
	}
	for m := range r.total {
		r.spare[m] = NewHistogram()
		r.iv[m] = NewHistogram()
		r.total[m] = NewHistogram()
	}
	return r
}

// Record adds one latency sample to metric m on shard key (any int; it is
// reduced modulo the number of shards).
func (r *Recorder) Record(key int, m Metric, d time.Duration) {
	s := &r.shards[uint(key)%uint(len(r.shards))]
	v := int64(d)
	if v < LowestNs {
		v = LowestNs
	}
	s.mu.Lock()
	if v > HighestNs {
		v = HighestNs
		s.clipped++
	}
	// RecordValue fails only above HighestNs, which was clipped above.
	_ = s.cur[m].RecordValue(v)
	s.mu.Unlock()
}

// Interval is the merged histograms of one collection interval.
type Interval struct {
	// Start and End bound the interval.
	Start, End time.Time
	// H holds one histogram per metric. They are reused by the next Collect:
	// copy what must outlive it.
	H [NumMetrics]*hdr.Histogram
}

// Collect swaps out every shard's histograms, merges them into one interval
// (returned) and into the run total. Call it from one goroutine at a time.
func (r *Recorder) Collect() Interval {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	iv := Interval{Start: r.last, End: now, H: r.iv}
	for _, h := range iv.H {
		h.Reset()
	}
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		old := s.cur
		s.cur = r.spare
		s.mu.Unlock()
		for m := range old {
			iv.H[m].Merge(old[m])
			old[m].Reset()
		}
		r.spare = old
	}
	for m := range iv.H {
		iv.H[m].SetStartTimeMs(iv.Start.UnixMilli())
		iv.H[m].SetEndTimeMs(iv.End.UnixMilli())
		iv.H[m].SetTag(Metric(m).Name())
		r.total[m].Merge(iv.H[m])
	}
	r.last = now
	return iv
}

// Total returns a copy of the run-total histogram of metric m (as of the last Collect).
func (r *Recorder) Total(m Metric) *hdr.Histogram {
	r.mu.Lock()
	defer r.mu.Unlock()
	return hdr.Import(r.total[m].Export())
}

// Clipped returns how many samples exceeded HighestNs and were recorded as HighestNs.
func (r *Recorder) Clipped() int64 {
	var n int64
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		n += s.clipped
		s.mu.Unlock()
	}
	return n
}

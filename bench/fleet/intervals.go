package fleet

import (
	"encoding/base64"
	"encoding/json"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench/metrics"
)

// lineInterval carries one collection interval's histograms from a member:
// "interval JSON", each non-empty histogram in HdrHistogram's V2 compressed
// encoding, base64, by metric name. The parent adds them up, so the live
// outputs of a run split over processes (Prometheus, the live page) see its
// latencies as one process's would.
const lineInterval = "interval "

// wireInterval is an interval on the wire.
type wireInterval struct {
	Start, End time.Time
	H          map[string]string
}

// Interval sends one interval's histograms to the parent. It is called once
// per collection interval, never per frame.
func (l *Link) Interval(iv metrics.Interval) {
	w := wireInterval{Start: iv.Start, End: iv.End, H: map[string]string{}}
	for m, h := range iv.H {
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
		if err != nil {
			continue
		}
		w.H[metrics.Metric(m).Name()] = base64.StdEncoding.EncodeToString(b)
	}
	b, err := json.Marshal(w)
	if err != nil {
		return
	}
	l.say("%s%s", lineInterval, b)
}

// pending holds the members' intervals received since the parent last took them.
type pending struct {
	mu    sync.Mutex
	start time.Time
	h     [metrics.NumMetrics]*hdr.Histogram
}

// add merges one member's interval line.
func (p *pending) add(line string) {
	var w wireInterval
	if json.Unmarshal([]byte(line), &w) != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.start.IsZero() || w.Start.Before(p.start) {
		p.start = w.Start
	}
	for name, enc := range w.H {
		m, ok := metrics.ByName(name)
		if !ok {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			continue
		}
		h, err := hdr.Decode(b)
		if err != nil {
			continue
		}
		if p.h[m] == nil {
			p.h[m] = metrics.NewHistogram()
		}
		p.h[m].Merge(h)
	}
}

// TakeInterval returns the members' histograms received since the last
// call, added up, as one interval ending now (empty histograms for metrics
// no member sent). The caller owns them.
func (f *Fleet) TakeInterval() metrics.Interval {
	p := &f.pending
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	iv := metrics.Interval{Start: p.start, End: now}
	if iv.Start.IsZero() {
		iv.Start = now
	}
	for m := range iv.H {
		if iv.H[m] = p.h[m]; iv.H[m] == nil {
			iv.H[m] = metrics.NewHistogram()
		}
		p.h[m] = nil
	}
	p.start = time.Time{}
	return iv
}

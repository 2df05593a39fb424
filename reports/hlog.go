package reports

import (
	"io"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench/metrics"
)

// writeHlog writes the intervals of the series' one run (a per-run encoder
// gets a series of one run) as an HdrHistogram interval log (.hlog, log
// format 1.3, V2 compressed histograms): one line per metric per interval,
// empty ones included so each tag has one line per interval, tagged with the
// metric's name (tcp_connect, tls_handshake, ws_upgrade, connect_total,
// ws_rtt, ws_rtt_uncorrected, send_lag, delivery). Values are nanoseconds, so the
// Interval_Max column is in milliseconds. Timestamps are seconds from the
// log's base time, the whole second at or before the first interval's start.
func writeHlog(w io.Writer, s *Series) error {
	var ivs []Interval
	for _, r := range s.Runs {
		ivs = append(ivs, r.Intervals...)
	}
	lw := hdr.NewHistogramLogWriter(w)
	for i, iv := range ivs {
		if i == 0 {
			baseMs := iv.StartMs - iv.StartMs%1000
			lw.SetBaseTime(baseMs)
			for _, step := range []func() error{
				lw.OutputLogFormatVersion,
				func() error {
					return lw.OutputComment("[wssbench interval log: values in nanoseconds, one tag per metric]")
				},
				func() error { return lw.OutputStartTime(iv.StartMs) },
				func() error { return lw.OutputBaseTime(baseMs) },
				lw.OutputLegend,
			} {
				if err := step(); err != nil {
					return err
				}
			}
		}
		for m := range metrics.NumMetrics {
			name := m.Name()
			h := metrics.NewHistogram()
			if enc, ok := iv.Histograms[name]; ok {
				var err error
				if h, err = hdr.Decode([]byte(enc)); err != nil {
					return err
				}
			}
			h.SetStartTimeMs(iv.StartMs)
			h.SetEndTimeMs(iv.EndMs)
			h.SetTag(name)
			if err := lw.OutputIntervalHistogram(h); err != nil {
				return err
			}
		}
	}
	return nil
}

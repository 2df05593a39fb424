package reports

import (
	"io"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench/metrics"
)

// HlogWriter writes a run's interval histograms as an HdrHistogram interval
// log (.hlog, log format 1.3, V2 compressed histograms): one line per metric
// per interval, tagged with the metric's name (tcp_connect, tls_handshake,
// ws_upgrade, connect_total, ws_rtt, ws_rtt_uncorrected, send_lag). Values are
// nanoseconds, so the Interval_Max column is in milliseconds. Timestamps are
// seconds from the log's base time, the whole second at or before the first
// interval's start.
type HlogWriter struct {
	lw      *hdr.HistogramLogWriter
	started bool
	// Intervals counts the intervals written.
	Intervals int
}

// NewHlogWriter returns a writer that streams to w; the header is written
// with the first interval.
func NewHlogWriter(w io.Writer) *HlogWriter {
	return &HlogWriter{lw: hdr.NewHistogramLogWriter(w)}
}

// WriteInterval writes every metric's histogram of iv, empty ones included,
// so each tag has one line per interval. It must return before the next
// Collect reuses iv's histograms.
func (h *HlogWriter) WriteInterval(iv metrics.Interval) error {
	if !h.started {
		startMs := iv.Start.UnixMilli()
		baseMs := startMs - startMs%1000
		h.lw.SetBaseTime(baseMs)
		for _, step := range []func() error{
			h.lw.OutputLogFormatVersion,
			func() error {
				return h.lw.OutputComment("[wssbench interval log: values in nanoseconds, one tag per metric]")
			},
			func() error { return h.lw.OutputStartTime(startMs) },
			func() error { return h.lw.OutputBaseTime(baseMs) },
			h.lw.OutputLegend,
		} {
			if err := step(); err != nil {
				return err
			}
		}
		h.started = true
	}
	for m := range iv.H {
		if iv.H[m].Tag() == "" {
			iv.H[m].SetTag(metrics.Metric(m).Name())
		}
		if err := h.lw.OutputIntervalHistogram(iv.H[m]); err != nil {
			return err
		}
	}
	h.Intervals++
	return nil
}

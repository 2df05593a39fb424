package reports

import (
	"time"

	"github.com/wssbench/wssbench/bench"
)

// TimelinePoint is one collection interval of a run, as written to JSON.
type TimelinePoint struct {
	// TS is the interval's end in seconds from the run's start.
	TS float64 `json:"t_s"`
	// Established counts connections established so far; Open those open at TS.
	Established int64 `json:"established"`
	Open        int64 `json:"open"`
	// FramesPerS is echoes received per second during the interval.
	FramesPerS float64 `json:"frames_per_s"`
	// Errors is the number of errors counted during the interval.
	Errors int64 `json:"errors"`
	// The p50 and p99 of what completed during the interval, in µs; 0 when nothing did.
	ConnectTotalP50Us float64 `json:"connect_total_p50_us"`
	ConnectTotalP99Us float64 `json:"connect_total_p99_us"`
	TLSHandshakeP50Us float64 `json:"tls_handshake_p50_us"`
	TLSHandshakeP99Us float64 `json:"tls_handshake_p99_us"`
	RTTP50Us          float64 `json:"ws_rtt_p50_us"`
	RTTP99Us          float64 `json:"ws_rtt_p99_us"`
}

func timelineOf(points []bench.TimelinePoint) []TimelinePoint {
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	out := make([]TimelinePoint, len(points))
	for i, p := range points {
		out[i] = TimelinePoint{TS: p.At.Seconds(), Established: p.Established, Open: p.Open, FramesPerS: p.FramesPerSec,
			Errors: p.Errors, ConnectTotalP50Us: us(p.ConnectTotalP50), ConnectTotalP99Us: us(p.ConnectTotalP99),
			TLSHandshakeP50Us: us(p.TLSHandshakeP50), TLSHandshakeP99Us: us(p.TLSHandshakeP99), RTTP50Us: us(p.RTTP50), RTTP99Us: us(p.RTTP99)}
	}
	return out
}

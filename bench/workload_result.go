package bench

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench/metrics"
)

// RoleResult is what the connections of one role of a workload counted
// (Config.Roles); a run without roles has none.
type RoleResult struct {
	// Name is the role's name as configured.
	Name string
	// Connections counts the role's connections established; Planned is
	// how many of the run's connections the role was given.
	Connections, Planned int64
	// FramesSent counts data frames the role's connections sent (steps and
	// the steady pattern); FramesReceived data frames they received.
	FramesSent, FramesReceived int64
	// Errors counts the role's failures by class (expect_timeout,
	// reply_unmatched, ...); ErrorSamples keeps the first message of each
	// class (for an expect miss: a sample of what came instead).
	Errors       map[string]int64
	ErrorSamples map[string]string
	// Latency is request-to-answer latency (echo or reply correlation) from
	// the scheduled send time; Delivery is the one-way delivery latency of
	// the stamped frames the role received. Either may be empty, never nil.
	Latency, Delivery *hdr.Histogram
}

// Reach is frames received against frames the server should have delivered.
type Reach struct {
	// Received counts stamped (delivered) frames the driver received;
	// Expected is what the server should have delivered.
	Received, Expected int64
	// Ratio is Received/Expected (0..1, or above 1 when more came).
	Ratio float64
	// Source says where Expected comes from: "target" (the built-in
	// target's own count of the deliveries it owed) or "fanout" (frames
	// published times the fan-out the config states).
	Source string
}

// StageResult is one stage of a staged run (Config.Stages), with the
// histograms of the samples taken while it ran.
type StageResult struct {
	// Name is the stage's name (stage1, stage2, ... unless configured);
	// Index counts stages from 1.
	Name  string
	Index int
	// Start and End bound the stage, as offsets from the run's start.
	Start, End time.Duration
	// Conns, ConnectRate and MsgRate are the stage's targets, reached at
	// its end (linear from the previous stage's).
	Conns       int
	ConnectRate float64
	MsgRate     float64
	// OpenAtEnd is connections open at the stage's end; Established,
	// Closed, FramesSent, FramesReceived and Errors count what happened
	// during the stage.
	OpenAtEnd, Established, Closed, FramesSent, FramesReceived, Errors int64
	// Histograms hold the stage's samples, indexed by metrics.Metric.
	Histograms [metrics.NumMetrics]*hdr.Histogram
}

// StormResult is what a reconnect storm (Config.Storm) did.
type StormResult struct {
	// At is when the connections were dropped, as an offset from the run's start.
	At time.Duration
	// Dropped counts connections dropped abruptly (or, with a target
	// restart, those the restart cut); Reconnected those that came back.
	Dropped, Reconnected int64
	// Recovered is set when the run got back to full strength; BackToFull
	// is how long that took from the drop.
	Recovered  bool
	BackToFull time.Duration
	// TargetRestarted is set when the storm restarted the built-in target.
	TargetRestarted bool
	// TLSHandshake and ConnectTotal are the handshakes of the reconnecting
	// connections, from the drop until full strength (or the run's end).
	TLSHandshake, ConnectTotal *hdr.Histogram
	// Failed counts reconnect attempts that failed.
	Failed int64
}

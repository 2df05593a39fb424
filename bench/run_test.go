package bench

import (
	"context"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench/metrics"
)

// TestRunInProcess runs the engine as a library, with the built-in target in
// this process, and checks that the result adds up.
func TestRunInProcess(t *testing.T) {
	t.Parallel()
	cfg := Default()
	cfg.Conns, cfg.ConnectRate, cfg.Duration, cfg.MsgRate = 20, 0, Duration(600*time.Millisecond), 20
	var progress, intervals int
	opt := Options{Interval: 100 * time.Millisecond, Progress: func(Progress) { progress++ }, OnInterval: func(metrics.Interval) { intervals++ }}
	res := runSingle(t, cfg, opt)
	st := res.Stats
	if st.Established != 20 || st.Failed != 0 || len(st.Errors) != 0 {
		t.Fatalf("established %d failed %d errors %v", st.Established, st.Failed, st.Errors)
	}
	if !res.BuiltinTarget || !res.TargetInProcess {
		t.Fatalf("builtin %v in-process %v", res.BuiltinTarget, res.TargetInProcess)
	}
	// 20 conns × 20/s over the steady window, give or take one per
	// connection; a busy machine may stretch the window, never the schedule.
	_, steadyWall := res.PhaseWalls()
	most := int64(20*20*steadyWall.Seconds()) + 20
	if st.FramesReceived == 0 || st.FramesReceived > most || st.FramesReceived != st.FramesSent {
		t.Fatalf("frames sent %d received %d, want up to %d and all echoed", st.FramesSent, st.FramesReceived, most)
	}
	if got := res.Histograms[metrics.RTT].TotalCount(); got != st.FramesReceived {
		t.Fatalf("rtt count %d != frames received %d", got, st.FramesReceived)
	}
	if got := res.Histograms[metrics.TLSHandshake].TotalCount(); got != 20 {
		t.Fatalf("tls_handshake count %d, want 20", got)
	}
	if st.TLSVersions["TLS 1.3"] != 20 {
		t.Fatalf("versions %v", st.TLSVersions)
	}
	if progress == 0 {
		t.Fatal("Progress was never called")
	}
	// The target counted what the driver did.
	if cc := res.Crosscheck; cc == nil || !cc.OK || cc.TargetConnections != 20 || cc.TargetFrames != st.FramesReceived {
		t.Fatalf("crosscheck %+v, driver received %d", res.Crosscheck, st.FramesReceived)
	}
	checkTimeline(t, res, intervals)
	connect, steady := res.PhaseWalls()
	if connect <= 0 || steady < 600*time.Millisecond {
		t.Fatalf("phase walls connect %v steady %v", connect, steady)
	}
	if res.CPU.DriverByPhase.Steady <= 0 || res.CPU.DriverByPhase.Connect <= 0 {
		t.Fatalf("driver CPU by phase %+v", res.CPU.DriverByPhase)
	}
}

func TestRunRejectsBadInputBeforeLoad(t *testing.T) {
	t.Parallel()
	cfg := Default()
	cfg.Target = "wss://127.0.0.1:1/"
	cfg.CertKey = ""
	cfg.CAFile = "/nonexistent/ca.pem"
	_, err := cfg.Plan()
	if !IsInputError(err) {
		t.Fatalf("err = %v, want an input error for the CA file", err)
	}
}

// checkTimeline checks that the timeline has one point per collected interval
// and that its counters add up to the run's.
func checkTimeline(t *testing.T, res *Result, intervals int) {
	t.Helper()
	tl := res.Timeline
	if len(tl) == 0 || len(tl) != intervals {
		t.Fatalf("timeline has %d points, OnInterval was called %d times", len(tl), intervals)
	}
	var frames float64
	prev := time.Duration(0)
	for i, p := range tl {
		if p.At <= prev {
			t.Fatalf("point %d at %v, not after %v", i, p.At, prev)
		}
		frames += p.FramesPerSec * (p.At - prev).Seconds()
		prev = p.At
	}
	if last := tl[len(tl)-1]; last.Established != res.Stats.Established {
		t.Fatalf("last point says %d established, the run %d", last.Established, res.Stats.Established)
	}
	if got := int64(frames + 0.5); got != res.Stats.FramesReceived {
		t.Fatalf("frames/s over the timeline add up to %d, the run received %d", got, res.Stats.FramesReceived)
	}
	var withTLS int
	for _, p := range tl {
		if p.TLSHandshakeP50 > 0 {
			withTLS++
			if p.TLSHandshakeP99 < p.TLSHandshakeP50 {
				t.Fatalf("point %+v: p99 below p50", p)
			}
		}
	}
	if withTLS == 0 {
		t.Fatal("no timeline point has a TLS handshake latency")
	}
}

// runSingle plans and runs a one-cell config and returns its one Result.
func runSingle(t *testing.T, cfg Config, opt Options) *Result {
	t.Helper()
	p, err := cfg.Plan()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Run(context.Background(), p, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(s.Runs))
	}
	return s.Runs[0]
}

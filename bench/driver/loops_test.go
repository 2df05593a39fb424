package driver

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench/evloop"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// allocSites sums the objects allocated so far by stacks that pass through
// the loop's frame path (bench/driver, bench/evloop, bench/wsconn), split
// into those inside crypto (crypto/tls's own, and its ciphers) and the rest.
func allocSites() (ours, crypto int64) {
	runtime.GC()
	runtime.GC() // the profile is as of the last completed cycle
	n, _ := runtime.MemProfile(nil, true)
	recs := make([]runtime.MemProfileRecord, n+64)
	n, _ = runtime.MemProfile(recs, true)
	for _, r := range recs[:n] {
		var inPath, inCrypto bool
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			switch {
			case strings.Contains(f.Function, "crypto/"):
				inCrypto = true
			case strings.Contains(f.Function, "wssbench/bench/driver.(*loopConn)"),
				strings.Contains(f.Function, "wssbench/bench/evloop."),
				strings.Contains(f.Function, "wssbench/bench/wsconn."):
				inPath = true
			}
			if !more {
				break
			}
		}
		switch {
		case inPath && inCrypto:
			crypto += r.AllocObjects
		case inPath:
			ours += r.AllocObjects
		}
	}
	return ours, crypto
}

// TestLoopFramePathAllocatesNothing counts, with every allocation profiled,
// what the loops engine allocates per echoed frame over TLS during the
// steady phase: nothing of its own (crypto/tls's allocations, such as the
// reader it makes for each record read, are counted apart and reported).
func TestLoopFramePathAllocatesNothing(t *testing.T) {
	if !evloop.Supported {
		t.Skip("event loops need Linux")
	}
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old }()
	chain := newChain(t, tlsconf.CertOptions{})
	cfg := testConfig(startTarget(t, serverTLS(chain)), clientTLS(chain))
	cfg.Engine, cfg.Conns, cfg.MsgRate, cfg.Duration = EngineLoops, 4, 0, 600*time.Millisecond
	var d *Driver
	var ours0, crypto0, frames0 int64
	var ours1, crypto1, frames1 int64
	cfg.OnPhase = func(name string, _ time.Time) {
		switch name {
		case PhaseSteady:
			// The loops are about to start; what they allocate from here is the frame path.
			ours0, crypto0 = allocSites()
			frames0 = d.received.Load()
		case PhaseClose:
			frames1 = d.received.Load()
			ours1, crypto1 = allocSites()
		}
	}
	var err error
	if d, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	st := d.Run(t.Context())
	frames := frames1 - frames0
	if frames < 100 || len(st.Errors) != 0 {
		t.Fatalf("%d frames in the steady phase, errors %v: too few to count", frames, st.Errors)
	}
	perFrame := float64(ours1-ours0) / float64(frames)
	t.Logf("%d frames: %.3f allocations per frame of the loop's own, %.3f inside crypto", frames,
		perFrame, float64(crypto1-crypto0)/float64(frames))
	// The steady-start posts allocate a few objects per connection, once;
	// per frame the path must allocate nothing (thousands of frames here).
	if ours1-ours0 > int64(8*cfg.Conns) {
		t.Fatalf("the loop's frame path allocated %d objects over %d frames (%.3f per frame), want none per frame",
			ours1-ours0, frames, perFrame)
	}
}

// BenchmarkLoopEcho is the loops engine's frame path: one connection,
// closed loop, 64-byte text frames over TLS (and over ws://) to the
// in-process target; one op is one echoed frame. Its allocations are the
// whole round trip's in this process (crypto/tls's on both sides, and the
// target's), which TestLoopFramePathAllocatesNothing splits.
func BenchmarkLoopEcho(b *testing.B) {
	if !evloop.Supported {
		b.Skip("event loops need Linux")
	}
	chain := newChain(b, tlsconf.CertOptions{})
	for _, tc := range []struct {
		name string
		cfg  *Config
	}{
		{"wss", testConfig(startTarget(b, serverTLS(chain)), clientTLS(chain))},
		{"ws", testConfig(startTarget(b, nil), nil)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := tc.cfg
			cfg.Engine, cfg.Conns, cfg.MsgRate, cfg.Duration = EngineLoops, 1, 0, time.Hour
			var d *Driver
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			steady := make(chan struct{})
			cfg.OnPhase = func(name string, _ time.Time) {
				if name == PhaseSteady {
					close(steady)
				}
			}
			var err error
			if d, err = New(cfg); err != nil {
				b.Fatal(err)
			}
			done := make(chan *Stats)
			go func() { done <- d.Run(ctx) }()
			<-steady
			b.ReportAllocs()
			b.ResetTimer()
			start := d.received.Load()
			for d.received.Load()-start < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			cancel()
			if st := <-done; len(st.Errors) != 0 {
				b.Fatalf("errors %v", st.Errors)
			}
		})
	}
}

package driver

import (
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/bench/pace"
	"github.com/wssbench/wssbench/bench/tlsconf"
	"github.com/wssbench/wssbench/bench/wsconn"

	"github.com/gobwas/ws"
)

// checkCleanSteady asserts a steady run with no failure of any kind.
func checkCleanSteady(t *testing.T, cfg *Config, st *Stats, d *Driver) {
	t.Helper()
	failOnKickRace(t, cfg, st)
	n := int64(cfg.Conns)
	if st.Attempted != n || st.Established != n || st.Failed != 0 {
		t.Errorf("attempted/established/failed = %d/%d/%d, want %d/%d/0", st.Attempted, st.Established, st.Failed, n, n)
	}
	if len(st.Errors) != 0 {
		t.Errorf("errors: %s, want none", errorsOf(st))
	}
	if st.Interrupted {
		t.Error("Interrupted is set on a run that ended by itself")
	}
	if st.FramesSent < n {
		t.Errorf("FramesSent = %d, want at least one per connection (%d)", st.FramesSent, n)
	}
	if st.FramesReceived != st.FramesSent || st.FramesLost != 0 {
		t.Errorf("frames sent/received/lost = %d/%d/%d, want every frame echoed", st.FramesSent, st.FramesReceived, st.FramesLost)
	}
	if got := count(d, metrics.RTT); got != st.FramesReceived {
		t.Errorf("ws_rtt count = %d, want FramesReceived = %d", got, st.FramesReceived)
	}
	if got := count(d, metrics.RTTUncorrected); got != st.FramesReceived {
		t.Errorf("ws_rtt_uncorrected count = %d, want FramesReceived = %d", got, st.FramesReceived)
	}
	for _, m := range []metrics.Metric{metrics.TCPConnect, metrics.WSUpgrade, metrics.ConnectTotal} {
		if got := count(d, m); got != n {
			t.Errorf("%s count = %d, want %d", m.Name(), got, n)
		}
	}
	if st.ClosedClean != n {
		t.Errorf("ClosedClean = %d, want %d", st.ClosedClean, n)
	}
	if st.PeakConcurrent < 1 || st.PeakConcurrent > n {
		t.Errorf("PeakConcurrent = %d, want 1..%d", st.PeakConcurrent, n)
	}
	var names []string
	for _, p := range st.Phases {
		names = append(names, p.Name)
	}
	if want := []string{"connect", "steady", "close", "done"}; !equalStrings(names, want) {
		t.Errorf("phases = %v, want %v", names, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSteadyAgainstTarget(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	wss := startTarget(t, serverTLS(chain))
	plain := startTarget(t, nil)
	cases := []struct {
		name    string
		tls     bool
		msgRate float64
		binary  bool
		payload int
	}{
		{name: "wss/open-loop/text", tls: true, msgRate: 50, payload: 64},
		{name: "wss/open-loop/binary", tls: true, msgRate: 50, binary: true, payload: 64},
		{name: "wss/closed-loop/text", tls: true, payload: 32},
		{name: "wss/closed-loop/binary", tls: true, binary: true, payload: 16},
		{name: "wss/open-loop/large-binary", tls: true, msgRate: 20, binary: true, payload: 20000},
		{name: "ws/open-loop/text", msgRate: 50, payload: 64},
		{name: "ws/closed-loop/binary", binary: true, payload: 128},
	}
	for _, engine := range EngineNames() {
		for _, tc := range cases {
			t.Run(engine+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				cfg := testConfig(plain, nil)
				if tc.tls {
					cfg = testConfig(wss, clientTLS(chain))
				}
				cfg.Engine = Engine(engine)
				cfg.MsgRate, cfg.Binary, cfg.PayloadBytes = tc.msgRate, tc.binary, tc.payload
				st, d := runDriver(t, cfg)
				checkCleanSteady(t, cfg, st, d)
				n := int64(cfg.Conns)
				if tc.msgRate > 0 {
					// 300 ms at 50/s is 15 frames per connection; allow for timer slack.
					want := int64(tc.msgRate*cfg.Duration.Seconds()) * n
					if st.FramesSent < want/2 || st.FramesSent > want+n {
						t.Errorf("open loop sent %d frames, want about %d", st.FramesSent, want)
					}
					if got := count(d, metrics.SendLag); got == 0 {
						t.Error("open loop recorded no send_lag samples")
					}
				}
				if !tc.tls {
					if st.Handshakes != 0 || len(st.TLSVersions) != 0 || count(d, metrics.TLSHandshake) != 0 {
						t.Errorf("ws:// run counted TLS: handshakes %d, versions %v", st.Handshakes, st.TLSVersions)
					}
					return
				}
				if st.Handshakes != n || st.TLSVersions["TLS 1.3"] != n || len(st.TLSVersions) != 1 {
					t.Errorf("handshakes %d, versions %v, want %d of TLS 1.3", st.Handshakes, st.TLSVersions, n)
				}
				if got := count(d, metrics.TLSHandshake); got != n {
					t.Errorf("tls_handshake count = %d, want %d", got, n)
				}
				if st.HandshakeBytesIn <= 0 || st.HandshakeBytesOut <= 0 {
					t.Errorf("handshake bytes in/out = %d/%d, want both positive", st.HandshakeBytesIn, st.HandshakeBytesOut)
				}
				var suites int64
				for _, v := range st.CipherSuites {
					suites += v
				}
				if suites != n {
					t.Errorf("cipher suites %v count %d, want %d", st.CipherSuites, suites, n)
				}
			})
		}
	}
}

func TestHoldAgainstTarget(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	u := startTarget(t, serverTLS(chain))
	cfg := testConfig(u, clientTLS(chain))
	cfg.Mode, cfg.Conns = ModeHold, 10
	start := time.Now()
	st, _ := runDriver(t, cfg)
	if elapsed := time.Since(start); elapsed < cfg.Duration {
		t.Errorf("hold run took %v, shorter than its Duration %v", elapsed, cfg.Duration)
	}
	n := int64(cfg.Conns)
	if st.Established != n || st.Failed != 0 || len(st.Errors) != 0 {
		t.Errorf("established %d failed %d errors %s, want %d/0/none", st.Established, st.Failed, errorsOf(st), n)
	}
	if st.FramesSent != 0 || st.FramesReceived != 0 {
		t.Errorf("hold sent %d / received %d frames, want none", st.FramesSent, st.FramesReceived)
	}
	if st.PeakConcurrent > n {
		t.Errorf("PeakConcurrent = %d, more than the %d connections", st.PeakConcurrent, n)
	}
	if st.PeakConcurrent < n {
		// Checked last: the rest of the run is asserted above.
		t.Errorf("all %d connections were held at once but PeakConcurrent = %d", n, st.PeakConcurrent)
	}
	if st.ClosedClean != n {
		t.Errorf("ClosedClean = %d, want %d", st.ClosedClean, n)
	}
	if st.TLSVersions["TLS 1.3"] != n {
		t.Errorf("TLS versions %v, want %d of TLS 1.3", st.TLSVersions, n)
	}
}

func TestStormAgainstTarget(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	cases := []struct {
		name   string
		tls    bool
		binary bool
	}{
		{name: "wss/text", tls: true},
		{name: "wss/binary", tls: true, binary: true},
		{name: "ws/text"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cfg *Config
			if tc.tls {
				cfg = testConfig(startTarget(t, serverTLS(chain)), clientTLS(chain))
			} else {
				cfg = testConfig(startTarget(t, nil), nil)
			}
			// 100 attempts a second for 300 ms: about 30 connections over 3 workers.
			cfg.Mode, cfg.Conns, cfg.Arrival, cfg.Binary = ModeStorm, 3, pace.Constant{Rate: 100}, tc.binary
			st, d := runDriver(t, cfg)
			if st.Established <= int64(cfg.Conns) {
				t.Errorf("storm established %d, want more than its %d workers", st.Established, cfg.Conns)
			}
			if st.Established > 40 {
				t.Errorf("storm established %d, more than the arrival schedule allows (~30)", st.Established)
			}
			if st.Attempted != st.Established || st.Failed != 0 || len(st.Errors) != 0 {
				t.Errorf("attempted %d established %d failed %d errors %s", st.Attempted, st.Established, st.Failed, errorsOf(st))
			}
			if st.FramesSent != st.Established || st.FramesReceived != st.FramesSent || st.FramesLost != 0 {
				t.Errorf("frames sent/received/lost = %d/%d/%d, want one echo per connection (%d)",
					st.FramesSent, st.FramesReceived, st.FramesLost, st.Established)
			}
			if got := count(d, metrics.RTT); got != st.FramesReceived {
				t.Errorf("ws_rtt count = %d, want %d", got, st.FramesReceived)
			}
			if got := count(d, metrics.ConnectTotal); got != st.Established {
				t.Errorf("connect_total count = %d, want %d", got, st.Established)
			}
			if st.ClosedClean != st.Established {
				t.Errorf("ClosedClean = %d, want %d", st.ClosedClean, st.Established)
			}
			if st.PeakConcurrent > int64(cfg.Conns) {
				t.Errorf("PeakConcurrent = %d, more than %d workers", st.PeakConcurrent, cfg.Conns)
			}
			if !tc.tls {
				return
			}
			if st.Handshakes != st.Established || st.TLSVersions["TLS 1.3"] != st.Established {
				t.Errorf("handshakes %d, versions %v, want every one of %d counted", st.Handshakes, st.TLSVersions, st.Established)
			}
			if got := count(d, metrics.TLSHandshake); got != st.Established {
				t.Errorf("tls_handshake count = %d, want %d", got, st.Established)
			}
		})
	}
}

// TestStormUnpacedEnds runs a storm with an unpaced arrival schedule (a
// connect rate of 0, "as fast as possible") and checks it still ends at its
// Duration. The fake echo server serves only the first 20 connections and
// stalls the rest, so the test opens few connections even if the storm never
// stops on its own.
func TestStormUnpacedEnds(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	var accepted atomic.Int64
	addr := startFake(t, nil, func(c net.Conn, done <-chan struct{}) {
		if accepted.Add(1) > 20 {
			<-done
			return
		}
		sc := tls.Server(c, serverTLS(chain))
		defer sc.Close()
		if _, err := ws.Upgrade(sc); err != nil {
			return
		}
		echo(wsconn.New(sc, wsconn.Options{}), nil)
	})
	cfg := testConfig(mustURL(t, "wss://"+addr+"/"), clientTLS(chain))
	cfg.Mode, cfg.Conns, cfg.Arrival = ModeStorm, 1, pace.Constant{}
	cfg.Duration, cfg.ConnectTimeout = 200*time.Millisecond, 300*time.Millisecond
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	st := d.Run(ctx)
	if st.Interrupted {
		t.Fatalf("an unpaced storm ran until ctx ended (ran %v, Duration %v, %d attempts)",
			time.Since(start).Round(time.Millisecond), cfg.Duration, st.Attempted)
	}
	if st.Established < 1 {
		t.Errorf("unpaced storm established nothing: %s", errorsOf(st))
	}
	if elapsed := time.Since(start); elapsed > cfg.Duration+cfg.ConnectTimeout+time.Second {
		t.Errorf("unpaced storm took %v, want about Duration %v", elapsed, cfg.Duration)
	}
}

// echo is a fake target's echo loop; change, if set, alters each payload
// before it is sent back.
func echo(c *wsconn.Conn, change func(p []byte)) {
	for {
		h, p, err := c.ReadFrame()
		if err != nil {
			// A close frame was answered by ReadFrame; anything else ends the connection.
			return
		}
		if change != nil {
			change(p)
		}
		if err := c.WriteFrame(h.OpCode, h.Fin, p); err != nil {
			return
		}
	}
}

func TestInterruptedSteady(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	u := startTarget(t, serverTLS(chain))
	cases := []struct {
		name    string
		msgRate float64
	}{
		{name: "open-loop", msgRate: 50},
		{name: "closed-loop"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg := testConfig(u, clientTLS(chain))
			cfg.Conns, cfg.MsgRate, cfg.Duration = 8, tc.msgRate, 5*time.Second
			cfg.OnPhase = func(name string, _ time.Time) {
				if name == "steady" {
					time.AfterFunc(150*time.Millisecond, cancel)
				}
			}
			d, err := New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			start := time.Now()
			st := d.Run(ctx)
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("interrupted run took %v to return, want well under its 5s Duration", elapsed)
			}
			if !st.Interrupted {
				t.Error("Interrupted not set after cancelling the context")
			}
			failOnKickRace(t, cfg, st)
			n := int64(cfg.Conns)
			if st.Established != n || st.Failed != 0 {
				t.Errorf("established %d failed %d, want %d/0", st.Established, st.Failed, n)
			}
			if len(st.Errors) != 0 {
				t.Errorf("the interruption was counted as errors: %s", errorsOf(st))
			}
			if st.FramesSent == 0 {
				t.Error("no frames were sent before the interruption")
			}
			if st.FramesReceived+st.FramesLost != st.FramesSent {
				t.Errorf("frames sent %d != received %d + lost %d", st.FramesSent, st.FramesReceived, st.FramesLost)
			}
			if st.FramesLost > n {
				t.Errorf("FramesLost = %d, want at most one in flight per connection (%d)", st.FramesLost, n)
			}
			if st.ClosedClean != n {
				t.Errorf("ClosedClean = %d, want every connection (%d) closed cleanly", st.ClosedClean, n)
			}
			if p := d.Progress(); p.Open != 0 {
				t.Errorf("Progress().Open = %d after Run, want 0", p.Open)
			}
		})
	}
}

func TestInterruptedDuringConnect(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	u := startTarget(t, serverTLS(chain))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(200*time.Millisecond, cancel)
	cfg := testConfig(u, clientTLS(chain))
	// 20 connections at 10 a second: the ramp is cut short after about 2.
	cfg.Conns, cfg.Arrival, cfg.Duration = 20, pace.Constant{Rate: 10}, 5*time.Second
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	st := d.Run(ctx)
	if !st.Interrupted {
		t.Error("Interrupted not set")
	}
	if st.Attempted >= int64(cfg.Conns) {
		t.Errorf("attempted %d, want the ramp cut short", st.Attempted)
	}
	if len(st.Errors) != 0 {
		t.Errorf("errors %s, want none for an interruption", errorsOf(st))
	}
	if st.ClosedClean != st.Established {
		t.Errorf("ClosedClean = %d, want every established connection (%d)", st.ClosedClean, st.Established)
	}
	if st.FramesSent != 0 {
		t.Errorf("FramesSent = %d before steady state began", st.FramesSent)
	}
	for _, p := range st.Phases {
		if p.Name == "steady" {
			t.Error("a run interrupted during its ramp marked a steady phase")
		}
	}
}

// fixedSchedule puts the first arrival at 0 and every later one at rest.
type fixedSchedule struct{ rest time.Duration }

func (s *fixedSchedule) At(i int64) time.Duration {
	if i == 0 {
		return 0
	}
	return s.rest
}

// TestInterruptedByDeadline ends runs with a context deadline that falls just
// as connections are dialed: a dial cut by the run's own deadline is the
// interruption, not a dial_timeout of the target.
func TestInterruptedByDeadline(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	u := startTarget(t, serverTLS(chain))
	for i := 0; i < 10; i++ {
		deadline := time.Now().Add(30 * time.Millisecond)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		sch := &fixedSchedule{}
		cfg := testConfig(u, clientTLS(chain))
		cfg.Conns, cfg.Arrival, cfg.Duration = 4, sch, 5*time.Second
		cfg.OnPhase = func(name string, at time.Time) {
			if name == "connect" {
				// Runs on the Run goroutine before the ramp reads the schedule.
				sch.rest = deadline.Sub(at)
			}
		}
		d, err := New(cfg)
		if err != nil {
			cancel()
			t.Fatalf("New: %v", err)
		}
		st := d.Run(ctx)
		cancel()
		if !st.Interrupted {
			t.Fatalf("run %d: Interrupted not set", i)
		}
		if n := st.Errors[ErrDialTimeout]; n > 0 && len(st.Errors) == 1 {
			t.Fatalf("an interruption by the context's deadline was counted as dial_timeout=%d (%s)",
				n, st.ErrorSamples[ErrDialTimeout])
		}
		if len(st.Errors) != 0 {
			t.Fatalf("run %d: errors %s, want none for an interruption", i, errorsOf(st))
		}
		if st.ClosedClean != st.Established {
			t.Fatalf("run %d: ClosedClean = %d, want %d", i, st.ClosedClean, st.Established)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	u := mustURL(t, "ws://127.0.0.1:1/")
	cases := []struct {
		name string
		cfg  Config
	}{
		{name: "no-url", cfg: Config{Conns: 1, PayloadBytes: 64}},
		{name: "no-conns", cfg: Config{URL: u, PayloadBytes: 64}},
		{name: "text-payload-too-small", cfg: Config{URL: u, Conns: 1, PayloadBytes: 31}},
		{name: "binary-payload-too-small", cfg: Config{URL: u, Conns: 1, PayloadBytes: 15, Binary: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(&tc.cfg); err == nil {
				t.Errorf("New accepted %+v", tc.cfg)
			}
		})
	}
}

// TestConnectTimeoutZero checks that a Config without a ConnectTimeout can
// connect: New fills in FrameTimeout and CloseTimeout, and net.Dialer treats a
// zero Timeout as no limit.
func TestConnectTimeoutZero(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	u := startTarget(t, serverTLS(chain))
	cfg := testConfig(u, clientTLS(chain))
	cfg.ConnectTimeout, cfg.Conns, cfg.Mode = 0, 2, ModeHold
	st, _ := runDriver(t, cfg)
	if st.Established != int64(cfg.Conns) {
		t.Fatalf("ConnectTimeout 0 must mean the default: established %d of %d, errors %s", st.Established, cfg.Conns, errorsOf(st))
	}
}

// TestSteadyStartKick repeats short steady runs of many connections to catch
// the steady-start kick race (see failOnKickRace); it is timing dependent and
// shows up more often under load (-race, -parallel).
func TestSteadyStartKick(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	u := startTarget(t, serverTLS(chain))
	for i := 0; i < 5; i++ {
		cfg := testConfig(u, clientTLS(chain))
		cfg.Conns, cfg.Duration = 50, 100*time.Millisecond
		st, _ := runDriver(t, cfg)
		failOnKickRace(t, cfg, st)
		if len(st.Errors) != 0 || st.FramesLost != 0 {
			t.Fatalf("run %d: errors %s, lost %d", i, errorsOf(st), st.FramesLost)
		}
	}
}

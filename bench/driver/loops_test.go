package driver

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/evloop"
	"github.com/wssbench/wssbench/bench/tlsconf"
	"github.com/wssbench/wssbench/bench/wsconn"
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

// TestFramesSentWithThe101 is a server that sends a ping in the same write as
// its 101: the driver must answer it at once, in hold mode too (where it
// sends nothing else), on either engine.
func TestFramesSentWithThe101(t *testing.T) {
	t.Parallel()
	for _, engine := range EngineNames() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ponged := make(chan struct{}, 1)
			addr := startFake(t, nil, func(c net.Conn, _ <-chan struct{}) {
				req, br, err := readRequest(c)
				if err != nil {
					return
				}
				sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
				resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
					base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
				ping := []byte{0x89, 0x04, 'p', 'i', 'n', 'g'} // unmasked, FIN, ping "ping"
				if _, err := c.Write(append([]byte(resp), ping...)); err != nil {
					return
				}
				wc := wsconn.New(c, wsconn.Options{Reader: br})
				for {
					h, err := ws.ReadHeader(br)
					if err != nil {
						return
					}
					payload := make([]byte, h.Length)
					if _, err := io.ReadFull(br, payload); err != nil {
						return
					}
					ws.Cipher(payload, h.Mask, 0)
					if h.OpCode == ws.OpPong && string(payload) == "ping" {
						ponged <- struct{}{}
					}
					if h.OpCode == ws.OpClose {
						_ = wc.WriteFrame(ws.OpClose, true, payload)
						return
					}
				}
			})
			cfg := testConfig(mustURL(t, "ws://"+addr+"/"), nil)
			cfg.Engine, cfg.Mode, cfg.Conns, cfg.Duration = Engine(engine), ModeHold, 1, 2*time.Second
			done := make(chan *Stats, 1)
			go func() { st, _ := runDriver(t, cfg); done <- st }()
			select {
			case <-ponged:
			case <-time.After(1500 * time.Millisecond):
				t.Fatal("the ping sent with the 101 was not answered during the hold")
			}
			if st := <-done; st.Established != 1 || len(st.Errors) != 0 {
				t.Fatalf("established %d, errors %v", st.Established, st.Errors)
			}
		})
	}
}

package builtin

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/target"
	"github.com/wssbench/wssbench/bench/tlsconf"
	"github.com/wssbench/wssbench/bench/wsconn"
)

// builtinTestLimit bounds every wait in these tests; reaching it is a hang.
const builtinTestLimit = 10 * time.Second

// builtinEnv is a proxy on 127.0.0.1:0 with a fresh chain, serving until
// stop is called or the test ends.
type builtinEnv struct {
	proxy  *Server
	chain  *tlsconf.Chain
	stop   context.CancelFunc
	served chan error
}

// builtinStartTarget runs the built-in echo target (plain ws://) on
// 127.0.0.1:0 until the test ends and returns its host:port.
func builtinStartTarget(tb testing.TB, listen string) (string, error) {
	tb.Helper()
	srv, err := target.Listen(target.Config{Listen: listen})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				tb.Errorf("target Serve: %v", err)
			}
		case <-time.After(builtinTestLimit):
			tb.Errorf("target Serve did not return within %v", builtinTestLimit)
		}
	})
	return srv.Addr().String(), nil
}

// builtinStart runs a proxy in front of backend.
func builtinStart(tb testing.TB, backend string, delay time.Duration) *builtinEnv {
	tb.Helper()
	chain, err := tlsconf.NewChain(tlsconf.CertOptions{})
	if err != nil {
		tb.Fatalf("tlsconf.NewChain: %v", err)
	}
	s, err := Listen(Config{
		Listen:  "127.0.0.1:0",
		Backend: backend,
		TLS:     &tls.Config{Certificates: []tls.Certificate{chain.Leaf}},
		Delay:   delay,
	})
	if err != nil {
		tb.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &builtinEnv{proxy: s, chain: chain, stop: cancel, served: make(chan error, 1)}
	go func() { e.served <- s.Serve(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := e.wait(); err != nil {
			tb.Errorf("proxy Serve: %v", err)
		}
	})
	return e
}

// builtinStartEcho runs the echo target and a proxy in front of it.
func builtinStartEcho(tb testing.TB, delay time.Duration) *builtinEnv {
	tb.Helper()
	backend, err := builtinStartTarget(tb, "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("target.Listen: %v", err)
	}
	return builtinStart(tb, backend, delay)
}

// wait returns Serve's result once it has returned (again is fine).
func (e *builtinEnv) wait() error {
	select {
	case err, ok := <-e.served:
		if ok {
			close(e.served)
		}
		return err
	case <-time.After(builtinTestLimit):
		return fmt.Errorf("Serve did not return within %v", builtinTestLimit)
	}
}

// dialTLS connects to the proxy and completes the TLS handshake; the
// connection's deadline is builtinTestLimit from now.
func (e *builtinEnv) dialTLS() (*tls.Conn, error) { return e.dialTLSVersion(0) }

// dialTLSVersion is dialTLS with a highest TLS version (0: the default).
func (e *builtinEnv) dialTLSVersion(maxVersion uint16) (*tls.Conn, error) {
	raw, err := net.DialTimeout("tcp", e.proxy.Addr().String(), builtinTestLimit)
	if err != nil {
		return nil, err
	}
	if err := raw.SetDeadline(time.Now().Add(builtinTestLimit)); err != nil {
		raw.Close()
		return nil, err
	}
	tc := tls.Client(raw, &tls.Config{RootCAs: e.chain.Pool(), ServerName: "localhost", MaxVersion: maxVersion})
	if err := tc.Handshake(); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// upgrade performs the WebSocket upgrade over tc through the proxy.
func (e *builtinEnv) upgrade(tc *tls.Conn) (*wsconn.Conn, error) {
	u, err := url.Parse(e.proxy.URL())
	if err != nil {
		return nil, err
	}
	br, _, err := ws.Dialer{}.Upgrade(tc, u)
	if err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	o := wsconn.Options{Client: true}
	if br != nil {
		o.Reader = br
	}
	return wsconn.New(tc, o), nil
}

// dial opens a WebSocket client connection through the proxy.
func (e *builtinEnv) dial(tb testing.TB) *wsconn.Conn {
	tb.Helper()
	tc, err := e.dialTLS()
	if err != nil {
		tb.Fatal(err)
	}
	c, err := e.upgrade(tc)
	if err != nil {
		tc.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.NetConn().Close() })
	return c
}

// live returns how many connections (client and backend sides) the proxy holds.
func (s *Server) builtinLive() int { return s.ln.Live() }

// waitLive waits until the proxy holds want connections.
func (e *builtinEnv) waitLive(want int) error {
	deadline := time.Now().Add(builtinTestLimit)
	for {
		n := e.proxy.builtinLive()
		if n == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("proxy holds %d connections after %v, want %d", n, builtinTestLimit, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// builtinEcho writes msg and checks that the same message comes back.
func builtinEcho(c *wsconn.Conn, op ws.OpCode, msg []byte) error {
	if err := c.WriteMessage(op, msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	h, p, err := c.ReadFrame()
	if err != nil {
		return fmt.Errorf("read echo: %w", err)
	}
	if h.OpCode != op || !h.Fin || !bytes.Equal(p, msg) {
		return fmt.Errorf("echo is opcode %v fin %v, %d bytes; want opcode %v, %d bytes, same content",
			h.OpCode, h.Fin, len(p), op, len(msg))
	}
	return nil
}

// builtinPattern returns n bytes that differ between neighbours and seeds.
func builtinPattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7) ^ seed
	}
	return p
}

func TestBuiltinListenRejects(t *testing.T) {
	t.Parallel()
	good := &tls.Config{}
	cases := []struct {
		name string
		cfg  Config
	}{
		{"no TLS", Config{Listen: "127.0.0.1:0", Backend: "127.0.0.1:1"}},
		{"no backend", Config{Listen: "127.0.0.1:0", TLS: good}},
		{"backend without port", Config{Listen: "127.0.0.1:0", Backend: "localhost", TLS: good}},
		{"negative delay", Config{Listen: "127.0.0.1:0", Backend: "127.0.0.1:1", TLS: good, Delay: -time.Millisecond}},
		{"bad listen address", Config{Listen: "127.0.0.1:-1", Backend: "127.0.0.1:1", TLS: good}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Listen(tc.cfg)
			if err == nil {
				s.ln.Shutdown(time.Second)
				t.Fatalf("Listen(%+v) succeeded, want an error", tc.cfg)
			}
		})
	}
}

func TestBuiltinURL(t *testing.T) {
	t.Parallel()
	e := builtinStartEcho(t, 0)
	want := "wss://" + e.proxy.Addr().String() + "/"
	if got := e.proxy.URL(); got != want {
		t.Fatalf("URL() = %q, want %q", got, want)
	}
}

func TestBuiltinEcho(t *testing.T) {
	t.Parallel()
	for _, delay := range []time.Duration{0, time.Millisecond} {
		e := builtinStartEcho(t, delay)
		cases := []struct {
			name string
			op   ws.OpCode
			msg  []byte
		}{
			{"text", ws.OpText, []byte("hello through the proxy")},
			{"binary", ws.OpBinary, builtinPattern(1000, 0x5a)},
			{"empty", ws.OpBinary, nil},
			{"binary 100KB", ws.OpBinary, builtinPattern(100_000, 0x33)},
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("delay %v/%s", delay, tc.name), func(t *testing.T) {
				t.Parallel()
				c := e.dial(t)
				for i := range 3 {
					if err := builtinEcho(c, tc.op, tc.msg); err != nil {
						t.Fatalf("echo %d: %v", i, err)
					}
				}
				if !c.Close(ws.StatusNormalClosure, builtinTestLimit) {
					t.Fatal("close handshake did not complete through the proxy")
				}
			})
		}
	}
}

func TestBuiltinConcurrentConnections(t *testing.T) {
	t.Parallel()
	const conns, echoes = 20, 20
	e := builtinStartEcho(t, 0)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Go(func() {
			tc, err := e.dialTLS()
			if err != nil {
				errs <- err
				return
			}
			c, err := e.upgrade(tc)
			if err != nil {
				tc.Close()
				errs <- err
				return
			}
			defer c.NetConn().Close()
			for j := range echoes {
				msg := builtinPattern(64+i*100+j, byte(i))
				if err := builtinEcho(c, ws.OpBinary, msg); err != nil {
					errs <- fmt.Errorf("connection %d, echo %d: %w", i, j, err)
					return
				}
			}
			if !c.Close(ws.StatusNormalClosure, builtinTestLimit) {
				errs <- fmt.Errorf("connection %d: close handshake did not complete", i)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := e.waitLive(0); err != nil {
		t.Error(err)
	}
}

// TestBuiltinConnectionEnds checks that the proxy lets go of both sides when
// the client closes, with or without the WebSocket close handshake.
func TestBuiltinConnectionEnds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		delay time.Duration
		end   func(t *testing.T, c *wsconn.Conn)
	}{
		{"close handshake", 0, func(t *testing.T, c *wsconn.Conn) {
			if !c.Close(ws.StatusNormalClosure, builtinTestLimit) {
				t.Fatal("close handshake did not complete through the proxy")
			}
		}},
		{"close handshake with delay", 5 * time.Millisecond, func(t *testing.T, c *wsconn.Conn) {
			if !c.Close(ws.StatusNormalClosure, builtinTestLimit) {
				t.Fatal("close handshake did not complete through the proxy")
			}
		}},
		{"client closes TLS", 0, func(t *testing.T, c *wsconn.Conn) {
			if err := c.NetConn().Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{"client resets TCP", 0, func(t *testing.T, c *wsconn.Conn) {
			raw := c.NetConn().(*tls.Conn).NetConn().(*net.TCPConn)
			if err := raw.SetLinger(0); err != nil {
				t.Fatal(err)
			}
			if err := raw.Close(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := builtinStartEcho(t, tc.delay)
			c := e.dial(t)
			if err := builtinEcho(c, ws.OpText, []byte("before the end")); err != nil {
				t.Fatal(err)
			}
			if n := e.proxy.builtinLive(); n != 2 {
				t.Fatalf("proxy holds %d connections during the echo, want 2 (client and backend)", n)
			}
			tc.end(t, c)
			if err := e.waitLive(0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBuiltinHalfClose checks that a client's close_notify reaches the backend
// as a half-close, and that the backend's reply after it still reaches the
// client, followed by the end of the stream.
func TestBuiltinHalfClose(t *testing.T) {
	t.Parallel()
	for _, delay := range []time.Duration{0, 5 * time.Millisecond} {
		t.Run(fmt.Sprintf("delay %v", delay), func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			backendErr := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					backendErr <- err
					return
				}
				defer c.Close()
				if err := c.SetDeadline(time.Now().Add(builtinTestLimit)); err != nil {
					backendErr <- err
					return
				}
				got, err := io.ReadAll(c) // until the proxy half-closes
				if err != nil {
					backendErr <- err
					return
				}
				_, err = c.Write(append([]byte("got:"), got...))
				backendErr <- err
			}()
			e := builtinStart(t, ln.Addr().String(), delay)
			tc, err := e.dialTLS()
			if err != nil {
				t.Fatal(err)
			}
			defer tc.Close()
			if _, err := tc.Write([]byte("request")); err != nil {
				t.Fatal(err)
			}
			if err := tc.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			reply, err := io.ReadAll(tc)
			if err != nil {
				t.Fatalf("reading the reply: %v", err)
			}
			if string(reply) != "got:request" {
				t.Fatalf("reply %q, want %q", reply, "got:request")
			}
			if err := <-backendErr; err != nil {
				t.Fatalf("backend: %v", err)
			}
			if err := e.waitLive(0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBuiltinDelay checks what the delay adds to one echo, to pipelined
// frames and to the upgrade. The delay is long beside a busy machine's
// scheduling noise (tens of ms), so the bounds hold without a quiet machine.
func TestBuiltinDelay(t *testing.T) {
	t.Parallel()
	const delay = 100 * time.Millisecond
	const rtt = 2 * delay
	e := builtinStartEcho(t, delay)
	tc, err := e.dialTLS()
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	start := time.Now()
	c, err := e.upgrade(tc)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < rtt {
		t.Errorf("upgrade took %v, want at least one round trip (%v)", d, rtt)
	}

	t.Run("one round trip", func(t *testing.T) {
		start := time.Now()
		if err := builtinEcho(c, ws.OpBinary, builtinPattern(100, 1)); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		if d < rtt || d >= 10*rtt {
			t.Fatalf("echo round trip took %v, want between %v and %v", d, rtt, 10*rtt)
		}
	})

	t.Run("pipelined", func(t *testing.T) {
		const frames = 10
		start := time.Now()
		for i := range frames {
			if err := c.WriteMessage(ws.OpBinary, []byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range frames {
			_, p, err := c.ReadFrame()
			if err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			if len(p) != 1 || p[0] != byte(i) {
				t.Fatalf("frame %d came back as %v: out of order", i, p)
			}
		}
		// Pipelined, the frames come back about one round trip after the
		// first was sent; a proxy that delays each chunk behind the one
		// before needs frames × delay (200 ms) in each direction.
		d, most := time.Since(start), frames*delay*3/4
		if d < rtt || d >= most {
			t.Fatalf("%d frames back to back took %v, want between %v and %v (pipelined)", frames, d, rtt, most)
		}
	})

	if !c.Close(ws.StatusNormalClosure, builtinTestLimit) {
		t.Fatal("close handshake did not complete through the delaying proxy")
	}
}

// TestBuiltinDelayHandshake checks that with Delay the TLS handshake costs its
// round trips: one for TLS 1.3, two for TLS 1.2. A round trip of 500 ms leaves
// a busy machine 500 ms of noise before one more round trip would be counted
// (a loaded CI machine once took 409 ms more than a 300 ms round trip).
func TestBuiltinDelayHandshake(t *testing.T) {
	t.Parallel()
	const delay = 250 * time.Millisecond
	const rtt = 2 * delay
	e := builtinStartEcho(t, delay)
	cases := []struct {
		name       string
		maxVersion uint16
		roundTrips int
	}{
		{"TLS 1.3", tls.VersionTLS13, 1},
		{"TLS 1.2", tls.VersionTLS12, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			c, err := e.dialTLSVersion(tc.maxVersion)
			if err != nil {
				t.Fatal(err)
			}
			d := time.Since(start)
			defer c.Close()
			t.Logf("handshake: %v", d)
			least := time.Duration(tc.roundTrips) * rtt
			most := least + rtt
			if d < least || d >= most {
				t.Fatalf("handshake took %v, want %d round trips (between %v and %v)", d, tc.roundTrips, least, most)
			}
			wc, err := e.upgrade(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := builtinEcho(wc, ws.OpText, []byte("after the handshake")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBuiltinBackendDown(t *testing.T) {
	t.Parallel()
	// A port with nothing listening on it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := ln.Addr().String()
	ln.Close()
	e := builtinStart(t, backend, 0)

	for i := range 2 {
		tc, err := e.dialTLS()
		if err != nil {
			t.Fatalf("attempt %d: the proxy stopped serving: %v", i, err)
		}
		_, err = e.upgrade(tc)
		tc.Close()
		if err == nil {
			t.Fatalf("attempt %d: upgrade succeeded with the backend down", i)
		}
	}
	select {
	case err := <-e.served:
		t.Fatalf("Serve returned (%v) after a failed backend dial", err)
	default:
	}
	if err := e.waitLive(0); err != nil {
		t.Fatal(err)
	}

	// The backend comes up on the same port: the same proxy now works.
	if _, err := builtinStartTarget(t, backend); err != nil {
		t.Skipf("cannot listen on %s again (%v); the rest needs the same port", backend, err)
	}
	c := e.dial(t)
	if err := builtinEcho(c, ws.OpText, []byte("backend is back")); err != nil {
		t.Fatal(err)
	}
}

func TestBuiltinShutdown(t *testing.T) {
	t.Parallel()
	for _, delay := range []time.Duration{0, 5 * time.Millisecond} {
		t.Run(fmt.Sprintf("delay %v", delay), func(t *testing.T) {
			t.Parallel()
			e := builtinStartEcho(t, delay)
			var clients []*wsconn.Conn
			for range 3 {
				c := e.dial(t)
				if err := builtinEcho(c, ws.OpText, []byte("up")); err != nil {
					t.Fatal(err)
				}
				clients = append(clients, c)
			}
			// One connection mid-handshake: TCP connected, no ClientHello yet.
			idle, err := net.Dial("tcp", e.proxy.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer idle.Close()
			if err := e.waitLive(2*len(clients) + 1); err != nil {
				t.Fatal(err)
			}

			start := time.Now()
			e.stop()
			if err := e.wait(); err != nil {
				t.Fatalf("Serve: %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Serve took %v to return after the context ended", d)
			}
			if n := e.proxy.builtinLive(); n != 0 {
				t.Errorf("proxy holds %d connections after Serve returned", n)
			}
			for i, c := range clients {
				if err := c.NetConn().SetReadDeadline(time.Now().Add(builtinTestLimit)); err != nil {
					t.Fatal(err)
				}
				_, _, err := c.ReadFrame()
				var ne net.Error
				if err == nil || errors.As(err, &ne) && ne.Timeout() {
					t.Errorf("client %d: read after shutdown returned %v, want the connection closed", i, err)
				}
			}
			if c, err := net.DialTimeout("tcp", e.proxy.Addr().String(), time.Second); err == nil {
				c.Close()
				t.Error("the proxy still accepts connections after shutdown")
			}
		})
	}
}

// BenchmarkProxyEcho measures echo round trips through the proxy: client
// frame to the proxy over TLS, relayed to the plain ws:// echo target and back.
// Allocations count the client, the proxy and the target (one process).
func BenchmarkProxyEcho(b *testing.B) {
	for _, size := range []int{128, 16 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			e := builtinStartEcho(b, 0)
			c := e.dial(b)
			msg := builtinPattern(size, 0x77)
			for range 10 {
				if err := builtinEcho(c, ws.OpBinary, msg); err != nil {
					b.Fatal(err)
				}
			}
			if err := c.NetConn().SetDeadline(time.Time{}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WriteMessage(ws.OpBinary, msg); err != nil {
					b.Fatal(err)
				}
				if _, p, err := c.ReadFrame(); err != nil || len(p) != size {
					b.Fatalf("echo of %d bytes (%v), want %d", len(p), err, size)
				}
			}
			b.StopTimer()
			if !c.Close(ws.StatusNormalClosure, builtinTestLimit) {
				b.Fatal("close handshake did not complete")
			}
		})
	}
}

package builtin

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/target"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// evRelays are the relays with Delay 0, for tests that run on both.
var evRelays = []RelayMode{RelayEventLoop, RelayGoroutines}

// evStart runs a proxy with the given relay in front of backend.
func evStart(tb testing.TB, backend string, relay RelayMode) *builtinEnv {
	tb.Helper()
	e, err := evListen(backend, relay)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		e.stop()
		if err := e.wait(); err != nil {
			tb.Errorf("proxy Serve: %v", err)
		}
	})
	return e
}

func evListen(backend string, relay RelayMode) (*builtinEnv, error) {
	chain, err := tlsconf.NewChain(tlsconf.CertOptions{})
	if err != nil {
		return nil, err
	}
	s, err := Listen(Config{
		Listen:  "127.0.0.1:0",
		Backend: backend,
		TLS:     &tls.Config{Certificates: []tls.Certificate{chain.Leaf}},
		Relay:   relay,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &builtinEnv{proxy: s, chain: chain, stop: cancel, served: make(chan error, 1)}
	go func() { e.served <- s.Serve(ctx) }()
	// Serve sets up the loops before it accepts: wait until it does.
	c, err := net.DialTimeout("tcp", s.Addr().String(), builtinTestLimit)
	if err != nil {
		cancel()
		return nil, err
	}
	c.Close()
	return e, nil
}

// evBackend runs a TCP backend that calls serve for each connection.
func evBackend(tb testing.TB, serve func(c *net.TCPConn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(builtinTestLimit))
				serve(c.(*net.TCPConn))
			})
		}
	})
	return ln.Addr().String()
}

func TestEventLoopSelected(t *testing.T) {
	t.Parallel()
	backend := evBackend(t, func(*net.TCPConn) {})
	cases := []struct {
		name  string
		relay RelayMode
		delay time.Duration
		loops bool
	}{
		{"auto", RelayAuto, 0, true},
		{"eventloop", RelayEventLoop, 0, true},
		{"goroutines", RelayGoroutines, 0, false},
		{"auto with delay", RelayAuto, time.Millisecond, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var e *builtinEnv
			if tc.delay > 0 {
				e = builtinStart(t, backend, tc.delay)
			} else {
				e = evStart(t, backend, tc.relay)
			}
			tc2, err := e.dialTLS()
			if err != nil {
				t.Fatal(err)
			}
			tc2.Close()
			e.proxy.mu.Lock()
			got := len(e.proxy.loops) > 0
			e.proxy.mu.Unlock()
			if got != tc.loops {
				t.Fatalf("event loops in use: %v, want %v", got, tc.loops)
			}
		})
	}
	if _, err := Listen(Config{Listen: "127.0.0.1:0", Backend: backend, TLS: &tls.Config{}, Relay: "threads"}); err == nil {
		t.Error("Listen accepted an unknown relay")
	}
}

// TestEventLoopBackPressure checks that neither relay buffers without
// bound: a reader that does not read stops the writer on the other side,
// and then every byte arrives in order.
func TestEventLoopBackPressure(t *testing.T) {
	t.Parallel()
	const total = 32 << 20
	pattern := builtinPattern(total, 0x42)
	for _, relay := range evRelays {
		t.Run(fmt.Sprintf("%s/backend to slow client", relay), func(t *testing.T) {
			t.Parallel()
			wrote := make(chan error, 1)
			backend := evBackend(t, func(c *net.TCPConn) {
				c.SetWriteBuffer(64 << 10)
				_, err := c.Write(pattern)
				if err == nil {
					err = c.CloseWrite()
				}
				wrote <- err
			})
			e := evStart(t, backend, relay)
			tc := evDialSmallBuffer(t, e)
			defer tc.Close()
			// The upgrade is not needed: the backend writes at once.
			evExpectBlocked(t, wrote, "backend writing to a client that does not read")
			got, err := io.ReadAll(tc)
			if err != nil {
				t.Fatalf("client read: %v", err)
			}
			if !bytes.Equal(got, pattern) {
				t.Fatalf("client got %d bytes, want the backend's %d in order", len(got), total)
			}
			if err := <-wrote; err != nil {
				t.Fatalf("backend write: %v", err)
			}
		})
		t.Run(fmt.Sprintf("%s/client to slow backend", relay), func(t *testing.T) {
			t.Parallel()
			start := make(chan struct{})
			read := make(chan []byte, 1)
			backend := evBackend(t, func(c *net.TCPConn) {
				<-start
				got, _ := io.ReadAll(c)
				read <- got
			})
			e := evStart(t, backend, relay)
			tc := evDialSmallBuffer(t, e)
			defer tc.Close()
			wrote := make(chan error, 1)
			go func() {
				_, err := tc.Write(pattern)
				if err == nil {
					err = tc.CloseWrite()
				}
				wrote <- err
			}()
			evExpectBlocked(t, wrote, "client writing to a backend that does not read")
			close(start)
			if err := <-wrote; err != nil {
				t.Fatalf("client write: %v", err)
			}
			if got := <-read; !bytes.Equal(got, pattern) {
				t.Fatalf("backend got %d bytes, want the client's %d in order", len(got), total)
			}
		})
	}
}

// evDialSmallBuffer is dialTLS with a small, fixed receive buffer, so the
// kernel does not absorb what a back-pressure test sends.
func evDialSmallBuffer(t *testing.T, e *builtinEnv) *tls.Conn {
	t.Helper()
	d := net.Dialer{Timeout: builtinTestLimit, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	raw, err := d.Dial("tcp", e.proxy.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(2 * builtinTestLimit))
	tc := tls.Client(raw, &tls.Config{RootCAs: e.chain.Pool(), ServerName: "localhost"})
	if err := tc.Handshake(); err != nil {
		raw.Close()
		t.Fatal(err)
	}
	return tc
}

// evExpectBlocked fails if the writer finishes within 300 ms: a proxy that
// buffered everything would let it.
func evExpectBlocked(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s finished (%v): the proxy buffered everything (no back pressure)", what, err)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestEventLoopManyConnections(t *testing.T) {
	t.Parallel()
	const conns, echoes = 300, 5
	e := evStart(t, builtinStartTargetOrFail(t), RelayEventLoop)
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
				if err := builtinEcho(c, ws.OpBinary, builtinPattern(1+i*37%3000+j, byte(i))); err != nil {
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

func builtinStartTargetOrFail(t *testing.T) string {
	t.Helper()
	backend, err := builtinStartTarget(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return backend
}

// evHoldConn passes the first write (the ClientHello) through and keeps
// every later one until flush, so the client's last handshake flight and
// its first record reach the proxy in one segment.
type evHoldConn struct {
	net.Conn
	writes int
	held   []byte
}

func (c *evHoldConn) Write(p []byte) (int, error) {
	c.writes++
	if c.writes == 1 {
		return c.Conn.Write(p)
	}
	c.held = append(c.held, p...)
	return len(p), nil
}

func (c *evHoldConn) flush() error {
	_, err := c.Conn.Write(c.held)
	c.held = nil
	return err
}

// TestEventLoopRecordWithHandshake checks that a record crypto/tls read
// together with the client's Finished (it is in its buffer, the socket shows
// nothing) is relayed without waiting for more bytes.
func TestEventLoopRecordWithHandshake(t *testing.T) {
	t.Parallel()
	backend := evBackend(t, func(c *net.TCPConn) { io.Copy(c, c) })
	for _, relay := range evRelays {
		t.Run(string(relay), func(t *testing.T) {
			t.Parallel()
			e := evStart(t, backend, relay)
			raw, err := net.DialTimeout("tcp", e.proxy.Addr().String(), builtinTestLimit)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(builtinTestLimit))
			hc := &evHoldConn{Conn: raw}
			tc := tls.Client(hc, &tls.Config{RootCAs: e.chain.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS13})
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			msg := []byte("first record, same segment as Finished")
			if _, err := tc.Write(msg); err != nil {
				t.Fatal(err)
			}
			if err := hc.flush(); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(tc, got); err != nil {
				t.Fatalf("echo of the first record: %v", err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("echo %q, want %q", got, msg)
			}
		})
	}
}

// TestEventLoopBackendHalfClose checks the other half-close: the backend's
// FIN reaches the client as close_notify and EOF, and the client can still
// send to the backend afterwards.
func TestEventLoopBackendHalfClose(t *testing.T) {
	t.Parallel()
	for _, relay := range evRelays {
		t.Run(string(relay), func(t *testing.T) {
			t.Parallel()
			backendGot := make(chan string, 1)
			backend := evBackend(t, func(c *net.TCPConn) {
				c.Write([]byte("bye from backend"))
				c.CloseWrite()
				got, _ := io.ReadAll(c)
				backendGot <- string(got)
			})
			e := evStart(t, backend, relay)
			tc, err := e.dialTLS()
			if err != nil {
				t.Fatal(err)
			}
			defer tc.Close()
			got, err := io.ReadAll(tc)
			if err != nil || string(got) != "bye from backend" {
				t.Fatalf("client read %q, %v; want %q and EOF", got, err, "bye from backend")
			}
			if _, err := tc.Write([]byte("late reply")); err != nil {
				t.Fatal(err)
			}
			if err := tc.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if got := <-backendGot; got != "late reply" {
				t.Fatalf("backend got %q, want %q", got, "late reply")
			}
			if err := e.waitLive(0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEventLoopNoLeak runs connections through the event loop, leaves some
// open, shuts the proxy down, and checks that no descriptor or goroutine is
// left. Not parallel: it counts the whole process's.
func TestEventLoopNoLeak(t *testing.T) {
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("cannot count descriptors: %v", err)
		}
		return len(ents)
	}
	fds0, gs0 := fds(), runtime.NumGoroutine()

	srv, err := target.Listen(target.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithCancel(context.Background())
	tdone := make(chan error, 1)
	go func() { tdone <- srv.Serve(tctx) }()
	e, err := evListen(srv.Addr().String(), RelayEventLoop)
	if err != nil {
		t.Fatal(err)
	}
	var open []net.Conn
	for i := range 40 {
		tc, err := e.dialTLS()
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.upgrade(tc)
		if err != nil {
			t.Fatal(err)
		}
		if err := builtinEcho(c, ws.OpText, []byte("up")); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			c.Close(ws.StatusNormalClosure, builtinTestLimit)
			c.NetConn().Close()
		} else {
			open = append(open, c.NetConn())
		}
	}
	if n := e.proxy.builtinLive(); n < 2*len(open) {
		t.Fatalf("proxy holds %d connections, want at least %d", n, 2*len(open))
	}
	e.stop()
	if err := e.wait(); err != nil {
		t.Fatal(err)
	}
	if n := e.proxy.builtinLive(); n != 0 {
		t.Errorf("proxy holds %d connections after Serve returned", n)
	}
	for _, c := range open {
		c.Close()
	}
	tcancel()
	if err := <-tdone; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(builtinTestLimit)
	for {
		f, g := fds(), runtime.NumGoroutine()
		if f <= fds0 && g <= gs0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after shutdown: %d descriptors (%d before), %d goroutines (%d before)", f, fds0, g, gs0)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

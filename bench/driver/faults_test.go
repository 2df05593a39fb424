package driver

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/tlsconf"
	"github.com/wssbench/wssbench/bench/wsconn"
)

// faultConns is the number of connections each fault test attempts.
const faultConns = 3

// checkConnectFault asserts that every attempt failed with exactly class.
func checkConnectFault(t *testing.T, st *Stats, class string) {
	t.Helper()
	if st.Attempted != faultConns || st.Established != 0 || st.Failed != faultConns {
		t.Errorf("attempted/established/failed = %d/%d/%d, want %d/0/%d",
			st.Attempted, st.Established, st.Failed, faultConns, faultConns)
	}
	if st.Errors[class] != faultConns || len(st.Errors) != 1 {
		t.Errorf("errors: %s, want only %s=%d", errorsOf(st), class, faultConns)
	}
	if st.ErrorSamples[class] == "" {
		t.Errorf("no error sample kept for %s", class)
	}
	if st.FramesSent != 0 || st.ClosedClean != 0 {
		t.Errorf("frames sent %d, closed clean %d on a run with no connection", st.FramesSent, st.ClosedClean)
	}
	if st.Interrupted {
		t.Error("Interrupted set on a run that ended by itself")
	}
}

// upgrade101 answers an upgrade request with a 101 carrying accept as its
// Sec-WebSocket-Accept.
func upgrade101(accept string) fakeHandler {
	return func(c net.Conn, _ <-chan struct{}) {
		if _, _, err := readRequest(c); err != nil {
			return
		}
		resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + accept + "\r\n\r\n"
		if _, err := io.WriteString(c, resp); err != nil {
			return
		}
		// Hold the connection until the client gives up on it.
		_, _ = io.Copy(io.Discard, c)
	}
}

// answer reads the upgrade request and writes resp verbatim.
func answer(resp string) fakeHandler {
	return func(c net.Conn, _ <-chan struct{}) {
		if _, _, err := readRequest(c); err != nil {
			return
		}
		if _, err := io.WriteString(c, resp); err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c)
	}
}

// stall accepts and never speaks.
func stall(_ net.Conn, done <-chan struct{}) { <-done }

func TestUpgradeFaults(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	cases := []struct {
		name    string
		handle  fakeHandler
		timeout time.Duration
		class   string
	}{
		{name: "status-403", handle: answer("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"), class: "upgrade_status_403"},
		{name: "status-503", handle: answer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"), class: "upgrade_status_503"},
		{name: "bad-accept", handle: upgrade101("AAAAAAAAAAAAAAAAAAAAAAAAAAA="), class: ErrUpgradeBadAccept},
		{name: "bad-upgrade-header", handle: answer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"), class: ErrUpgradeBadResponse},
		{name: "not-http", handle: answer("SSH-2.0-OpenSSH_9.6\r\n\r\n"), class: ErrUpgradeBadResponse},
		{name: "stall-after-tls", handle: stall, timeout: 400 * time.Millisecond, class: ErrUpgradeTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := startFake(t, serverTLS(chain), tc.handle)
			cfg := testConfig(mustURL(t, "wss://"+addr+"/"), clientTLS(chain))
			cfg.Conns = faultConns
			if tc.timeout > 0 {
				cfg.ConnectTimeout = tc.timeout
			}
			st, _ := runDriver(t, cfg)
			checkConnectFault(t, st, tc.class)
			// The TLS handshakes completed before the upgrade failed, but no
			// connection was established: none is counted as negotiated.
			if st.Handshakes != 0 {
				t.Errorf("Handshakes = %d for connections that never came up", st.Handshakes)
			}
		})
	}
}

func TestPlainUpgradeFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		handle  fakeHandler
		timeout time.Duration
		class   string
	}{
		{name: "status-404", handle: answer("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), class: "upgrade_status_404"},
		{name: "bad-accept", handle: upgrade101("dGhlIHNhbXBsZSBub25jZQ=="), class: ErrUpgradeBadAccept},
		{name: "stall", handle: stall, timeout: 400 * time.Millisecond, class: ErrUpgradeTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := startFake(t, nil, tc.handle)
			cfg := testConfig(mustURL(t, "ws://"+addr+"/"), nil)
			cfg.Conns = faultConns
			if tc.timeout > 0 {
				cfg.ConnectTimeout = tc.timeout
			}
			st, _ := runDriver(t, cfg)
			checkConnectFault(t, st, tc.class)
		})
	}
}

func TestTLSFaults(t *testing.T) {
	t.Parallel()
	now := time.Now()
	good := newChain(t, tlsconf.CertOptions{})
	expired := newChain(t, tlsconf.CertOptions{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	otherHost := newChain(t, tlsconf.CertOptions{Hosts: []string{"example.invalid"}})
	untrusted := newChain(t, tlsconf.CertOptions{})
	tls12 := serverTLS(good)
	tls12.MaxVersion = tls.VersionTLS12
	cases := []struct {
		name   string
		server *tls.Config
		client *tls.Config
		class  string
	}{
		{name: "expired", server: serverTLS(expired), client: clientTLS(expired), class: ErrTLSExpired},
		{name: "hostname-mismatch", server: serverTLS(otherHost), client: clientTLS(otherHost), class: ErrTLSHostname},
		{name: "unknown-authority", server: serverTLS(untrusted), client: clientTLS(good), class: ErrTLSUnknownAuthority},
		{name: "tls12-server-tls13-client", server: tls12,
			client: &tls.Config{RootCAs: good.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS13}, class: ErrTLSProtocolVersion},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := startTarget(t, tc.server)
			cfg := testConfig(u, tc.client)
			cfg.Conns = faultConns
			st, _ := runDriver(t, cfg)
			checkConnectFault(t, st, tc.class)
		})
	}
}

// TestTLS12Negotiated checks that a TLS 1.2 handshake is counted as such.
func TestTLS12Negotiated(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	sc := serverTLS(chain)
	sc.MaxVersion = tls.VersionTLS12
	cfg := testConfig(startTarget(t, sc), clientTLS(chain))
	cfg.Conns = faultConns
	st, d := runDriver(t, cfg)
	checkCleanSteady(t, cfg, st, d)
	if st.TLSVersions["TLS 1.2"] != faultConns || len(st.TLSVersions) != 1 {
		t.Errorf("TLS versions %v, want %d of TLS 1.2", st.TLSVersions, faultConns)
	}
}

func TestTransportFaults(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	closedPort := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	cases := []struct {
		name    string
		addr    func(t *testing.T) string
		timeout time.Duration
		class   string
	}{
		{name: "closed-port", addr: closedPort, class: ErrDialRefused},
		{name: "tcp-stall", addr: func(t *testing.T) string { return startFake(t, nil, stall) }, timeout: 400 * time.Millisecond, class: ErrTLSTimeout},
		{name: "not-tls", addr: func(t *testing.T) string {
			return startFake(t, nil, func(c net.Conn, _ <-chan struct{}) {
				_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
				_, _ = io.Copy(io.Discard, c)
			})
		}, class: ErrTLSNotTLS},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(mustURL(t, "wss://"+tc.addr(t)+"/"), clientTLS(chain))
			cfg.Conns = faultConns
			if tc.timeout > 0 {
				cfg.ConnectTimeout = tc.timeout
			}
			start := time.Now()
			st, _ := runDriver(t, cfg)
			checkConnectFault(t, st, tc.class)
			if tc.timeout > 0 {
				if elapsed := time.Since(start); elapsed > tc.timeout+cfg.Duration+2*time.Second {
					t.Errorf("run took %v with a %v connect timeout", elapsed, tc.timeout)
				}
			}
		})
	}
}

// upgraded runs ws.Upgrade on c and then after on the connection.
func upgraded(after func(c net.Conn)) fakeHandler {
	return func(c net.Conn, _ <-chan struct{}) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		after(c)
	}
}

func TestFrameFaults(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	flip := upgraded(func(c net.Conn) {
		echo(wsconn.New(c, wsconn.Options{}), func(p []byte) {
			if len(p) > 0 {
				p[len(p)-1] ^= 0x01
			}
		})
	})
	masked := upgraded(func(c net.Conn) {
		wc := wsconn.New(c, wsconn.Options{})
		for {
			h, p, err := wc.ReadFrame()
			if err != nil {
				return
			}
			f := ws.MaskFrameInPlace(ws.NewFrame(h.OpCode, true, append([]byte(nil), p...)))
			if err := ws.WriteFrame(c, f); err != nil {
				return
			}
		}
	})
	wrongOp := upgraded(func(c net.Conn) {
		wc := wsconn.New(c, wsconn.Options{})
		for {
			_, p, err := wc.ReadFrame()
			if err != nil {
				return
			}
			if err := wc.WriteFrame(ws.OpBinary, true, p); err != nil {
				return
			}
		}
	})
	silent := upgraded(func(c net.Conn) {
		// Read and drop every frame; answer the close so the close is clean.
		wc := wsconn.New(c, wsconn.Options{})
		for {
			if _, _, err := wc.ReadFrame(); err != nil {
				return
			}
		}
	})
	cases := []struct {
		name   string
		handle fakeHandler
		class  string
		lost   bool // the failed frame is counted lost
	}{
		{name: "echo-byte-flipped", handle: flip, class: ErrFrameEchoMismatch, lost: true},
		{name: "echo-wrong-opcode", handle: wrongOp, class: ErrFrameEchoMismatch, lost: true},
		{name: "masked-server-frame", handle: masked, class: ErrFrameProtocol, lost: true},
		{name: "no-echo", handle: silent, class: ErrFrameTimeout, lost: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := startFake(t, serverTLS(chain), tc.handle)
			cfg := testConfig(mustURL(t, "wss://"+addr+"/"), clientTLS(chain))
			cfg.Conns = faultConns
			if tc.class == ErrFrameTimeout {
				cfg.FrameTimeout = 300 * time.Millisecond
			}
			st, _ := runDriver(t, cfg)
			if tc.class != ErrFrameTimeout {
				failOnKickRace(t, cfg, st)
			}
			if st.Established != faultConns || st.Failed != 0 {
				t.Errorf("established/failed = %d/%d, want %d/0: frame faults happen after connect",
					st.Established, st.Failed, faultConns)
			}
			if st.Errors[tc.class] != faultConns || len(st.Errors) != 1 {
				t.Errorf("errors: %s, want only %s=%d", errorsOf(st), tc.class, faultConns)
			}
			if st.FramesReceived != 0 {
				t.Errorf("FramesReceived = %d, want no good echo", st.FramesReceived)
			}
			if st.FramesSent != faultConns {
				t.Errorf("FramesSent = %d, want one per connection before it failed (%d)", st.FramesSent, faultConns)
			}
			if tc.lost && st.FramesLost != st.FramesSent {
				t.Errorf("FramesLost = %d, want every sent frame (%d)", st.FramesLost, st.FramesSent)
			}
			if st.Handshakes != faultConns {
				t.Errorf("Handshakes = %d, want %d", st.Handshakes, faultConns)
			}
		})
	}
}

// TestPeerClosesAfterUpgrade: the target upgrades and hangs up at once.
func TestPeerClosesAfterUpgrade(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	cases := []struct {
		name   string
		tls    bool
		handle fakeHandler
	}{
		{name: "wss/hang-up", tls: true, handle: upgraded(func(net.Conn) {})},
		{name: "ws/hang-up", handle: upgraded(func(net.Conn) {})},
		{name: "wss/close-frame", tls: true, handle: upgraded(func(c net.Conn) {
			wc := wsconn.New(c, wsconn.Options{})
			wc.Close(ws.StatusGoingAway, time.Second)
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cfg *Config
			if tc.tls {
				addr := startFake(t, serverTLS(chain), tc.handle)
				cfg = testConfig(mustURL(t, "wss://"+addr+"/"), clientTLS(chain))
			} else {
				addr := startFake(t, nil, tc.handle)
				cfg = testConfig(mustURL(t, "ws://"+addr+"/"), nil)
			}
			cfg.Conns = faultConns
			st, _ := runDriver(t, cfg)
			failOnKickRace(t, cfg, st)
			if st.Established != faultConns || st.Failed != 0 {
				t.Errorf("established/failed = %d/%d, want %d/0", st.Established, st.Failed, faultConns)
			}
			var total int64
			for class, n := range st.Errors {
				if class != ErrClosedByPeer && class != ErrReset {
					t.Errorf("error class %s=%d (%s), want closed_by_peer or reset", class, n, st.ErrorSamples[class])
				}
				total += n
			}
			if total != faultConns {
				t.Errorf("errors: %s, want %d in all", errorsOf(st), faultConns)
			}
			if st.FramesReceived != 0 {
				t.Errorf("FramesReceived = %d from a peer that hung up", st.FramesReceived)
			}
		})
	}
}

package driver

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/evloop"
)

// countConn counts the bytes that pass below TLS.
type countConn struct {
	net.Conn
	read, written int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read += int64(n)
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written += int64(n)
	return n, err
}

// Timings are the durations of one connection's setup phases.
type Timings struct {
	TCP, TLS, Upgrade, Total time.Duration
}

// TLSInfo is what one handshake negotiated, and its size on the wire.
type TLSInfo struct {
	State tls.ConnectionState
	// BytesOut and BytesIn are handshake bytes written and read below TLS.
	BytesOut, BytesIn int64
}

// dialer opens connections phase by phase: TCP, then TLS, then the upgrade,
// each timed on its own (ws.Dialer.Dial with a TLS config would hide the TLS
// handshake inside the upgrade).
type dialer struct {
	url  *url.URL
	addr string
	// tls does full handshakes; resume offers tickets from a cache shared by the run.
	tls, resume *tls.Config
	ws          ws.Dialer
	sources     []net.IP
	timeout     time.Duration
	// plain tells, once per run, a plain server that closed the handshake
	// from a TLS server that refused it (see PlainProbe).
	plain *PlainProbe
	// loops is set when connections move onto event loops once set up.
	loops bool
}

// newDialer prepares the dialer of cfg; certRequests counts the handshakes in
// which the server asked for the client certificate.
func newDialer(cfg *Config, certRequests *atomic.Int64) *dialer {
	d := &dialer{url: cfg.URL, addr: hostPort(cfg.URL), timeout: cfg.ConnectTimeout, sources: cfg.SourceIPs}
	if cfg.TLS != nil {
		d.plain = NewPlainProbe(cfg.URL, cfg.ConnectTimeout)
		d.tls = cfg.TLS.Clone()
		d.tls.ClientSessionCache = nil
		if len(d.tls.Certificates) > 0 {
			cert := d.tls.Certificates[0]
			d.tls.Certificates = nil
			d.tls.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				certRequests.Add(1)
				return &cert, nil
			}
		}
		if cfg.ResumeShare > 0 {
			d.resume = d.tls.Clone()
			// One cache for the run: every connection goes to the same server name.
			d.resume.ClientSessionCache = tls.NewLRUClientSessionCache(64)
		}
	}
	d.ws = ws.Dialer{Protocols: cfg.Subprotocols}
	if len(cfg.Header) > 0 {
		d.ws.Header = ws.HandshakeHeaderHTTP(cfg.Header)
	}
	return d
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "wss" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// conn is an upgraded connection with what its setup measured.
type conn struct {
	nc net.Conn
	// ev is the transport under TLS when the connection is to move onto an
	// event loop after its setup (nil otherwise).
	ev      *evloop.Conn
	br      *bufio.Reader // bytes the server sent with the 101, if any
	timings Timings
	tls     *TLSInfo
}

// dial opens connection id, offering a session ticket when resume is set. On
// failure it returns the phase that failed.
func (d *dialer) dial(ctx context.Context, id int, resume bool) (*conn, Phase, error) {
	// No TCP keepalive: WebSocket pings are the liveness check, and Go's
	// default (a probe every 15 s) from 200,000 idle connections overflowed
	// loopback's backlog here, so lost probes aborted 13,000 connections.
	nd := net.Dialer{Timeout: d.timeout, KeepAlive: -1}
	if n := len(d.sources); n > 0 {
		nd.LocalAddr = &net.TCPAddr{IP: d.sources[id%n]}
		// Choose the port at connect, for the whole 4-tuple, not at bind: a
		// bind to port 0 takes a port no other socket of that address holds,
		// and ran out at about half the ephemeral range per address here
		// (14,100 of 28,232), where connect reuses a port across targets.
		nd.Control = bindNoPort
	}
	t0 := time.Now()
	raw, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, PhaseTCP, err
	}
	t1 := time.Now()
	deadline := t0.Add(d.timeout)
	if err := raw.SetDeadline(deadline); err != nil {
		raw.Close()
		return nil, PhaseTCP, err
	}
	c := &conn{nc: raw}
	if d.loops {
		// The setup runs on this goroutine, blocking; the event loop then
		// takes the socket from under the same tls.Conn.
		c.ev = evloop.NewConn(raw)
		raw, c.nc = c.ev, c.ev
	}
	t2 := t1
	if d.tls != nil {
		cc := &countConn{Conn: raw}
		tcfg := d.tls
		if resume && d.resume != nil {
			tcfg = d.resume
		}
		tc := tls.Client(cc, tcfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, PhaseTLS, d.plain.Check(ctx, err, cc.read)
		}
		t2 = time.Now()
		c.tls = &TLSInfo{State: tc.ConnectionState(), BytesOut: cc.written, BytesIn: cc.read}
		c.nc = tc
	}
	br, _, err := d.ws.Upgrade(c.nc, d.url)
	if err != nil {
		c.nc.Close()
		return nil, PhaseUpgrade, err
	}
	t3 := time.Now()
	if err := c.nc.SetDeadline(time.Time{}); err != nil {
		c.nc.Close()
		return nil, PhaseUpgrade, err
	}
	c.br = br
	c.timings = Timings{TCP: t1.Sub(t0), TLS: t2.Sub(t1), Upgrade: t3.Sub(t2), Total: t3.Sub(t0)}
	return c, 0, nil
}

// Package builtin is wssbench's built-in TLS-terminating proxy: a TCP relay
// in front of a ws:// backend, with an optional emulated one-way delay.
package builtin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wssbench/wssbench/bench/listener"
)

// Relay tuning. An idle proxied connection holds one small buffer per
// direction; a big one is borrowed from a pool only while reads keep filling
// the small one, so memory per connection stays small (TLS_NOTES.md §4).
const (
	// relaySmallBytes is the read buffer of a direction with little traffic:
	// a frame of up to 1 KiB in one read.
	relaySmallBytes = 1 << 10
	// relayBigBytes is the read buffer while data flows: one full TLS record.
	relayBigBytes = 16 << 10
	// relayQueueChunks bounds the chunks in flight per direction when Delay > 0.
	relayQueueChunks = 64
	// relayLinger is how long one direction may go on after the other ended
	// cleanly (a half-closed connection whose peer never finishes is dropped).
	relayLinger = 30 * time.Second
)

// Config describes the built-in proxy.
type Config struct {
	// Listen is the address to listen on, such as 127.0.0.1:9443 (port 0 picks one).
	Listen string
	// Backend is the host:port of the ws:// backend.
	Backend string
	// TLS terminates TLS; required. The proxy relays HTTP/1.1, so NextProtos
	// must not offer h2.
	TLS *tls.Config
	// Delay is a fixed one-way delay added in each direction (0 = none), to
	// emulate a network round trip (2 × Delay) on loopback. Relayed bytes are
	// delayed chunk by chunk, pipelined; each flight the proxy sends during
	// the TLS handshake waits a whole round trip, so the handshake costs its
	// round trips. The TCP connect is not delayed.
	Delay time.Duration
	// DialTimeout bounds dialing the backend (default 5 s).
	DialTimeout time.Duration
	// HandshakeTimeout bounds the TLS handshake with the client (default 10 s).
	HandshakeTimeout time.Duration
	// Relay picks how bytes are relayed once a connection is up (default
	// RelayAuto).
	Relay RelayMode
}

// RelayMode is how the built-in proxy relays the bytes of established
// connections.
type RelayMode string

// Relay modes.
const (
	// RelayAuto is the event loop where the platform has one (Linux), else
	// goroutines.
	RelayAuto RelayMode = ""
	// RelayEventLoop relays every connection from one epoll loop per worker
	// (GOMAXPROCS), with or without Delay (the delay is timed by the loop).
	RelayEventLoop RelayMode = "eventloop"
	// RelayGoroutines relays each connection with two goroutines, one per
	// direction, over Go's blocking I/O.
	RelayGoroutines RelayMode = "goroutines"
)

// shutdownGrace bounds how long Serve waits for connections to end after it
// closed them, and again after it closed what was left.
const shutdownGrace = 5 * time.Second

// Server is a running built-in proxy.
type Server struct {
	cfg    Config
	ln     *listener.Listener // tracks client and backend connections, and the loops' pairs as work
	dialer net.Dialer
	mu     sync.Mutex
	loops  []*evLoop     // the event loops (none: goroutine relay); set by Serve
	next   atomic.Uint32 // round robin over loops
}

// Listen checks cfg and opens the listening socket; call Serve to accept.
func Listen(cfg Config) (*Server, error) {
	if cfg.TLS == nil {
		return nil, errors.New("builtin proxy: a TLS config is required (the proxy terminates TLS)")
	}
	if _, _, err := net.SplitHostPort(cfg.Backend); err != nil {
		return nil, fmt.Errorf("builtin proxy: backend %q must be host:port, such as 127.0.0.1:8080: %w", cfg.Backend, err)
	}
	if cfg.Delay < 0 {
		return nil, fmt.Errorf("builtin proxy: delay must not be negative (got %v)", cfg.Delay)
	}
	switch cfg.Relay {
	case RelayAuto, RelayEventLoop, RelayGoroutines:
	default:
		return nil, fmt.Errorf("builtin proxy: relay %q is not one of %q, %q", cfg.Relay, RelayEventLoop, RelayGoroutines)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	s := &Server{cfg: cfg, dialer: net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: -1}}
	// Stop closes every tracked connection (the default wake-up): their
	// goroutines see the errors and end; the loops close their pairs.
	ln, err := listener.Listen(cfg.Listen, listener.Options{OnStop: s.stopLoops})
	if err != nil {
		return nil, err
	}
	s.ln = ln
	return s, nil
}

// Addr returns the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL returns the wss:// URL clients use.
func (s *Server) URL() string { return "wss://" + s.ln.Addr().String() + "/" }

// Serve accepts connections until ctx ends, then closes every connection (both
// sides) and returns once all are gone. It returns nil when ctx ended, the
// error that stopped accepting, or an error when connections outlived the
// shutdown bound.
func (s *Server) Serve(ctx context.Context) error {
	if s.eventLoop() {
		// Without the event loop (another platform, or out of file
		// descriptors for epoll) connections are relayed by goroutines.
		loops, _ := startEvLoops(s, runtime.GOMAXPROCS(0))
		s.mu.Lock()
		s.loops = loops
		s.mu.Unlock()
	}
	stop := context.AfterFunc(ctx, s.ln.Stop)
	defer stop()
	err := s.ln.Serve(func(c net.Conn) { s.builtinHandle(ctx, c) })
	if ctx.Err() != nil {
		err = nil // Serve ended because ctx did
	}
	if serr := s.ln.Shutdown(shutdownGrace); serr != nil {
		return serr
	}
	return err
}

// stopLoops makes every event loop close its pairs and end.
func (s *Server) stopLoops() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.loops {
		l.shutdown()
	}
}

// builtinHandle completes the TLS handshake, dials the backend and hands the
// pair to an event loop (evHandle) or to the relay goroutines; it ends before
// they do, so the stack the handshake grew is not kept for the connection's
// life.
func (s *Server) builtinHandle(ctx context.Context, raw net.Conn) {
	s.mu.Lock()
	loops := len(s.loops)
	s.mu.Unlock()
	if loops > 0 {
		s.evHandle(ctx, raw)
		return
	}
	var hc *relayHandshakeConn
	var under net.Conn = raw
	if s.cfg.Delay > 0 {
		hc = &relayHandshakeConn{Conn: raw, rtt: 2 * s.cfg.Delay}
		under = hc
	}
	tc, bc := s.handshakeAndDial(ctx, raw, under)
	if tc == nil {
		return
	}
	if hc != nil {
		hc.done = true
	}
	r := &relayConn{s: s, raw: raw, client: tc, backend: bc}
	r.left.Store(2)
	s.ln.Go(func() { r.relay(false) })
	s.ln.Go(func() { r.relay(true) })
}

// handshakeAndDial completes the TLS handshake with the client over under
// (raw, or a wrapper of it) within the handshake timeout, then dials and
// tracks the backend. On failure it closes what it opened and returns nils.
func (s *Server) handshakeAndDial(ctx context.Context, raw, under net.Conn) (*tls.Conn, net.Conn) {
	tc := tls.Server(under, s.cfg.TLS)
	if err := raw.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout)); err != nil {
		s.builtinDrop(raw)
		return nil, nil
	}
	if err := tc.Handshake(); err != nil {
		s.builtinDrop(raw)
		return nil, nil
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		s.builtinDrop(raw)
		return nil, nil
	}
	bc, err := s.dialer.DialContext(ctx, "tcp", s.cfg.Backend)
	if err != nil {
		// The backend is down: the client's upgrade sees the connection close.
		tc.Close()
		s.ln.Untrack(raw)
		return nil, nil
	}
	if !s.ln.Track(bc) {
		bc.Close()
		s.builtinDrop(raw)
		return nil, nil
	}
	return tc, bc
}

func (s *Server) builtinDrop(c net.Conn) { s.ln.Drop(c) }

// eventLoop reports whether established connections go to the event loops.
func (s *Server) eventLoop() bool {
	return s.cfg.Relay != RelayGoroutines
}

// Package proxy puts TLS termination in front of a ws:// backend: the built-in
// proxy (a TLS-terminating TCP relay with an optional emulated delay), and
// nginx or haproxy started from generated configs.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
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
	// RelayAuto is the event loop where the platform has one (Linux) and
	// Delay is 0, else goroutines.
	RelayAuto RelayMode = ""
	// RelayEventLoop relays every connection from one epoll loop per worker
	// (GOMAXPROCS); it applies only when Delay is 0.
	RelayEventLoop RelayMode = "eventloop"
	// RelayGoroutines relays each connection with two goroutines, one per
	// direction, over Go's blocking I/O.
	RelayGoroutines RelayMode = "goroutines"
)

// Server is a running built-in proxy.
type Server struct {
	cfg    Config
	ln     net.Listener
	dialer net.Dialer
	mu     sync.Mutex
	live   map[net.Conn]struct{}
	down   bool
	wg     sync.WaitGroup
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
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	return &Server{
		cfg:    cfg,
		ln:     ln,
		dialer: net.Dialer{Timeout: cfg.DialTimeout},
		live:   make(map[net.Conn]struct{}),
	}, nil
}

// Addr returns the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL returns the wss:// URL clients use.
func (s *Server) URL() string { return "wss://" + s.ln.Addr().String() + "/" }

// Serve accepts connections until ctx ends, then closes every connection (both
// sides) and returns once all are gone. It returns nil when ctx ended, or the
// error that stopped accepting.
func (s *Server) Serve(ctx context.Context) error {
	if s.cfg.Delay == 0 && s.cfg.Relay != RelayGoroutines {
		// Without the event loop (another platform, or out of file
		// descriptors for epoll) connections are relayed by goroutines.
		loops, _ := startEvLoops(s, runtime.GOMAXPROCS(0))
		s.mu.Lock()
		s.loops = loops
		s.mu.Unlock()
	}
	stop := context.AfterFunc(ctx, s.builtinShutdown)
	defer stop()
	var err error
	var backoff time.Duration
	for {
		var c net.Conn
		c, err = s.ln.Accept()
		if err != nil {
			if !builtinAcceptRetry(err) {
				break
			}
			// Out of file descriptors or memory: wait for connections to end.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			continue
		}
		backoff = 0
		if !s.builtinTrack(c) {
			c.Close()
			break
		}
		s.wg.Add(1)
		go s.builtinHandle(ctx, c)
	}
	s.builtinShutdown()
	s.wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("accept on %s: %w", s.ln.Addr(), err)
}

// builtinAcceptRetry reports whether Accept failed for a passing lack of
// resources (or a timeout), so accepting may go on.
func builtinAcceptRetry(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

func (s *Server) builtinTrack(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return false
	}
	s.live[c] = struct{}{}
	return true
}

func (s *Server) builtinUntrack(cs ...net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		delete(s.live, c)
	}
}

// builtinShutdown stops accepting and closes every tracked connection; their
// goroutines see the errors and end.
func (s *Server) builtinShutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return
	}
	s.down = true
	s.ln.Close()
	for c := range s.live {
		c.Close()
	}
	for _, l := range s.loops {
		l.shutdown()
	}
}

// builtinHandle completes the TLS handshake, dials the backend and hands the
// pair to the relay goroutines; it ends before they do, so the stack the
// handshake grew is not kept for the connection's life.
func (s *Server) builtinHandle(ctx context.Context, raw net.Conn) {
	defer s.wg.Done()
	if len(s.loops) > 0 {
		s.evHandle(ctx, raw)
		return
	}
	var hc *relayHandshakeConn
	var under net.Conn = raw
	if s.cfg.Delay > 0 {
		hc = &relayHandshakeConn{Conn: raw, rtt: 2 * s.cfg.Delay}
		under = hc
	}
	tc := tls.Server(under, s.cfg.TLS)
	if err := raw.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout)); err != nil {
		s.builtinDrop(raw)
		return
	}
	if err := tc.Handshake(); err != nil {
		s.builtinDrop(raw)
		return
	}
	if hc != nil {
		hc.done = true
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		s.builtinDrop(raw)
		return
	}
	bc, err := s.dialer.DialContext(ctx, "tcp", s.cfg.Backend)
	if err != nil {
		// The backend is down: the client's upgrade sees the connection close.
		tc.Close()
		s.builtinUntrack(raw)
		return
	}
	if !s.builtinTrack(bc) {
		bc.Close()
		s.builtinDrop(raw)
		return
	}
	r := &relayConn{s: s, raw: raw, client: tc, backend: bc}
	r.left.Store(2)
	s.wg.Add(2)
	go r.relay(false)
	go r.relay(true)
}

func (s *Server) builtinDrop(c net.Conn) {
	c.Close()
	s.builtinUntrack(c)
}

// relayConn is one proxied connection: the client's TLS connection and the
// backend's TCP connection, relayed by one goroutine per direction (two per
// direction when Delay > 0).
type relayConn struct {
	s       *Server
	raw     net.Conn // the client's TCP connection, under client
	client  *tls.Conn
	backend net.Conn
	left    atomic.Int32 // directions still running
}

// relay copies one direction: backend to client when toClient, else client to
// backend. The direction that ends last closes both connections.
func (r *relayConn) relay(toClient bool) {
	defer r.s.wg.Done()
	dst, src := net.Conn(r.backend), net.Conn(r.client)
	if toClient {
		dst, src = r.client, r.backend
	}
	if r.s.cfg.Delay <= 0 {
		r.relayEnd(toClient, relayCopy(dst, src))
		return
	}
	q := make(chan relayChunk, relayQueueChunks)
	r.s.wg.Add(1)
	go r.relayWriteDelayed(dst, q, toClient)
	relayReadDelayed(src, q, r.s.cfg.Delay)
}

// relayCopy copies src to dst and reports whether src ended cleanly (EOF;
// for TLS, a close_notify) rather than by a read or write error.
func relayCopy(dst, src net.Conn) bool {
	full := false
	for {
		b := relayGet(full)
		n, err := src.Read(*b)
		if n > 0 {
			if _, werr := dst.Write((*b)[:n]); werr != nil {
				relayPut(b)
				return false
			}
		}
		full = n == len(*b)
		relayPut(b)
		if err != nil {
			return errors.Is(err, io.EOF)
		}
	}
}

// relayEnd finishes one direction: after a clean end it half-closes the
// destination and gives the other direction relayLinger to finish; after an
// error it closes both sides. The last direction to end closes both.
func (r *relayConn) relayEnd(toClient, clean bool) {
	if clean {
		clean = r.relayCloseWrite(toClient) == nil
	}
	if !clean {
		r.relayAbort()
	}
	if r.left.Add(-1) == 0 {
		r.relayAbort()
		r.s.builtinUntrack(r.raw, r.backend)
	}
}

// relayCloseWrite half-closes the destination of one direction and bounds how
// long the other direction (which reads from it) may go on.
func (r *relayConn) relayCloseWrite(toClient bool) error {
	if !toClient {
		cw, ok := r.backend.(interface{ CloseWrite() error })
		if !ok {
			return errors.New("backend connection cannot half-close")
		}
		if err := cw.CloseWrite(); err != nil {
			return err
		}
		return r.backend.SetReadDeadline(time.Now().Add(relayLinger))
	}
	// close_notify ends the client's TLS reads; the FIN after it serves
	// clients that wait for the TCP connection to end.
	if err := r.client.CloseWrite(); err != nil {
		return err
	}
	if cw, ok := r.raw.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			return err
		}
	}
	return r.raw.SetReadDeadline(time.Now().Add(relayLinger))
}

// relayAbort closes both connections (again is harmless), which ends the
// reads and writes of both directions.
func (r *relayConn) relayAbort() {
	r.raw.Close()
	r.backend.Close()
}

// relayChunk is bytes read in one direction and when to write them. A chunk
// with no buffer marks the end of the stream.
type relayChunk struct {
	buf   *[]byte
	due   time.Duration // since relayEpoch
	n     int32
	clean bool // the end was EOF, not an error
}

// relayEpoch is the origin of due times (monotonic clock).
var relayEpoch = time.Now()

// relayReadDelayed reads src into chunks due Delay after each read and queues
// them in order; the reader blocks while the queue is full (back pressure).
func relayReadDelayed(src net.Conn, q chan<- relayChunk, delay time.Duration) {
	full := false
	for {
		b := relayGet(full)
		n, err := src.Read(*b)
		due := time.Since(relayEpoch) + delay
		full = n == len(*b)
		if n > 0 {
			q <- relayChunk{buf: b, n: int32(n), due: due}
		} else {
			relayPut(b)
		}
		if err != nil {
			q <- relayChunk{due: due, clean: errors.Is(err, io.EOF)}
			return
		}
	}
}

// relayWriteDelayed writes each queued chunk to dst when it is due: a chunk
// read at t goes out at t+Delay, so chunks are pipelined, not delayed behind
// each other. After a write error it closes both sides and drains the queue.
func (r *relayConn) relayWriteDelayed(dst net.Conn, q <-chan relayChunk, toClient bool) {
	defer r.s.wg.Done()
	failed := false
	for c := range q {
		if c.buf == nil {
			clean := c.clean && !failed
			if clean {
				relaySleepUntil(c.due)
			}
			r.relayEnd(toClient, clean)
			return
		}
		if !failed {
			relaySleepUntil(c.due)
			if _, err := dst.Write((*c.buf)[:c.n]); err != nil {
				failed = true
				r.relayAbort()
			}
		}
		relayPut(c.buf)
	}
}

func relaySleepUntil(due time.Duration) {
	if d := due - time.Since(relayEpoch); d > 0 {
		time.Sleep(d)
	}
}

// relayHandshakeConn delays each flight the proxy sends during the TLS
// handshake by a round trip, so the client sees the handshake's round trips.
// A flight is the writes between two reads; after the handshake (done) it
// passes everything through.
type relayHandshakeConn struct {
	net.Conn
	rtt    time.Duration
	flight bool // a read happened since the last write: the next write starts a flight
	done   bool // set by the handshaking goroutine before the relay goroutines start
}

func (c *relayHandshakeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.done {
		c.flight = true
	}
	return n, err
}

func (c *relayHandshakeConn) Write(p []byte) (int, error) {
	if !c.done && c.flight {
		c.flight = false
		time.Sleep(c.rtt)
	}
	return c.Conn.Write(p)
}

var (
	relaySmallPool = sync.Pool{New: func() any { b := make([]byte, relaySmallBytes); return &b }}
	relayBigPool   = sync.Pool{New: func() any { b := make([]byte, relayBigBytes); return &b }}
)

// relayGet returns a read buffer: a big one when the last read filled its
// buffer (data is flowing), else a small one.
func relayGet(big bool) *[]byte {
	if big {
		return relayBigPool.Get().(*[]byte)
	}
	return relaySmallPool.Get().(*[]byte)
}

func relayPut(b *[]byte) {
	if len(*b) == relayBigBytes {
		relayBigPool.Put(b)
		return
	}
	relaySmallPool.Put(b)
}

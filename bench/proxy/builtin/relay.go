package builtin

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The goroutine relay: two goroutines per connection (four with Delay),
// over Go's blocking I/O. It serves platforms without the event loop, and
// RelayGoroutines (with or without Delay).

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
	dst, src := net.Conn(r.backend), net.Conn(r.client)
	if toClient {
		dst, src = r.client, r.backend
	}
	if r.s.cfg.Delay <= 0 {
		r.relayEnd(toClient, relayCopy(dst, src))
		return
	}
	q := make(chan relayChunk, relayQueueChunks)
	r.s.ln.Go(func() { r.relayWriteDelayed(dst, q, toClient) })
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
		r.s.ln.Untrack(r.raw, r.backend)
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

package builtin

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"

	"github.com/wssbench/wssbench/bench/evloop"
)

// evConn is the transport under the client's tls.Conn: the accepted TCP
// connection while the handshake runs (blocking I/O, deadlines), then, once
// an event loop has the socket (sock is set), the loop's non-blocking socket:
// reads return what the socket holds or evloop.ErrWouldBlock, and writes are
// staged for the loop to send (after the delay, if any), so crypto/tls never
// sees a write error it would keep.
//
// With a delay (rtt > 0), each flight the proxy sends during the handshake
// waits a round trip, as relayHandshakeConn does for the goroutine relay.
type evConn struct {
	net.Conn
	sock   *evloop.Socket // set by the loop goroutine, which alone uses the conn afterwards
	l      *evLoop
	rtt    time.Duration // 2 × Delay
	flight bool          // a read happened since the last write: the next write starts a flight
}

func (c *evConn) Read(p []byte) (int, error) {
	if c.sock == nil {
		n, err := c.Conn.Read(p)
		c.flight = true
		return n, err
	}
	return c.sock.Read(p)
}

func (c *evConn) Write(p []byte) (int, error) {
	if c.sock == nil {
		if c.rtt > 0 && c.flight {
			c.flight = false
			time.Sleep(c.rtt)
		}
		return c.Conn.Write(p)
	}
	c.l.stage = append(c.l.stage, p...)
	return len(p), nil
}

// Close, and the deadlines, do nothing in event mode: the loop owns the socket.
func (c *evConn) Close() error {
	if c.sock == nil {
		return c.Conn.Close()
	}
	return nil
}

func (c *evConn) SetDeadline(t time.Time) error {
	if c.sock == nil {
		return c.Conn.SetDeadline(t)
	}
	return nil
}

func (c *evConn) SetReadDeadline(t time.Time) error {
	if c.sock == nil {
		return c.Conn.SetReadDeadline(t)
	}
	return nil
}

func (c *evConn) SetWriteDeadline(t time.Time) error {
	if c.sock == nil {
		return c.Conn.SetWriteDeadline(t)
	}
	return nil
}

// evPair is one proxied connection in an event loop.
type evPair struct {
	l         *evLoop
	client    evSide
	backend   evSide
	tc        *tls.Conn
	tlsMore   bool        // crypto/tls may hold whole records: try a Read without an event
	keys      [2]net.Conn // the closed net.Conns: the Server's tracking keys
	linger    evloop.Timer
	lingering bool // the first direction ended cleanly: linger was scheduled
	added     bool // both sockets are on the loop
	closed    bool
}

// evSide is one socket of a pair, and its handler on the loop.
type evSide struct {
	sock       *evloop.Socket
	eof        bool   // its read side ended cleanly (EOF; for TLS, close_notify)
	shutWanted bool   // half-close asked for (the FIN follows the staged bytes)
	dq         []byte // bytes waiting out the delay, from dqHead on (Delay > 0)
	dqHead     int
	pair       *evPair
	conn       *evConn // the client side's transport; nil for the backend
}

// Ready moves the pair's bytes on (the loop has flushed what it could).
func (sd *evSide) Ready(*evloop.Socket) {
	if p := sd.pair; p.added {
		p.l.pump(p)
	}
}

// shut reports whether the side was half-closed and its FIN sent (the
// socket sends it once its staged bytes are).
func (sd *evSide) shut() bool { return sd.shutWanted && sd.sock.Pending() == 0 }

// pump moves a pair's bytes both ways until each direction waits for an
// event; it closes the pair after an error or once both directions ended.
func (l *evLoop) pump(p *evPair) {
	if p.closed {
		return
	}
	err := l.clientToBackend(p)
	if err == nil {
		err = l.backendToClient(p)
	}
	c, b := &p.client, &p.backend
	if err != nil || c.eof && b.eof && c.shut() && b.shut() {
		l.close(p)
	}
}

// clientToBackend relays decrypted client records to the backend until the
// client has no whole record, the backend's socket is full (back pressure:
// the client is not read while bytes wait for the backend) or the client
// ended.
func (l *evLoop) clientToBackend(p *evPair) error {
	c, b := &p.client, &p.backend
	for !c.eof && b.room() && (c.sock.Readable() || p.tlsMore) {
		off := 0
		var err error
		for off < len(l.buf) {
			var n int
			n, err = p.tc.Read(l.buf[off:])
			off += n
			if err != nil {
				break
			}
		}
		// What crypto/tls wrote while reading (an alert, a key update).
		if serr := l.sendStage(p); serr != nil {
			return serr
		}
		if oerr := l.emit(b, l.buf[:off]); oerr != nil {
			return oerr
		}
		switch {
		case err == nil:
			p.tlsMore = true // the buffer filled: more may be there
		case err == evloop.ErrWouldBlock:
			p.tlsMore = false
			return nil
		case errors.Is(err, io.EOF):
			c.eof = true
			return l.emitFin(p, b)
		default:
			return err
		}
	}
	return nil
}

// backendToClient relays the backend's bytes to the client as TLS records
// until the backend has nothing, the client's socket is full or the backend
// ended.
func (l *evLoop) backendToClient(p *evPair) error {
	c, b := &p.client, &p.backend
	for !b.eof && b.sock.Readable() && c.room() {
		n, err := b.sock.Read(l.buf)
		switch {
		case err == evloop.ErrWouldBlock:
			return nil
		case err == io.EOF:
			// close_notify ends the client's TLS reads; the FIN after it
			// serves clients that wait for the TCP connection to end.
			b.eof = true
			if err := p.tc.CloseWrite(); err != nil {
				return err
			}
			if err := l.sendStage(p); err != nil {
				return err
			}
			return l.emitFin(p, c)
		case err != nil:
			return err
		}
		if _, err := p.tc.Write(l.buf[:n]); err != nil {
			return err
		}
		if err := l.sendStage(p); err != nil {
			return err
		}
	}
	return nil
}

// sendStage sends the records crypto/tls wrote to the client (after the
// delay, if any).
func (l *evLoop) sendStage(p *evPair) error {
	err := l.emit(&p.client, l.stage)
	l.stage = l.stage[:0]
	return err
}

// out sends b to sd now; what the socket does not take is staged on it.
func (sd *evSide) out(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := sd.sock.Write(b)
	return err
}

// halfClose half-closes sd once its pending bytes are sent, and bounds how
// long the other direction may go on.
func (l *evLoop) halfClose(p *evPair, sd *evSide) error {
	sd.shutWanted = true
	l.startLinger(p)
	return sd.sock.CloseWrite()
}

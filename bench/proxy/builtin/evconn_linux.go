package builtin

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// evWouldBlock is the error of a read in event mode when the socket has no
// more bytes now. crypto/tls keeps a temporary net.Error non-sticky (also in
// the middle of a record: the bytes read so far stay in its input buffer), so
// tls.Conn.Read returns it and can be called again after the next event.
type evWouldBlock struct{}

func (evWouldBlock) Error() string   { return "would block" }
func (evWouldBlock) Timeout() bool   { return true }
func (evWouldBlock) Temporary() bool { return true }

var errWouldBlock net.Error = evWouldBlock{}

// evConn is the transport under the client's tls.Conn: the accepted TCP
// connection while the handshake runs (blocking I/O, deadlines), then, once
// an event loop has the socket (ev is set), the loop's non-blocking socket:
// reads return what the socket holds or errWouldBlock, and writes are staged
// for the loop to send, so crypto/tls never sees a write error it would keep.
//
// With a delay (rtt > 0), each flight the proxy sends during the handshake
// waits a round trip, as relayHandshakeConn does for the goroutine relay.
type evConn struct {
	net.Conn
	ev     *evSide       // set by the loop goroutine, which alone uses the conn afterwards
	rtt    time.Duration // 2 × Delay
	flight bool          // a read happened since the last write: the next write starts a flight
}

func (c *evConn) Read(p []byte) (int, error) {
	if c.ev == nil {
		n, err := c.Conn.Read(p)
		c.flight = true
		return n, err
	}
	return c.ev.read(p)
}

func (c *evConn) Write(p []byte) (int, error) {
	if c.ev == nil {
		if c.rtt > 0 && c.flight {
			c.flight = false
			time.Sleep(c.rtt)
		}
		return c.Conn.Write(p)
	}
	l := c.ev.pair.l
	l.stage = append(l.stage, p...)
	return len(p), nil
}

// Close, and the deadlines, do nothing in event mode: the loop owns the socket.
func (c *evConn) Close() error {
	if c.ev == nil {
		return c.Conn.Close()
	}
	return nil
}

func (c *evConn) SetDeadline(t time.Time) error {
	if c.ev == nil {
		return c.Conn.SetDeadline(t)
	}
	return nil
}

func (c *evConn) SetReadDeadline(t time.Time) error {
	if c.ev == nil {
		return c.Conn.SetReadDeadline(t)
	}
	return nil
}

func (c *evConn) SetWriteDeadline(t time.Time) error {
	if c.ev == nil {
		return c.Conn.SetWriteDeadline(t)
	}
	return nil
}

// evPair is one proxied connection in an event loop.
type evPair struct {
	l       *evLoop
	client  evSide
	backend evSide
	tc      *tls.Conn
	tlsMore bool        // crypto/tls may hold whole records: try a Read without an event
	keys    [2]net.Conn // the closed net.Conns: the Server's tracking keys
	linger  *time.Timer // set when the first direction ended cleanly
	closed  bool
}

// evSide is one socket of a pair. Readiness is edge-triggered: readable and
// writable are set by an event and cleared by EAGAIN or a short read or
// write.
type evSide struct {
	fd         int
	gen        uint32 // tells this registration from an earlier one of fd
	readable   bool
	writable   bool
	rdhup      bool // the peer's FIN (or an error) was seen: read until EOF
	eof        bool // its read side ended cleanly (EOF; for TLS, close_notify)
	shutWanted bool // half-close once pend is sent
	shut       bool // half-closed (FIN sent)
	pend       []byte
	dq         []byte // bytes waiting out the delay, from dqHead on (Delay > 0)
	dqHead     int
	pair       *evPair
	conn       *evConn // the client side's transport; nil for the backend
}

// read reads from the socket; errWouldBlock when it has nothing now.
func (sd *evSide) read(p []byte) (int, error) {
	if !sd.readable || len(p) == 0 {
		return 0, errWouldBlock
	}
	for {
		r, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(sd.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch errno {
		case 0:
			n := int(r)
			if n == 0 {
				return 0, io.EOF
			}
			// A short read emptied the socket: the next bytes bring an
			// event, so no read that would return EAGAIN is needed. Not
			// after a FIN was seen, which brings no further event.
			if n < len(p) && !sd.rdhup {
				sd.readable = false
			}
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			sd.readable = false
			return 0, errWouldBlock
		}
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", errno)}
	}
}

// write writes what the socket takes of b now.
func (sd *evSide) write(b []byte) (int, error) {
	for {
		r, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(sd.fd), uintptr(unsafe.Pointer(&b[0])),
			uintptr(len(b)), syscall.MSG_NOSIGNAL, 0, 0)
		switch errno {
		case 0:
			n := int(r)
			if n < len(b) {
				sd.writable = false // the send buffer is full: EPOLLOUT follows
			}
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			sd.writable = false
			return 0, nil
		}
		return 0, os.NewSyscallError("sendto", errno)
	}
}

// out sends b, keeping in pend what the socket does not take now (a copy:
// b is the loop's buffer).
func (sd *evSide) out(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if len(sd.pend) > 0 || !sd.writable {
		sd.pend = append(sd.pend, b...)
		return nil
	}
	n, err := sd.write(b)
	if err != nil {
		return err
	}
	if n < len(b) {
		sd.pend = append(sd.pend, b[n:]...)
	}
	return nil
}

// flush sends pend while the socket takes it, then the half-close, if one
// is wanted.
func (sd *evSide) flush() error {
	if len(sd.pend) > 0 && sd.writable {
		n, err := sd.write(sd.pend)
		if err != nil {
			return err
		}
		sd.pend = sd.pend[n:]
		if len(sd.pend) == 0 {
			sd.pend = nil
		}
	}
	if len(sd.pend) == 0 && sd.shutWanted && !sd.shut {
		sd.shut = true
		return syscall.Shutdown(sd.fd, syscall.SHUT_WR)
	}
	return nil
}

// pump moves a pair's bytes both ways until each direction waits for an
// event; it closes the pair after an error or once both directions ended.
func (l *evLoop) pump(p *evPair) {
	if p.closed {
		return
	}
	err := p.client.flush()
	if err == nil {
		err = p.backend.flush()
	}
	if err == nil {
		err = l.clientToBackend(p)
	}
	if err == nil {
		err = l.backendToClient(p)
	}
	c, b := &p.client, &p.backend
	if err != nil || c.eof && b.eof && c.shut && b.shut {
		l.close(p)
	}
}

// clientToBackend relays decrypted client records to the backend until the
// client has no whole record, the backend's socket is full (back pressure:
// the client is not read while bytes wait for the backend) or the client
// ended.
func (l *evLoop) clientToBackend(p *evPair) error {
	c, b := &p.client, &p.backend
	for !c.eof && b.room() && (c.readable || p.tlsMore) {
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
		case err == errWouldBlock:
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
	for !b.eof && b.readable && c.room() {
		n, err := b.read(l.buf)
		switch {
		case err == errWouldBlock:
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

// halfClose half-closes sd once its pending bytes are sent, and bounds how
// long the other direction may go on.
func (l *evLoop) halfClose(p *evPair, sd *evSide) error {
	sd.shutWanted = true
	l.startLinger(p)
	return sd.flush()
}

package evloop

import (
	"errors"
	"net"
	"time"
)

// ErrWouldBlock is a read on a loop's socket that has nothing now. It is a
// temporary net.Error (Timeout and Temporary are true), which crypto/tls does
// not keep: tls.Conn.Read returns it and may be called again after the next
// event.
var ErrWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "would block" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// ErrClosed is I/O on a closed socket, or an Attach to a loop that is down.
var ErrClosed = errors.New("evloop: socket closed")

// Conn is the transport under a tls.Conn (or a plain WebSocket): the
// net.Conn itself while the handshake runs (blocking I/O, deadlines), then,
// once its socket is on a loop (Attach), the loop's non-blocking socket:
// reads return what the socket holds or ErrWouldBlock, writes never block
// and never fail with EAGAIN. After Attach only the loop goroutine may use
// it, and the net.Conn (closed by then) is let go, with its addresses.
type Conn struct {
	net.Conn
	s *Socket
}

// LocalAddr is the net.Conn's, or nil once on a loop.
func (c *Conn) LocalAddr() net.Addr {
	if c.s != nil || c.Conn == nil {
		return nil
	}
	return c.Conn.LocalAddr()
}

// RemoteAddr is the net.Conn's, or nil once on a loop.
func (c *Conn) RemoteAddr() net.Addr {
	if c.s != nil || c.Conn == nil {
		return nil
	}
	return c.Conn.RemoteAddr()
}

// NewConn wraps c for the handshake.
func NewConn(c net.Conn) *Conn { return &Conn{Conn: c} }

// Socket returns the loop's socket, or nil before Attach.
func (c *Conn) Socket() *Socket { return c.s }

// Read reads from the net.Conn, or from the loop's socket once attached.
func (c *Conn) Read(p []byte) (int, error) {
	if c.s == nil {
		return c.Conn.Read(p)
	}
	return c.s.Read(p)
}

// Write writes to the net.Conn, or stages on the loop's socket once attached.
func (c *Conn) Write(p []byte) (int, error) {
	if c.s == nil {
		return c.Conn.Write(p)
	}
	return c.s.Write(p)
}

// Close closes the net.Conn, or the loop's socket once attached.
func (c *Conn) Close() error {
	if c.s == nil {
		return c.Conn.Close()
	}
	c.s.Close()
	return nil
}

// SetDeadline and its twins set the net.Conn's deadlines; on a loop they do
// nothing (the loop's timers bound its waits).
func (c *Conn) SetDeadline(t time.Time) error {
	if c.s == nil {
		return c.Conn.SetDeadline(t)
	}
	return nil
}

// SetReadDeadline: see SetDeadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.s == nil {
		return c.Conn.SetReadDeadline(t)
	}
	return nil
}

// SetWriteDeadline: see SetDeadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.s == nil {
		return c.Conn.SetWriteDeadline(t)
	}
	return nil
}

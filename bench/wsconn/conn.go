// Package wsconn frames WebSocket messages over an established connection with
// gobwas/ws. Buffers are owned by each Conn and allocated once (grown only when
// a larger frame arrives), so a steady echo loop allocates nothing per frame.
package wsconn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gobwas/ws"
)

// Errors a Conn returns. Callers classify them with errors.Is.
var (
	// ErrProtocol is a frame that breaks RFC 6455 (bad reserved bits, a masked
	// frame from a server, a fragmented control frame...).
	ErrProtocol = errors.New("websocket protocol error")
	// ErrFrameTooLarge is a frame longer than the connection's limit.
	ErrFrameTooLarge = errors.New("websocket frame too large")
)

// CloseError is returned by ReadFrame when the peer sent a close frame.
type CloseError struct {
	// Code is the peer's status code (1005 when it sent none).
	Code ws.StatusCode
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("websocket closed by peer (status %d)", e.Code)
}

// Conn reads and writes WebSocket frames on one connection. It is not safe for
// concurrent use: one goroutine reads and writes, which also keeps control
// replies from interleaving with data frames.
type Conn struct {
	nc        net.Conn
	r         io.Reader
	client    bool
	maxFrame  int64
	hbuf      [ws.MaxHeaderSize]byte
	wbuf      []byte // header + payload of the frame being written
	rbuf      []byte // payload of the last frame read
	closeSent bool   // a close frame was written
	closeRecv bool   // a close frame was read
	broken    bool   // a framing error left the stream unreadable
}

// Options tune a Conn.
type Options struct {
	// Client marks the client side: its frames are masked, and it expects
	// unmasked frames from the server.
	Client bool
	// MaxFrameBytes bounds an incoming frame's payload (default 1 MiB).
	MaxFrameBytes int64
	// Reader, if set, is read instead of the connection: for a bufio.Reader
	// that already holds bytes the peer sent during the upgrade.
	Reader io.Reader
	// BufferBytes sizes the write buffer (default 128); the read buffer fits
	// the first frame read.
	BufferBytes int
}

// New wraps an upgraded connection.
func New(nc net.Conn, o Options) *Conn {
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = 1 << 20
	}
	if o.BufferBytes <= 0 {
		o.BufferBytes = 128
	}
	c := &Conn{nc: nc, r: o.Reader, client: o.Client, maxFrame: o.MaxFrameBytes}
	if c.r == nil {
		c.r = nc
	}
	c.wbuf = make([]byte, 0, ws.MaxHeaderSize+o.BufferBytes)
	// rbuf is made by the first ReadFrame: a connection read with
	// ParseFrame (on an event loop) never needs it.
	return c
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// PutHeader encodes h into b (at least ws.MaxHeaderSize bytes) and returns the
// number of bytes written. It is the allocation-free twin of ws.WriteHeader
// for a caller that assembles a whole frame in one buffer.
func PutHeader(b []byte, h ws.Header) int {
	b[0] = h.Rsv<<4 | byte(h.OpCode)
	if h.Fin {
		b[0] |= 0x80
	}
	var n int
	switch {
	case h.Length <= 125:
		b[1] = byte(h.Length)
		n = 2
	case h.Length <= 0xffff:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:4], uint16(h.Length))
		n = 4
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:10], uint64(h.Length))
		n = 10
	}
	if h.Masked {
		b[1] |= 0x80
		n += copy(b[n:], h.Mask[:])
	}
	return n
}

// WriteFrame writes one frame with the given opcode and FIN bit. The header and
// payload go out in a single Write (one TLS record); p is not modified.
func (c *Conn) WriteFrame(op ws.OpCode, fin bool, p []byte) error {
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(p)), Masked: c.client}
	if c.client {
		h.Mask = ws.NewMask()
	}
	need := ws.MaxHeaderSize + len(p)
	if cap(c.wbuf) < need {
		c.wbuf = make([]byte, 0, need)
	}
	b := c.wbuf[:need]
	n := PutHeader(b, h)
	copy(b[n:], p)
	if c.client {
		ws.Cipher(b[n:n+len(p)], h.Mask, 0)
	}
	_, err := c.nc.Write(b[:n+len(p)])
	return err
}

// WriteMessage writes p as one unfragmented text or binary message.
func (c *Conn) WriteMessage(op ws.OpCode, p []byte) error { return c.WriteFrame(op, true, p) }

// ReadFrame reads the next data frame (text, binary or continuation). Pings are
// answered with pongs and pongs are skipped. A close frame is answered (once)
// and returned as *CloseError. The payload is valid until the next call.
func (c *Conn) ReadFrame() (ws.Header, []byte, error) {
	for {
		h, err := ws.ReadHeaderBuffer(c.r, c.hbuf[:])
		if err != nil {
			return h, nil, err
		}
		if err := c.check(h); err != nil {
			// The stream is out of step (the bad frame's payload is unread):
			// Close must not read any further (RFC 6455 §7.1.7).
			c.broken = true
			return h, nil, err
		}
		if int64(cap(c.rbuf)) < h.Length {
			c.rbuf = make([]byte, 0, h.Length)
		}
		p := c.rbuf[:h.Length]
		if _, err := io.ReadFull(c.r, p); err != nil {
			return h, nil, err
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			if err := c.WriteFrame(ws.OpPong, true, p); err != nil {
				return h, nil, err
			}
		case ws.OpPong:
		case ws.OpClose:
			code := ws.StatusNoStatusRcvd
			if len(p) == 1 {
				c.broken = true
				return h, nil, fmt.Errorf("%w: close frame with a 1-byte body", ErrProtocol)
			}
			if len(p) >= 2 {
				code = ws.StatusCode(binary.BigEndian.Uint16(p))
			}
			c.closeRecv = true
			if !c.closeSent {
				// The reply is best effort: the peer may already be gone.
				_ = c.writeClose(code)
			}
			return h, nil, &CloseError{Code: code}
		default:
			return h, p, nil
		}
	}
}

func (c *Conn) check(h ws.Header) error {
	switch {
	case h.Rsv != 0:
		return fmt.Errorf("%w: reserved bits set", ErrProtocol)
	case h.Masked == c.client:
		if c.client {
			return fmt.Errorf("%w: masked frame from server", ErrProtocol)
		}
		return fmt.Errorf("%w: unmasked frame from client", ErrProtocol)
	case h.OpCode.IsControl() && (!h.Fin || h.Length > 125):
		return fmt.Errorf("%w: fragmented or long control frame", ErrProtocol)
	case h.OpCode.IsReserved():
		return fmt.Errorf("%w: reserved opcode %d", ErrProtocol, h.OpCode)
	case h.Length > c.maxFrame:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, h.Length, c.maxFrame)
	}
	return nil
}

func (c *Conn) writeClose(code ws.StatusCode) error {
	c.closeSent = true
	var b [2]byte
	if code == ws.StatusNoStatusRcvd {
		return c.WriteFrame(ws.OpClose, true, nil)
	}
	binary.BigEndian.PutUint16(b[:], uint16(code))
	return c.WriteFrame(ws.OpClose, true, b[:])
}

// Close performs the closing handshake: it sends a close frame with code, waits
// up to timeout for the peer's close (discarding data frames still in flight),
// then closes the connection. It reports whether the handshake completed.
func (c *Conn) Close(code ws.StatusCode, timeout time.Duration) bool {
	defer c.nc.Close()
	if c.closeRecv {
		return true
	}
	if err := c.nc.SetDeadline(time.Now().Add(timeout)); err != nil {
		return false
	}
	if !c.closeSent {
		if err := c.writeClose(code); err != nil {
			return false
		}
	}
	if c.broken {
		return false
	}
	for {
		_, _, err := c.ReadFrame()
		var ce *CloseError
		if errors.As(err, &ce) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

package wsconn

import (
	"encoding/binary"
	"fmt"

	"github.com/gobwas/ws"
)

// parseHeader decodes a frame header from the start of b; ok is false when b
// does not hold the whole header yet. It is the allocation-free inverse of
// PutHeader.
func parseHeader(b []byte) (h ws.Header, n int, ok bool, err error) {
	if len(b) < 2 {
		return h, 0, false, nil
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] >> 4) & 0x07
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, 0, false, nil
		}
		h.Length = int64(binary.BigEndian.Uint16(b[2:4]))
		n = 4
	case 127:
		if len(b) < 10 {
			return h, 0, false, nil
		}
		v := binary.BigEndian.Uint64(b[2:10])
		if v>>63 != 0 {
			return h, 0, false, fmt.Errorf("%w: 64-bit length with its top bit set", ErrProtocol)
		}
		h.Length = int64(v)
		n = 10
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, false, nil
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	return h, n, true, nil
}

// ParseFrame is ReadFrame for a connection whose bytes arrive as they come
// (an event loop's): it handles the first frame in b, the bytes read from the
// connection so far and not yet consumed. It returns n = 0 and no error when
// b does not hold a whole frame yet; otherwise n bytes were consumed. A data
// frame is returned with its payload, a slice of b (unmasked in place). A
// ping is answered with a pong and a close (once) with a close, as ReadFrame
// does; both return their header and a nil payload, and a close returns
// *CloseError. A pong is returned with a nil payload.
func (c *Conn) ParseFrame(b []byte) (h ws.Header, p []byte, n int, err error) {
	if c.broken {
		return h, nil, 0, fmt.Errorf("%w: the stream is out of step", ErrProtocol)
	}
	h, hn, ok, err := parseHeader(b)
	if err == nil && ok {
		err = c.check(h)
	}
	if err != nil {
		c.broken = true
		return h, nil, 0, err
	}
	if !ok || int64(len(b)-hn) < h.Length {
		return h, nil, 0, nil
	}
	n = hn + int(h.Length)
	p = b[hn:n]
	if h.Masked {
		ws.Cipher(p, h.Mask, 0)
	}
	switch h.OpCode {
	case ws.OpPing:
		return h, nil, n, c.WriteFrame(ws.OpPong, true, p)
	case ws.OpPong:
		return h, nil, n, nil
	case ws.OpClose:
		code := ws.StatusNoStatusRcvd
		if len(p) == 1 {
			c.broken = true
			return h, nil, n, fmt.Errorf("%w: close frame with a 1-byte body", ErrProtocol)
		}
		if len(p) >= 2 {
			code = ws.StatusCode(binary.BigEndian.Uint16(p))
		}
		c.closeRecv = true
		if !c.closeSent {
			// The reply is best effort: the peer may already be gone.
			_ = c.writeClose(code)
		}
		return h, nil, n, &CloseError{Code: code}
	}
	return h, p, n, nil
}

// SendClose writes a close frame with code, once, without waiting for the
// peer's: an event loop waits for it with ParseFrame.
func (c *Conn) SendClose(code ws.StatusCode) error {
	if c.closeSent {
		return nil
	}
	return c.writeClose(code)
}

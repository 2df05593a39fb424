package target

import (
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/wsconn"
)

const (
	// echoBatch is how many echoed frames a connection counts locally before
	// it adds them to the server's total (one atomic add per batch).
	echoBatch = 64
	// closeTimeout bounds the server's side of a close handshake.
	closeTimeout = time.Second
)

// handle completes TLS and the upgrade, then echoes until the connection ends.
// A shutdown wakes it with a read deadline in the past; after every deadline
// it sets it checks Down, so a deadline set just after the wake-up cannot
// undo it (defect 6: a busy connection kept echoing until its client left).
func (s *Server) handle(raw net.Conn) {
	defer s.ln.Untrack(raw)
	s.accepted.Add(1)
	var nc net.Conn = raw
	if err := raw.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout)); err != nil || s.ln.Down() {
		raw.Close()
		return
	}
	if s.cfg.TLS != nil {
		tc := tls.Server(raw, s.cfg.TLS)
		if err := tc.Handshake(); err != nil {
			raw.Close()
			return
		}
		nc = tc
	}
	u := ws.Upgrader{Protocol: func([]byte) bool { return true }}
	var m *member
	var r *room
	if s.cfg.Rooms > 0 {
		// The member joins just before the 101 goes out, so a client that
		// saw its upgrade complete is in its room, and rooms fill in the
		// order the clients saw their upgrades complete.
		m = s.newMember()
		var uri string
		u.OnRequest = func(b []byte) error {
			uri = string(b)
			return nil
		}
		u.OnBeforeUpgrade = func() (ws.HandshakeHeader, error) {
			r = s.rooms.join(s.rooms.roomKey(uri, s.cfg.Rooms), m)
			return nil, nil
		}
	}
	if _, err := u.Upgrade(nc); err != nil {
		if r != nil {
			s.leave(r, m)
		}
		nc.Close()
		return
	}
	s.upgraded.Add(1)
	s.firstUpgrade.CompareAndSwap(0, int64(time.Since(s.epoch))+1)
	if s.cfg.Rooms == 0 && s.cfg.PushRate == 0 {
		s.echo(wsconn.New(nc, wsconn.Options{MaxFrameBytes: s.cfg.MaxFrameBytes}))
		return
	}
	// A second goroutine writes to the connection too.
	sc := &sharedConn{Conn: nc, raw: raw, idle: s.cfg.IdleTimeout}
	c := wsconn.New(sc, wsconn.Options{MaxFrameBytes: s.cfg.MaxFrameBytes})
	if s.cfg.Rooms > 0 {
		s.chat(c, sc, m, r)
		return
	}
	s.pushTo(c, sc)
}

// nextFrame reads c's next frame under the idle timeout. When the
// connection ends (an error, an idle timeout, the peer's close, or the
// server going down, which closes it with 1001) it says false and the
// connection is dealt with.
func (s *Server) nextFrame(c *wsconn.Conn) (ws.Header, []byte, bool) {
	nc := c.NetConn()
	if err := nc.SetDeadline(time.Now().Add(s.cfg.IdleTimeout)); err != nil {
		nc.Close()
		return ws.Header{}, nil, false
	}
	if s.ln.Down() {
		s.close(c, ws.StatusGoingAway)
		return ws.Header{}, nil, false
	}
	h, p, err := c.ReadFrame()
	if err != nil {
		s.ended(c, err)
		return h, nil, false
	}
	return h, p, true
}

// echo runs the echo loop until the peer closes, errs, idles out or the server
// shuts down.
func (s *Server) echo(c *wsconn.Conn) {
	nc := c.NetConn()
	var echoed int64
	defer func() { s.echoed.Add(echoed) }()
	for {
		if echoed >= echoBatch {
			s.echoed.Add(echoed)
			echoed = 0
		}
		h, p, ok := s.nextFrame(c)
		if !ok {
			return
		}
		if !s.wait() {
			s.close(c, ws.StatusGoingAway)
			return
		}
		if err := c.WriteFrame(h.OpCode, h.Fin, p); err != nil {
			nc.Close()
			return
		}
		echoed++
	}
}

// close runs the server's side of a close handshake and counts it if the
// peer answered.
func (s *Server) close(c *wsconn.Conn, code ws.StatusCode) {
	if sc, ok := c.NetConn().(*sharedConn); ok {
		sc.stop()
	}
	if s.ln.Down() {
		// This connection's wake-up may still be on its way; the close
		// handshake's deadline must come after it.
		<-s.ln.Stopping()
	}
	if c.Close(code, closeTimeout) {
		s.closes.Add(1)
	}
}

// wait holds a frame back for EchoDelay and through any stall window it falls
// in; false when the server began shutting down meanwhile.
func (s *Server) wait() bool {
	if s.cfg.EchoDelay <= 0 && len(s.cfg.Stalls) == 0 && s.capacity == nil {
		return true
	}
	d := s.cfg.EchoDelay
	if s.capacity != nil {
		// Past the capacity a frame waits its turn: its slot, then any delay.
		now := time.Now()
		d += s.capacity.reserve(now).Sub(now)
	}
	if len(s.cfg.Stalls) > 0 {
		if first := s.firstUpgrade.Load(); first > 0 {
			since := time.Since(s.epoch) - time.Duration(first-1)
			d = max(d, stallLeft(s.cfg.Stalls, since+d)+d)
		}
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ln.Stopping():
		return false
	}
}

// ended handles a ReadFrame error: the connection ends. It is out of echo's
// loop so that the error's targets do not
// escape to the heap on every frame.
func (s *Server) ended(c *wsconn.Conn, err error) {
	nc := c.NetConn()
	var ce *wsconn.CloseError
	switch {
	case errors.As(err, &ce):
		// ReadFrame answered the peer's close frame.
		s.closes.Add(1)
		nc.Close()
	case errors.Is(err, wsconn.ErrFrameTooLarge):
		s.close(c, ws.StatusMessageTooBig)
	case errors.Is(err, wsconn.ErrProtocol):
		s.close(c, ws.StatusProtocolError)
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			code := ws.StatusGoingAway
			if !s.ln.Down() {
				code = ws.StatusPolicyViolation // idle too long
			}
			s.close(c, code)
			return
		}
		nc.Close()
	}
}

package driver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/evloop"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/bench/wsconn"
)

// session is one upgraded connection and the buffers its loop owns.
type session struct {
	id      int
	ws      *wsconn.Conn
	op      ws.OpCode
	binary  bool
	payload []byte // the frame being sent, kept unmasked to check the echo
	seq     uint32
	timer   *time.Timer
	// ev and br are, for a connection that moves onto an event loop, its
	// transport and the bytes the server sent with the 101 (if any).
	ev *evloop.Conn
	br *bufio.Reader
}

func newSession(id int, c *conn, cfg *Config) *session {
	o := wsconn.Options{Client: true, BufferBytes: cfg.PayloadBytes, MaxFrameBytes: int64(cfg.PayloadBytes) + 1<<16}
	if c.br != nil {
		o.Reader = c.br
	}
	s := &session{id: id, ws: wsconn.New(c.nc, o), op: ws.OpText, binary: cfg.Binary, payload: newPayload(cfg.PayloadBytes), ev: c.ev}
	if c.ev != nil {
		s.br = c.br
	}
	if cfg.Binary {
		s.op = ws.OpBinary
	}
	return s
}

// idleRead waits in a read (answering pings) until a kick's deadline wakes it;
// a timeout is the kick and returns nil. Data frames from the peer are ignored.
func (s *session) idleRead() error {
	_, _, err := s.ws.ReadFrame()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return err
}

// echoOnce sends one stamped frame due at sched, waits for its echo, checks it
// and records its round trip. It allocates nothing.
func (s *session) echoOnce(ctx context.Context, d *Driver, sched time.Time) error {
	sentAt := time.Now()
	stamp(s.payload, s.binary, uint32(s.id), s.seq, sched.Sub(d.steadyStart).Nanoseconds())
	s.seq++
	if err := s.ws.NetConn().SetReadDeadline(sentAt.Add(d.cfg.FrameTimeout)); err != nil {
		return err
	}
	if err := s.ws.WriteMessage(s.op, s.payload); err != nil {
		return err
	}
	d.sent.Add(1)
	h, p, err := s.readEcho(ctx, sentAt.Add(d.cfg.FrameTimeout))
	if err != nil {
		d.lost.Add(1)
		return err
	}
	if h.OpCode != s.op || !bytes.Equal(p, s.payload) {
		// Not our echo: the stream can no longer be trusted, so the caller ends
		// the connection and the error is counted.
		d.lost.Add(1)
		return ErrEchoMismatch
	}
	now := time.Now()
	d.received.Add(1)
	// The latency is taken from the stamp the echo carries back.
	_, _, schedNs, _ := readStamp(p, s.binary)
	d.rec.Record(s.id, metrics.RTT, now.Sub(d.steadyStart.Add(time.Duration(schedNs))))
	d.rec.Record(s.id, metrics.RTTUncorrected, now.Sub(sentAt))
	return nil
}

// readEcho reads the next data frame by deadline. A timeout that comes early
// is a kick meant for a connection still idle (the steady-state start can
// race with a connection's first echo): the read is resumed, unless the run
// was interrupted.
func (s *session) readEcho(ctx context.Context, deadline time.Time) (ws.Header, []byte, error) {
	for {
		h, p, err := s.ws.ReadFrame()
		var ne net.Error
		if err != nil && errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil && time.Now().Before(deadline) {
			if err := s.ws.NetConn().SetReadDeadline(deadline); err != nil {
				return h, nil, err
			}
			continue
		}
		return h, p, err
	}
}

// steady runs the frame loop from steadyStart to steadyEnd: open loop at
// MsgRate (latency from the scheduled send time), or closed-loop ping-pong.
func (s *session) steady(ctx context.Context, d *Driver) error {
	var interval, offset time.Duration
	if d.cfg.MsgRate > 0 {
		interval = time.Duration(float64(time.Second) / d.cfg.MsgRate)
		// Spread connections evenly over one interval.
		offset = time.Duration(int64(interval) * int64(s.id%d.cfg.Conns) / int64(d.cfg.Conns))
	}
	for k := int64(0); ctx.Err() == nil; k++ {
		sched := time.Now()
		if interval > 0 {
			sched = d.steadyStart.Add(offset + time.Duration(k)*interval)
		}
		if !sched.Before(d.steadyEnd) {
			return nil
		}
		if wait := time.Until(sched); wait > 0 {
			if s.timer == nil {
				s.timer = time.NewTimer(wait)
			} else {
				s.timer.Reset(wait)
			}
			select {
			case <-s.timer.C:
			case <-ctx.Done():
				return nil
			}
			// The connection was free at sched: how late the timer woke us is
			// the generator's own slack (Go timers wake up to ~1 ms late), not
			// the target's doing. It is recorded as send_lag, and the round
			// trip is measured from the wake-up. A connection still waiting
			// for a slow echo at sched skips this branch, so that wait stays
			// in ws_rtt: the coordinated-omission correction.
			woke := time.Now()
			d.rec.Record(s.id, metrics.SendLag, woke.Sub(sched))
			sched = woke
		}
		if err := s.echoOnce(ctx, d, sched); err != nil {
			return err
		}
	}
	return nil
}

package driver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/evloop"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/bench/wsconn"
)

// Engine is how the driver runs connections once they are up.
type Engine string

// The engines.
const (
	// EngineLoops runs every connection of the steady and hold modes on
	// event loops, one per core: no goroutine, timer or read buffer per
	// connection. Connections are still set up (TCP, TLS, upgrade) by one
	// goroutine each, and the storm stays on goroutines.
	EngineLoops Engine = "loops"
	// EngineGoroutines gives each connection a goroutine, blocking I/O and
	// a timer of its own.
	EngineGoroutines Engine = "goroutines"
)

// DefaultEngine is loops where event loops run (Linux), goroutines elsewhere.
func DefaultEngine() Engine {
	if evloop.Supported {
		return EngineLoops
	}
	return EngineGoroutines
}

// EngineNames lists the engines this platform runs.
func EngineNames() []string {
	if evloop.Supported {
		return []string{string(EngineLoops), string(EngineGoroutines)}
	}
	return []string{string(EngineGoroutines)}
}

// Valid reports whether e names an engine this platform runs.
func (e Engine) Valid() bool {
	return e == EngineGoroutines || e == EngineLoops && evloop.Supported
}

// frameTimeout is an echo that did not come back within FrameTimeout.
type frameTimeout struct{ d time.Duration }

func (e frameTimeout) Error() string   { return fmt.Sprintf("no echo within %v", e.d) }
func (e frameTimeout) Timeout() bool   { return true }
func (e frameTimeout) Temporary() bool { return true }

// closeTimeout is a close handshake the peer did not complete in time.
var errCloseTimeout = errors.New("the peer did not answer the close frame in time")

// loopSet is the driver's event loops and the connections on them.
type loopSet struct {
	d     *Driver
	ctx   context.Context
	loops []*loopShard
	next  atomic.Uint32
	// live counts connections handed to a loop and not yet finished.
	live sync.WaitGroup
}

// loopShard is one loop and the connections it owns (touched only on its goroutine).
type loopShard struct {
	l     *evloop.Loop
	shard int // the histogram shard its connections record into
	conns []*loopConn
}

// newLoopSet starts n loops; Run sets ctx before any connection comes.
func newLoopSet(d *Driver, n int) (*loopSet, error) {
	ls := &loopSet{d: d, ctx: context.Background()}
	for i := range n {
		l, err := evloop.NewWith(evloop.Options{Slack: d.cfg.TimerSlack})
		if err != nil {
			ls.shutdown()
			return nil, err
		}
		ls.loops = append(ls.loops, &loopShard{l: l, shard: i})
		go l.Run()
	}
	return ls, nil
}

// shutdown ends every loop (closing what is still on them) and waits.
func (ls *loopSet) shutdown() {
	for _, sh := range ls.loops {
		sh.l.Shutdown()
	}
	for _, sh := range ls.loops {
		<-sh.l.Done()
	}
}

// each runs f for every connection, on its loop's goroutine.
func (ls *loopSet) each(f func(c *loopConn)) {
	for _, sh := range ls.loops {
		sh.l.Post(func() {
			// f may finish connections, which edits sh.conns.
			for _, c := range append([]*loopConn(nil), sh.conns...) {
				f(c)
			}
		})
	}
}

// attach moves an upgraded connection onto the next loop.
func (ls *loopSet) attach(s *session) {
	sh := ls.loops[int(ls.next.Add(1))%len(ls.loops)]
	lc := &loopConn{ls: ls, sh: sh, s: s, d: ls.d, rd: s.ws.NetConn()}
	lc.timer.F = lc.fire
	if ls.d.cfg.Workload != nil {
		lc.w = ls.d.newScript(s.id)
	}
	if s.br != nil && s.br.Buffered() > 0 {
		// Frames the server sent with the 101.
		pre, _ := s.br.Peek(s.br.Buffered())
		lc.part = append([]byte(nil), pre...)
	}
	s.br = nil
	ev := s.ev
	s.ev = nil
	ls.live.Add(1)
	sh.l.Attach(ev, lc, func(sock *evloop.Socket, err error) {
		if err != nil {
			ls.d.frameError(ls.ctx, err)
			ls.d.open.Add(-1)
			ls.live.Done()
			return
		}
		lc.sock = sock
		lc.i = len(sh.conns)
		sh.conns = append(sh.conns, lc)
		if lc.w != nil {
			lc.w.rt.established.Add(1)
			lc.runSteps()
			if lc.done {
				return
			}
		}
		switch ls.d.phase.Load() {
		case phaseSteady:
			lc.late = true
			lc.startSteady() // up after the steady start: a late joiner begins now
		case phaseClose:
			lc.beginClose()
		}
	})
}

// loopConn is one connection on a loop: its framing, its place in the
// schedule and one timer (the next send, the echo's deadline or the close's).
type loopConn struct {
	ls   *loopSet
	sh   *loopShard
	d    *Driver
	s    *session
	rd   io.Reader // what frames are read from: the tls.Conn or the plain conn
	sock *evloop.Socket
	i    int // index in sh.conns
	// part holds the bytes of a frame not read whole yet (nil almost always).
	part  []byte
	timer evloop.Timer
	// The schedule: frame k is due at base + k·interval (loop clock, ns).
	base, interval, end int64
	k                   int64
	// The frame in flight: when it was due and when it left.
	sched, sentAt int64
	inflight      bool
	steady        bool // in the steady phase (sending)
	closing       bool // the close frame is sent
	done          bool
	// w is the connection's workload state (nil: the stamped echo).
	w *script
	// draining: the close waits for answers to requests still open.
	draining bool
	// shed: a stage closes this connection (counted in Driver.shedding).
	shed bool
	// late: the connection joined the steady window after its start (a
	// reconnect, a staged dial, steps that ended late): its schedule starts
	// at its next due frame, and what it missed before it was up is not
	// send lag.
	late bool
}

// Ready reads what the connection holds and handles every whole frame.
func (c *loopConn) Ready(*evloop.Socket) {
	buf := c.sh.l.Buffer()
	for !c.done {
		var b []byte
		var n int
		var err error
		if len(c.part) < len(buf)/2 {
			off := copy(buf, c.part)
			n, err = c.rd.Read(buf[off:])
			b = buf[:off+n]
		} else {
			// A frame larger than half the loop's buffer gathers in its own.
			if cap(c.part)-len(c.part) < len(buf)/2 {
				c.part = append(make([]byte, 0, 2*cap(c.part)), c.part...)
			}
			n, err = c.rd.Read(c.part[len(c.part):cap(c.part)])
			b = c.part[:len(c.part)+n]
		}
		if len(b) > 0 {
			// The frames' clock reading: right after the read that brought
			// them (or, for frames sent with the 101, when first looked at).
			now := c.sh.l.Now()
			if perr := c.frames(b, now); perr != nil {
				c.fail(perr)
				return
			}
		}
		if err != nil {
			if errors.Is(err, evloop.ErrWouldBlock) {
				return
			}
			c.fail(err)
			return
		}
	}
}

// frames handles the whole frames at the start of b and keeps the rest.
func (c *loopConn) frames(b []byte, now int64) error {
	for len(b) > 0 && !c.done {
		h, p, n, err := c.s.ws.ParseFrame(b)
		if err != nil {
			var ce *wsconn.CloseError
			if errors.As(err, &ce) && c.closing {
				c.d.clean.Add(1)
				c.finish()
				return nil
			}
			return err
		}
		if n == 0 {
			break
		}
		if p != nil || h.OpCode.IsData() {
			handle := c.echo
			if c.w != nil {
				handle = c.scripted
			}
			if err := handle(h, p, now); err != nil {
				return err
			}
		}
		b = b[n:]
	}
	if len(b) > 0 {
		c.part = append(c.part[:0], b...)
	} else if c.part != nil {
		c.part = c.part[:0]
	}
	return nil
}

// echo checks a data frame against the frame in flight and records its
// round trip; a data frame with none in flight is ignored.
func (c *loopConn) echo(h ws.Header, p []byte, now int64) error {
	if !c.inflight {
		return nil
	}
	c.inflight = false
	s := c.s
	if !h.Fin || h.OpCode != s.op || !bytes.Equal(p, s.payload) {
		c.d.lost.Add(1)
		return ErrEchoMismatch
	}
	c.d.received.Add(1)
	shard := c.sh.shard
	c.d.rec.Record(shard, metrics.RTT, time.Duration(now-c.sched))
	c.d.rec.Record(shard, metrics.RTTUncorrected, time.Duration(now-c.sentAt))
	if c.closing {
		return nil // the last echo: the close frame follows it
	}
	if c.ls.d.phase.Load() == phaseClose {
		c.beginClose()
		return nil
	}
	c.advance()
	c.next(now)
	return nil
}

// startSteady begins the connection's schedule at the steady start.
func (c *loopConn) startSteady() {
	if c.done || c.steady || c.closing {
		return
	}
	if !c.stepsDone() {
		c.w.wantSteady = true // the steps' end starts it
		return
	}
	d := c.d
	l := c.sh.l
	c.steady = true
	c.base, c.end = l.Clock(d.steadyStart), l.Clock(d.steadyEnd)
	rate := d.cfg.MsgRate
	if c.w != nil {
		rate = c.w.role.Rate
	}
	if d.cfg.Stages != nil {
		// A staged run: connections come and go throughout, at the rate of
		// the stage they are in, spread over one interval from now.
		now := l.Now()
		c.interval = c.stageInterval(now)
		c.base = now + c.interval*int64(c.s.id%d.cfg.Conns)/int64(d.cfg.Conns)
		if !d.cfg.Mode.Streams() || c.w != nil && !c.w.role.Sends() {
			return
		}
		c.k = 0
		c.next(now)
		return
	}
	if rate > 0 {
		c.interval = int64(float64(time.Second) / rate)
		// Spread connections evenly over one interval.
		c.base += c.interval * int64(c.s.id%d.cfg.Conns) / int64(d.cfg.Conns)
	}
	if !d.cfg.Mode.Streams() || c.w != nil && !c.w.role.Sends() {
		return // hold, or a role that only receives: nothing to send
	}
	c.k = 0
	now := l.Now()
	if c.late && c.interval > 0 && c.base < now {
		c.k = (now - c.base + c.interval - 1) / c.interval
	} else if c.interval > 0 && c.base < now {
		// The loop came to this connection after its first frame was due
		// (it walks its connections in turn): the connection was free, so
		// the frame due last leaves now, late, and the schedule goes on
		// from it.
		c.k = (now - c.base) / c.interval
		if due := c.base + c.k*c.interval; due < c.end {
			c.sendLate(due)
			return
		}
	}
	c.next(now)
}

// next sends the next frame of the schedule now, or sets the timer for it.
func (c *loopConn) next(now int64) {
	due := now
	if c.interval > 0 {
		due = c.base + c.k*c.interval
	}
	if due >= c.end {
		c.steady = false // the schedule is done; the close phase ends it
		c.sh.l.Cancel(&c.timer)
		return
	}
	if due > now {
		c.sh.l.Schedule(&c.timer, due)
		return
	}
	// Due already: the connection was busy at due (its last echo came late),
	// so the wait stays in ws_rtt, measured from due (the coordinated-
	// omission correction).
	c.send(due, now)
}

// fire is the connection's timer: a send due, an echo or a close overdue.
func (c *loopConn) fire(now int64) {
	switch {
	case c.done:
	case c.closing:
		c.fail(errCloseTimeout)
	case c.w != nil && c.w.await:
		c.expectMissed()
	case c.draining:
		c.draining = false
		c.w.dropOpen(&c.d.lost)
		c.beginClose()
	case c.w != nil && c.w.open > 0 && c.interval == 0:
		c.fail(frameTimeout{c.d.cfg.FrameTimeout})
	case c.inflight:
		c.fail(frameTimeout{c.d.cfg.FrameTimeout})
	case c.steady:
		c.sendLate(c.timer.When())
	}
}

// sendLate sends a frame due at due from a connection that was free then:
// how late it leaves (the loop's wake-up grid, or a busy loop: the
// generator's own slack, not the target's doing) is send_lag, and its round
// trip is measured from the loop's clock at the send, read now (not the
// turn's reading: earlier sends of the same turn took their time).
func (c *loopConn) sendLate(due int64) {
	now := c.sh.l.Now()
	c.d.rec.Record(c.sh.shard, metrics.SendLag, time.Duration(max(now-due, 0)))
	c.send(now, now)
}

// send stamps and writes the next frame, due at sched, and sets the echo's deadline.
func (c *loopConn) send(sched, now int64) {
	if c.w != nil {
		c.scriptedSend(sched, now)
		return
	}
	s, d := c.s, c.d
	stamp(s.payload, s.binary, uint32(s.id), s.seq, sched-c.sh.l.Clock(d.steadyStart))
	s.seq++
	c.sched = sched
	c.sentAt = c.sh.l.Now()
	if err := s.ws.WriteMessage(s.op, s.payload); err != nil {
		c.fail(err)
		return
	}
	d.sent.Add(1)
	c.inflight = true
	c.sh.l.Schedule(&c.timer, c.sentAt+int64(d.cfg.FrameTimeout))
}

// beginClose starts the close handshake, after the echo in flight (if any).
func (c *loopConn) beginClose() {
	if c.done || c.closing {
		return
	}
	c.steady = false
	if c.inflight && c.ls.ctx.Err() == nil {
		return // echo() closes once the last echo is in
	}
	if c.drainReplies() {
		return // reply() closes once the last answer is in
	}
	c.w.dropOpen(&c.d.lost)
	if c.inflight {
		c.inflight = false
		c.d.lost.Add(1)
	}
	c.closing = true
	if err := c.s.ws.SendClose(ws.StatusNormalClosure); err != nil {
		c.finish()
		return
	}
	c.sh.l.Schedule(&c.timer, c.sh.l.Now()+int64(c.d.cfg.CloseTimeout))
}

// fail counts err (unless the run was interrupted, or the close was under
// way) and ends the connection; a frame in flight is lost.
func (c *loopConn) fail(err error) {
	if c.done {
		return
	}
	if st := c.d.storm; st != nil && st.armed.Load() && !c.closing && c.ls.ctx.Err() == nil {
		c.lost() // the storm's doing (the target restarted): it comes back
		return
	}
	if c.inflight {
		c.inflight = false
		c.d.lost.Add(1)
	}
	c.w.dropOpen(&c.d.lost)
	if !c.closing {
		c.d.frameError(c.ls.ctx, err)
		if c.w != nil && !interrupted(c.ls.ctx) {
			c.w.rt.t.fail(Classify(PhaseFrame, err), err)
		}
	}
	c.finish()
}

// finish closes the socket and takes the connection off its loop.
func (c *loopConn) finish() {
	if c.done {
		return
	}
	c.done = true
	c.sh.l.Cancel(&c.timer)
	c.sock.Close()
	sh := c.sh
	last := len(sh.conns) - 1
	sh.conns[c.i] = sh.conns[last]
	sh.conns[c.i].i = c.i
	sh.conns[last] = nil
	sh.conns = sh.conns[:last]
	c.d.open.Add(-1)
	if c.shed {
		c.d.shedding.Add(-1)
	}
	c.ls.live.Done()
}

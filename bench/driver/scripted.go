package driver

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/bench/workload"
)

// A workload (Config.Workload) runs on the loops engine: each connection's
// role gives it steps to run as it comes up (sends, and expects that wait for
// a matching frame), then a steady pattern (send a template at a rate,
// receive only, or both), and says how latency is taken (echo, reply, stamp).

// RoleStats is what one role's connections counted.
type RoleStats struct {
	Name                       string
	Planned, Established       int64
	FramesSent, FramesReceived int64
	Errors                     map[string]int64
	ErrorSamples               map[string]string
}

// roleTally counts one role; its recorder holds its latency and delivery.
type roleTally struct {
	role                                   *workload.Role
	established, sent, received, delivered atomic.Int64
	rec                                    *metrics.Recorder
	t                                      *tally
}

// RoleRecorder returns role i's recorder (its Latency in metrics.RTT, its
// Delivery in metrics.Delivery); nil without a workload with roles.
func (d *Driver) RoleRecorder(i int) *metrics.Recorder {
	if i < 0 || i >= len(d.roles) {
		return nil
	}
	return d.roles[i].rec
}

// replyRing is how many requests one connection may have awaiting replies:
// a request still unanswered when its slot comes round again is lost.
const replyRing = 64

type pendingReq struct {
	seq           uint32
	sched, sentAt int64
	open          bool
}

// script is a loopConn's workload state.
type script struct {
	rt    *roleTally
	role  *workload.Role
	vars  workload.Vars
	step  int // the next step; len(steps) once they are done
	await bool
	// wantSteady is set when the steady start came while steps still ran.
	wantSteady bool
	// what came while an expect waited: how many frames, the last one and why it missed.
	seen     int
	lastSeen string
	buf      []byte
	ring     []pendingReq
	open     int // requests awaiting a reply
}

// newScript gives connection id its role's state.
func (d *Driver) newScript(id int) *script {
	p := d.cfg.Workload
	ri, idx := p.RoleOf(id)
	rt := d.roles[ri]
	sc := &script{rt: rt, role: rt.role, vars: workload.Vars{Conn: id, Index: idx, Role: rt.role.Name, Rand: workload.NewRand(uint64(id) + 1)}}
	if p.Mode == workload.Reply && rt.role.Sends() {
		sc.ring = make([]pendingReq, replyRing)
	}
	return sc
}

// unixNs is the loop clock reading now as Unix nanoseconds.
func (c *loopConn) unixNs(now int64) int64 { return c.sh.l.Time(now).UnixNano() }

// runSteps runs steps from the current one until one waits, or all are done.
func (c *loopConn) runSteps() {
	w := c.w
	steps := w.role.Steps
	for w.step < len(steps) && !c.done {
		st := &steps[w.step]
		if st.Expect != nil {
			w.await, w.seen, w.lastSeen = true, 0, ""
			c.sh.l.Schedule(&c.timer, c.sh.l.Now()+int64(st.Timeout))
			return
		}
		if err := c.writeTemplate(st.Send, st.Binary); err != nil {
			c.fail(err)
			return
		}
		w.step++
	}
	if w.wantSteady && !c.done {
		w.wantSteady = false
		c.late = true // the steady window began while the steps ran
		c.startSteady()
	}
}

// stepsDone reports whether the connection's steps have all run.
func (c *loopConn) stepsDone() bool { return c.w == nil || c.w.step >= len(c.w.role.Steps) }

// writeTemplate renders t and sends it as one frame.
func (c *loopConn) writeTemplate(t *workload.Template, binary bool) error {
	w := c.w
	w.vars.NowNs = c.unixNs(c.sh.l.Now())
	w.buf = t.Append(w.buf[:0], &w.vars)
	w.vars.Seq++
	op := ws.OpText
	if binary {
		op = ws.OpBinary
	}
	if err := c.s.ws.WriteMessage(op, w.buf); err != nil {
		return err
	}
	c.d.sent.Add(1)
	w.rt.sent.Add(1)
	return nil
}

// expectMissed ends a connection whose expect timed out, saying what came instead.
func (c *loopConn) expectMissed() {
	w := c.w
	st := &w.role.Steps[w.step]
	msg := fmt.Sprintf("step %d: no %s within %v", w.step+1, st.Expect, st.Timeout)
	if w.seen == 0 {
		msg += "; nothing came"
	} else {
		msg += fmt.Sprintf("; came instead (%d frames, the last): %s", w.seen, w.lastSeen)
	}
	w.await = false
	c.fail(&classError{class: ErrExpectTimeout, msg: msg})
}

// scripted handles a data frame of a workload connection.
func (c *loopConn) scripted(h ws.Header, p []byte, now int64) error {
	w, d := c.w, c.d
	d.received.Add(1)
	w.rt.received.Add(1)
	if w.await {
		st := &w.role.Steps[w.step]
		ok, why := st.Expect.Match(p)
		if !ok {
			w.seen++
			w.lastSeen = workload.Sample(p) + " (" + why + ")"
			return nil
		}
		w.await = false
		c.sh.l.Cancel(&c.timer)
		w.step++
		c.runSteps()
		return nil
	}
	plan := d.cfg.Workload
	switch plan.Mode {
	case workload.Stamp:
		ts, ok := plan.Extract.Number(p)
		if !ok {
			return nil // not a delivery: counted as received only
		}
		lat := time.Duration(max(c.unixNs(now)-ts, 0))
		d.delivered.Add(1)
		w.rt.delivered.Add(1)
		d.rec.Record(c.sh.shard, metrics.Delivery, lat)
		if w.rt.rec != nil {
			w.rt.rec.Record(c.sh.shard, metrics.Delivery, lat)
		}
	case workload.Reply:
		return c.reply(p, now)
	default:
		return c.scriptedEcho(h, p, now)
	}
	return nil
}

// scriptedEcho checks an echo of a rendered frame, as echo does for the stamped payload.
func (c *loopConn) scriptedEcho(h ws.Header, p []byte, now int64) error {
	if !c.inflight {
		return nil
	}
	c.inflight = false
	w := c.w
	if !h.Fin || !bytes.Equal(p, w.buf) {
		c.d.lost.Add(1)
		return ErrEchoMismatch
	}
	c.answered(now, c.sched, c.sentAt)
	if c.closing {
		return nil
	}
	if c.d.phase.Load() == phaseClose {
		c.beginClose()
		return nil
	}
	c.advance()
	c.next(now)
	return nil
}

// answered records a request's latency, from its scheduled and actual send.
func (c *loopConn) answered(now, sched, sentAt int64) {
	shard := c.sh.shard
	c.d.rec.Record(shard, metrics.RTT, time.Duration(now-sched))
	c.d.rec.Record(shard, metrics.RTTUncorrected, time.Duration(now-sentAt))
	if r := c.w.rt.rec; r != nil {
		r.Record(shard, metrics.RTT, time.Duration(now-sched))
		r.Record(shard, metrics.RTTUncorrected, time.Duration(now-sentAt))
	}
}

// reply correlates an answer with its request by the sequence it carries.
func (c *loopConn) reply(p []byte, now int64) error {
	w := c.w
	seq, ok := c.d.cfg.Workload.Extract.Number(p)
	if !ok || w.ring == nil {
		return nil // not an answer (a push, a notice): counted as received only
	}
	slot := &w.ring[uint64(seq)%replyRing]
	if !slot.open || int64(slot.seq) != seq {
		c.d.t.fail(ErrReplyUnmatched, fmt.Errorf("an answer carries sequence %d, which no request awaiting an answer has: %s", seq, workload.Sample(p)))
		w.rt.t.fail(ErrReplyUnmatched, nil)
		return nil
	}
	slot.open = false
	w.open--
	c.answered(now, slot.sched, slot.sentAt)
	if c.draining {
		if w.open == 0 {
			c.draining = false
			c.beginClose()
		}
		return nil
	}
	if c.interval == 0 && c.steady && !c.closing {
		c.sh.l.Cancel(&c.timer)
		if c.d.phase.Load() == phaseClose {
			c.beginClose()
			return nil
		}
		c.advance()
		c.next(now) // closed loop: the next request goes when this one is answered
	}
	return nil
}

// scriptedSend sends the steady pattern's next frame, due at sched.
func (c *loopConn) scriptedSend(sched, now int64) {
	w, d := c.w, c.d
	r := w.role
	seq := w.vars.Seq
	if r.EchoPayload {
		// The stamped payload of size bytes, as a plain echo run sends.
		if w.buf == nil {
			w.buf = newPayload(d.cfg.PayloadBytes)
		}
		stamp(w.buf, r.Binary, uint32(c.s.id), seq, sched-c.sh.l.Clock(d.steadyStart))
		w.vars.Seq++
		op := ws.OpText
		if r.Binary {
			op = ws.OpBinary
		}
		if err := c.s.ws.WriteMessage(op, w.buf); err != nil {
			c.fail(err)
			return
		}
		d.sent.Add(1)
		w.rt.sent.Add(1)
	} else if err := c.writeTemplate(r.Send, r.Binary); err != nil {
		c.fail(err)
		return
	}
	d.published.Add(1)
	c.sched, c.sentAt = sched, c.sh.l.Now()
	switch d.cfg.Workload.Mode {
	case workload.Echo:
		c.inflight = true
		c.sh.l.Schedule(&c.timer, c.sentAt+int64(d.cfg.FrameTimeout))
	case workload.Reply:
		slot := &w.ring[uint64(seq)%replyRing]
		if slot.open {
			d.lost.Add(1) // a whole ring of requests later, still no answer
			w.open--
		}
		*slot = pendingReq{seq: seq, sched: sched, sentAt: c.sentAt, open: true}
		w.open++
		if c.interval == 0 {
			// Closed loop: the answer sends the next; wait for it at most FrameTimeout.
			c.sh.l.Schedule(&c.timer, c.sentAt+int64(d.cfg.FrameTimeout))
			return
		}
		c.openLoopNext()
	default:
		c.openLoopNext()
	}
}

// openLoopNext sets the timer for the next frame of an open-loop schedule
// that does not wait for answers. A frame already due leaves on the timer's
// next turn, and its lateness is send_lag, so a loop that falls behind
// catches up without recursing.
func (c *loopConn) openLoopNext() {
	c.advance()
	due := c.base + c.k*c.interval
	if c.interval <= 0 || due >= c.end {
		c.steady = false
		c.sh.l.Cancel(&c.timer)
		return
	}
	c.sh.l.Schedule(&c.timer, due)
}

// drainReplies is the close of a connection with requests awaiting answers:
// it waits for them at most FrameTimeout; what is still open then is lost.
func (c *loopConn) drainReplies() bool {
	w := c.w
	if w == nil || w.open == 0 || c.draining || c.ls.ctx.Err() != nil {
		return false
	}
	c.draining = true
	c.steady = false
	c.sh.l.Schedule(&c.timer, c.sh.l.Now()+int64(c.d.cfg.FrameTimeout))
	return true
}

// dropOpen gives up the requests still awaiting answers, counting them in
// into: the run's lost frames, or a storm's frames cut.
func (w *script) dropOpen(into *atomic.Int64) {
	if w != nil && w.open > 0 {
		into.Add(int64(w.open))
		w.open = 0
		for i := range w.ring {
			w.ring[i].open = false
		}
	}
}

package driver

import (
	"context"
	"sync"
	"time"

	"github.com/wssbench/wssbench/bench/pace"
	"github.com/wssbench/wssbench/bench/workload"
)

// The steady and hold modes: every connection is opened during the ramp and
// held until the window ends; then all close together.

// deliveryGrace is how long receivers of stamped frames stay after the
// steady window, for the deliveries of its last frames.
const deliveryGrace = 250 * time.Millisecond

// runHeld is the steady and hold modes: ramp, then all connections at once.
func (d *Driver) runHeld(ctx context.Context, marks *Stats) {
	if d.cfg.Stages != nil {
		d.steadyStart = time.Now()
		d.steadyEnd = d.steadyStart.Add(d.cfg.Stages.Length())
		d.mark(marks, PhaseSteady)
		d.setPhase(phaseSteady)
		if d.storm != nil {
			go d.runReconnectStorm(ctx)
		}
		d.runStaged(ctx)
		d.endSteady(ctx, marks)
		return
	}
	start := time.Now()
	var dialed, done sync.WaitGroup
	for i := 0; i < d.cfg.Conns; i++ {
		if !pace.SleepUntil(ctx, start.Add(d.cfg.Arrival.At(int64(i)))) {
			break
		}
		dialed.Add(1)
		go func(id int) {
			s, ok := d.open1(ctx, id)
			if ok && d.loops != nil {
				d.loops.attach(s)
				dialed.Done()
				return
			}
			if ok {
				d.register(s)
				done.Add(1)
			}
			dialed.Done()
			if !ok {
				return
			}
			// The handshake grew this goroutine's stack (ML-KEM, signature
			// checks); a fresh goroutine holds the connection with a small one.
			go func() {
				defer done.Done()
				d.connection(ctx, s)
			}()
		}(i)
	}
	dialed.Wait()
	if ctx.Err() == nil && d.cfg.AwaitSteady != nil {
		if err := d.cfg.AwaitSteady(ctx); err != nil && ctx.Err() == nil {
			d.t.fail("barrier", err)
			d.steadyFailed = true
		}
	}
	if ctx.Err() == nil && !d.steadyFailed {
		d.steadyStart = time.Now()
		d.steadyEnd = d.steadyStart.Add(d.cfg.Duration)
		d.mark(marks, PhaseSteady)
		d.setPhase(phaseSteady)
		if d.loops != nil {
			d.loops.each((*loopConn).startSteady)
		}
		if d.storm != nil {
			go d.runReconnectStorm(ctx)
		}
		pace.SleepUntil(ctx, d.steadyEnd)
	}
	d.endSteady(ctx, marks)
	done.Wait()
}

// endSteady ends the steady window: receivers of stamped frames stay a
// moment for the last deliveries, then every connection closes.
func (d *Driver) endSteady(ctx context.Context, marks *Stats) {
	if w := d.cfg.Workload; w != nil && w.Mode == workload.Stamp && !d.steadyFailed {
		// The last frames published are still on their way through the
		// server: receivers stay a moment before they close.
		pace.SleepUntil(ctx, time.Now().Add(deliveryGrace))
	}
	d.mark(marks, PhaseClose)
	if d.cfg.Mode.Streams() && ctx.Err() == nil {
		// Steady connections end their own loops at steadyEnd, after their last
		// echo: a kick now would cut that echo short.
		d.phase.Store(phaseClose)
	} else {
		d.setPhase(phaseClose)
	}
	if d.storm != nil {
		d.storm.wg.Wait() // reconnects under way attach, and close with the rest
	}
	if d.loops != nil {
		d.loops.each((*loopConn).beginClose)
		d.loops.live.Wait()
	}
}

// setPhase moves the run to phase p and wakes connections waiting in a read.
func (d *Driver) setPhase(p int32) {
	d.phase.Store(p)
	d.kickAll()
}

// kickAll interrupts every connection blocked in a read, so it re-checks the phase.
func (d *Driver) kickAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	for _, s := range d.sessions {
		// An error here means the connection is already closed: nothing to wake.
		_ = s.ws.NetConn().SetReadDeadline(now)
	}
}

func (d *Driver) register(s *session) {
	d.mu.Lock()
	d.sessions[s.id] = s
	d.mu.Unlock()
}

func (d *Driver) unregister(s *session) {
	d.mu.Lock()
	delete(d.sessions, s.id)
	d.mu.Unlock()
}

// connection is one registered connection's life in the steady and hold modes.
func (d *Driver) connection(ctx context.Context, s *session) {
	defer d.finish(s)
	defer d.unregister(s)
	// Wait (reading, so pings are answered) until steady state or the close.
	for d.phase.Load() == phaseConnect && ctx.Err() == nil {
		if err := s.idleRead(); err != nil {
			d.frameError(ctx, err)
			return
		}
	}
	if d.cfg.Mode.Streams() {
		if d.phase.Load() == phaseSteady && ctx.Err() == nil {
			if err := s.steady(ctx, d); err != nil {
				d.frameError(ctx, err)
			}
		}
		return
	}
	// Clear the steady kick's deadline before checking the phase again, so a
	// later kick (the close) is never lost and an old one never spins the loop.
	if err := s.ws.NetConn().SetReadDeadline(time.Time{}); err != nil {
		return
	}
	for d.phase.Load() == phaseSteady && ctx.Err() == nil {
		if err := s.idleRead(); err != nil {
			d.frameError(ctx, err)
			return
		}
	}
}

// Package driver opens WebSocket connections phase by phase (TCP, TLS,
// upgrade), runs the per-connection frame loops, and counts what happened:
// latencies go to a metrics.Recorder, failures are counted by class.
package driver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/bench/pace"
	"github.com/wssbench/wssbench/bench/workload"
)

// Config is the resolved description of a load: every field is ready to use.
type Config struct {
	// URL is the ws:// or wss:// target.
	URL *url.URL
	// TLS is the client TLS config; nil for ws://. Its ClientSessionCache is
	// ignored: ResumeShare decides which connections may resume.
	TLS *tls.Config
	// ResumeShare is the share of connections (0..1) that offer a session
	// ticket from a cache shared by the run; the rest always do a full
	// handshake. Before the load, one untimed connection primes the cache.
	ResumeShare float64
	// Header and Subprotocols go into the upgrade request.
	Header       http.Header
	Subprotocols []string
	// SourceIPs, if set, are used round-robin as local addresses.
	SourceIPs []net.IP
	// Mode selects the connection behaviour.
	Mode Mode
	// Conns is the number of connections (steady, hold) or workers (storm).
	Conns int
	// Arrival schedules connection attempts.
	Arrival pace.Schedule
	// ConnectTimeout bounds TCP+TLS+upgrade of one connection.
	ConnectTimeout time.Duration
	// Duration is the steady-state (or hold, or storm) window.
	Duration time.Duration
	// MsgRate is frames per second per connection; 0 is closed-loop ping-pong.
	MsgRate float64
	// PayloadBytes is the size of each frame's payload.
	PayloadBytes int
	// Binary selects binary frames; otherwise text.
	Binary bool
	// FrameTimeout bounds the wait for one echo.
	FrameTimeout time.Duration
	// CloseTimeout bounds the close handshake.
	CloseTimeout time.Duration
	// Shards is the number of histogram shards (default 4×GOMAXPROCS by the caller).
	Shards int
	// Engine runs the connections once they are up (default DefaultEngine).
	// The storm always runs on goroutines.
	Engine Engine
	// Loops is the number of event loops of the loops engine (default GOMAXPROCS).
	Loops int
	// TimerSlack lets a loop wake for sends on a grid of this step (0: at
	// each frame's own due time). Sends due within one step leave in one
	// turn, at most TimerSlack late (counted in send_lag, and not in ws_rtt,
	// which runs from the send); the target then wakes once per batch, as
	// it does for the goroutines engine, whose Go timers fire on the
	// runtime's 1 ms poll granularity.
	TimerSlack time.Duration
	// OnPhase, if set, is called as each phase begins, from the Run goroutine.
	OnPhase func(name string, at time.Time)
	// AwaitSteady, if set, is called once every connection is up, before the
	// steady (or hold) window begins, and the window waits for it: a run
	// split over processes starts its window when the whole run is up. An
	// error skips the window and closes the connections.
	AwaitSteady func(ctx context.Context) error
	// Stages, if set, shape the run over time: the connections, connect
	// rate and frame rate follow it (see workload.Stages), and the whole
	// run is the steady phase.
	Stages *workload.Stages
	// OnStage, if set, is called as each stage begins (index from 0) and,
	// with the number of stages, as the last one ends; from the Run goroutine.
	OnStage func(i int, at time.Time)
	// Storm, if set, is a reconnect storm during the steady phase.
	Storm *StormPlan
	// Workload, if set, is what each connection says and expects beyond
	// the stamped echo (roles, steps, templates, reply or stamp latency);
	// it runs on the loops engine.
	Workload *workload.Plan
}

// Driver runs one load.
type Driver struct {
	cfg    *Config
	dialer *dialer
	rec    *metrics.Recorder
	t      *tally

	attempted, established, failed, open atomic.Int64
	sent, received, lost, clean          atomic.Int64
	// delivered counts stamped frames received (a workload's deliveries).
	delivered atomic.Int64
	// published counts a workload's steady frames sent (not its steps').
	published atomic.Int64
	peak      atomic.Int64

	phase       atomic.Int32 // one of the phase* values
	steadyStart time.Time    // set before phase becomes phaseSteady
	steadyEnd   time.Time
	// steadyFailed is set when AwaitSteady failed: the window was skipped.
	steadyFailed bool

	mu       sync.Mutex
	sessions map[int]*session
	// primed is the connections Prime made (0 or 1).
	primed int64
	// loops runs the connections of the loops engine (nil on goroutines).
	loops *loopSet
	// roles count each role of the workload (one, unnamed, without roles).
	roles []*roleTally
	// shedding counts connections a stage asked to close that have not
	// finished yet; storm is the reconnect storm's state (nil without one).
	shedding atomic.Int64
	storm    *stormState
}

const (
	phaseConnect int32 = iota
	phaseSteady
	phaseClose
)

// New checks cfg and prepares a Driver.
func New(cfg *Config) (*Driver, error) {
	switch {
	case cfg.URL == nil:
		return nil, errors.New("driver: no target URL")
	case cfg.Conns < 1:
		return nil, errors.New("driver: Conns must be at least 1")
	case cfg.PayloadBytes < MinPayloadBytes(cfg.Binary):
		return nil, fmt.Errorf("driver: PayloadBytes must be at least %d", MinPayloadBytes(cfg.Binary))
	}
	if cfg.Arrival == nil {
		cfg.Arrival = pace.Constant{}
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.FrameTimeout <= 0 {
		cfg.FrameTimeout = 10 * time.Second
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = 2 * time.Second
	}
	if cfg.ResumeShare < 0 || cfg.ResumeShare > 1 {
		return nil, fmt.Errorf("driver: ResumeShare must be within 0..1 (got %g)", cfg.ResumeShare)
	}
	if cfg.Engine == "" {
		cfg.Engine = DefaultEngine()
	}
	if !cfg.Engine.Valid() {
		return nil, fmt.Errorf("driver: engine %q does not run here (loops need Linux)", cfg.Engine)
	}
	if cfg.Loops <= 0 {
		cfg.Loops = runtime.GOMAXPROCS(0)
	}
	if cfg.Shards < cfg.Loops {
		cfg.Shards = cfg.Loops // one histogram shard per loop at least
	}
	d := &Driver{cfg: cfg, rec: metrics.NewRecorder(cfg.Shards), t: newTally(), sessions: make(map[int]*session)}
	if cfg.Stages != nil || cfg.Storm != nil {
		if cfg.Engine != EngineLoops || !cfg.Mode.Streams() {
			return nil, errors.New("driver: stages and storms run in the steady mode on the loops engine")
		}
	}
	if cfg.Storm != nil {
		d.storm = &stormState{plan: cfg.Storm, rec: metrics.NewRecorder(cfg.Shards), t: newTally()}
	}
	d.dialer = newDialer(cfg, &d.t.certRequests)
	if w := cfg.Workload; w != nil {
		if cfg.Engine != EngineLoops || !cfg.Mode.Streams() {
			return nil, errors.New("driver: a workload runs in the steady mode on the loops engine")
		}
		for _, r := range w.Roles {
			rt := &roleTally{role: r, t: newTally()}
			if r.Name != "" {
				rt.rec = metrics.NewRecorder(cfg.Shards)
			}
			d.roles = append(d.roles, rt)
		}
	}
	if cfg.Engine == EngineLoops && cfg.Mode.HoldsAll() {
		ls, err := newLoopSet(d, cfg.Loops)
		if err != nil {
			return nil, fmt.Errorf("driver: start the event loops: %w", err)
		}
		d.loops = ls
		d.dialer.loops = true
	}
	return d, nil
}

// resumes reports whether attempt n (counted from 0) is one of the
// ResumeShare that offer a session ticket, spread evenly over the attempts.
func (d *Driver) resumes(n int64) bool {
	s := d.cfg.ResumeShare
	return s > 0 && int64(float64(n+1)*s) > int64(float64(n)*s)
}

// Prime opens one untimed connection with the shared session cache and
// exchanges one frame (a TLS 1.3 ticket arrives after the handshake, and is
// kept only once the client reads), so resuming connections find a ticket.
// It does nothing unless ResumeShare > 0.
func (d *Driver) Prime(ctx context.Context) error {
	if d.cfg.ResumeShare == 0 || d.dialer.tls == nil {
		return nil
	}
	c, phase, err := d.dialer.dial(ctx, 0, true)
	if err != nil {
		return fmt.Errorf("prime the session cache: %s: %w", Classify(phase, err), err)
	}
	s := newSession(0, c, d.cfg)
	defer s.ws.Close(ws.StatusNormalClosure, d.cfg.CloseTimeout)
	deadline := time.Now().Add(d.cfg.FrameTimeout)
	if err := s.ws.NetConn().SetReadDeadline(deadline); err != nil {
		return err
	}
	stamp(s.payload, s.binary, 0, 0, 0)
	if err := s.ws.WriteMessage(s.op, s.payload); err != nil {
		return fmt.Errorf("prime the session cache: %w", err)
	}
	if _, _, err := s.readEcho(ctx, deadline); err != nil {
		return fmt.Errorf("prime the session cache: %w", err)
	}
	d.primed = 1
	return nil
}

// Close ends the driver's event loops, if any: Run does it as it returns;
// a Driver that never runs must be closed. Calling it again is harmless.
func (d *Driver) Close() {
	if d.loops != nil {
		d.loops.shutdown()
	}
}

// Recorder returns the driver's latency recorder; the caller collects intervals from it.
func (d *Driver) Recorder() *metrics.Recorder { return d.rec }

// Progress is a live view of a run, safe to read at any time.
type Progress struct {
	Attempted, Established, Failed, Open int64
	FramesSent, FramesReceived           int64
	FramesLost, FramesDelivered          int64
	Errors                               int64
	// Phase is "connect", "steady" or "close".
	Phase string
	// ErrorsByClass counts the errors so far by class; TLSVersions,
	// CipherSuites and Groups the handshakes by what they negotiated, and
	// Resumed those that resumed (copies: the caller may keep them).
	ErrorsByClass                     map[string]int64 `json:",omitempty"`
	TLSVersions, CipherSuites, Groups map[string]int64 `json:",omitempty"`
	Resumed                           int64
}

// Progress returns the current counters. It copies the tallies under their
// lock: call it at intervals, not per frame.
func (d *Driver) Progress() Progress {
	p := Progress{
		Attempted: d.attempted.Load(), Established: d.established.Load(), Failed: d.failed.Load(),
		Open: d.open.Load(), FramesSent: d.sent.Load(), FramesReceived: d.received.Load(),
		FramesLost: d.lost.Load(), FramesDelivered: d.delivered.Load(),
		Phase: [...]string{PhaseConnect, PhaseSteady, PhaseClose}[d.phase.Load()],
	}
	t := d.t
	t.mu.Lock()
	p.ErrorsByClass, p.TLSVersions, p.CipherSuites, p.Groups = maps.Clone(t.s.Errors), maps.Clone(t.s.TLSVersions), maps.Clone(t.s.CipherSuites), maps.Clone(t.s.Groups)
	p.Resumed = t.s.Resumed
	for _, n := range t.s.Errors {
		p.Errors += n
	}
	t.mu.Unlock()
	return p
}

// Add sums o into p (several driver processes' progress): counters and
// tallies added, the phase the earliest of the two.
func (p *Progress) Add(o Progress) {
	p.Attempted += o.Attempted
	p.Established += o.Established
	p.Failed += o.Failed
	p.Open += o.Open
	p.FramesSent += o.FramesSent
	p.FramesReceived += o.FramesReceived
	p.FramesLost += o.FramesLost
	p.FramesDelivered += o.FramesDelivered
	p.Errors += o.Errors
	p.Resumed += o.Resumed
	for _, m := range []struct {
		dst *map[string]int64
		src map[string]int64
	}{
		{&p.ErrorsByClass, o.ErrorsByClass}, {&p.TLSVersions, o.TLSVersions}, {&p.CipherSuites, o.CipherSuites}, {&p.Groups, o.Groups},
	} {
		for k, v := range m.src {
			if *m.dst == nil {
				*m.dst = map[string]int64{}
			}
			(*m.dst)[k] += v
		}
	}
}

func (d *Driver) mark(st *Stats, name string) {
	now := time.Now()
	st.Phases = append(st.Phases, PhaseMark{Name: name, At: now})
	if d.cfg.OnPhase != nil {
		d.cfg.OnPhase(name, now)
	}
}

// Run applies the load until its duration ends or ctx is cancelled, then
// closes every connection with a close handshake. It returns what it counted;
// a cancelled run returns its partial Stats with Interrupted set.
func (d *Driver) Run(ctx context.Context) *Stats {
	var marks Stats
	if d.loops != nil {
		d.loops.ctx = ctx
		defer d.Close()
		// A Ctrl-C while connections wait for their last echo closes them at
		// once, as it does in the other phases.
		stop := context.AfterFunc(ctx, func() { d.loops.each((*loopConn).beginClose) })
		defer stop()
	}
	d.mark(&marks, PhaseConnect)
	stopKicker := context.AfterFunc(ctx, d.kickAll)
	defer stopKicker()
	if !d.cfg.Mode.HoldsAll() {
		d.runStorm(ctx, &marks)
	} else {
		d.runHeld(ctx, &marks)
	}
	d.mark(&marks, PhaseDone)

	d.t.mu.Lock()
	st := d.t.s
	d.t.mu.Unlock()
	st.Phases = marks.Phases
	st.Attempted, st.Established, st.Failed = d.attempted.Load(), d.established.Load(), d.failed.Load()
	st.FramesSent, st.FramesReceived, st.FramesLost = d.sent.Load(), d.received.Load(), d.lost.Load()
	st.ClosedClean, st.PeakConcurrent = d.clean.Load(), d.peak.Load()
	st.ClientCertRequested = d.t.certRequests.Load()
	st.Interrupted = ctx.Err() != nil
	st.Primed = d.primed
	st.FramesDelivered, st.FramesPublished = d.delivered.Load(), d.published.Load()
	if d.storm != nil {
		st.Storm = d.storm.stats()
	}
	for _, rt := range d.roles {
		if rt.role.Name == "" {
			continue
		}
		rt.t.mu.Lock()
		rs := RoleStats{Name: rt.role.Name, Planned: int64(rt.role.Planned), Established: rt.established.Load(),
			FramesSent: rt.sent.Load(), FramesReceived: rt.received.Load(), Errors: rt.t.s.Errors, ErrorSamples: rt.t.s.ErrorSamples}
		rt.t.mu.Unlock()
		st.Roles = append(st.Roles, rs)
	}
	return &st
}

// frameError counts a failure after the connection was up, unless the run was
// interrupted (an interrupted read is not the target's fault).
func (d *Driver) frameError(ctx context.Context, err error) {
	if interrupted(ctx) {
		return
	}
	d.t.fail(Classify(PhaseFrame, err), err)
}

// interrupted reports whether ctx has ended, or its deadline has passed (the
// dialer can fail on that deadline before ctx's own timer has fired).
func interrupted(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// open1 dials connection id and accounts for the attempt.
func (d *Driver) open1(ctx context.Context, id int) (*session, bool) {
	return d.dialOne(ctx, id, false)
}

// dialOne dials connection id. A reconnect of a storm records its phases
// in the storm's recorder too, and its failure is the storm's (a target
// that restarts refuses connections for a while), not the run's.
func (d *Driver) dialOne(ctx context.Context, id int, reconnect bool) (*session, bool) {
	n := d.attempted.Add(1) - 1
	c, phase, err := d.dialer.dial(ctx, id, d.resumes(n))
	if err != nil {
		switch {
		case reconnect:
			d.storm.fail(Classify(phase, err), err)
		default:
			d.failed.Add(1)
			if !interrupted(ctx) {
				d.t.fail(Classify(phase, err), err)
			}
		}
		return nil, false
	}
	d.established.Add(1)
	for n := d.open.Add(1); ; {
		p := d.peak.Load()
		if n <= p || d.peak.CompareAndSwap(p, n) {
			break
		}
	}
	shard := id
	recs := []*metrics.Recorder{d.rec}
	if reconnect {
		recs = append(recs, d.storm.rec)
	}
	for _, r := range recs {
		r.Record(shard, metrics.TCPConnect, c.timings.TCP)
		if c.tls != nil {
			r.Record(shard, metrics.TLSHandshake, c.timings.TLS)
		}
		r.Record(shard, metrics.WSUpgrade, c.timings.Upgrade)
		r.Record(shard, metrics.ConnectTotal, c.timings.Total)
	}
	if c.tls != nil {
		d.t.handshake(c.tls)
	}
	return newSession(id, c, d.cfg), true
}

// finish closes s with a close handshake.
func (d *Driver) finish(s *session) {
	if s.ws.Close(ws.StatusNormalClosure, d.cfg.CloseTimeout) {
		d.clean.Add(1)
	}
	d.open.Add(-1)
}

// runStorm is the handshake-storm mode: Conns workers each repeat connect,
// one echo, close; attempts follow the arrival schedule across all workers.
func (d *Driver) runStorm(ctx context.Context, marks *Stats) {
	start := time.Now()
	end := start.Add(d.cfg.Duration)
	d.steadyStart = start
	var ticket atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < d.cfg.Conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := ticket.Add(1) - 1
				due := start.Add(d.cfg.Arrival.At(n))
				if !due.Before(end) || !pace.SleepUntil(ctx, due) || !time.Now().Before(end) {
					return
				}
				s, ok := d.open1(ctx, int(n))
				if !ok {
					continue
				}
				d.register(s)
				if err := s.echoOnce(ctx, d, time.Now()); err != nil {
					d.frameError(ctx, err)
				}
				d.unregister(s)
				d.finish(s)
			}
		}()
	}
	wg.Wait()
	d.mark(marks, PhaseClose)
}

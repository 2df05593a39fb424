package driver

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/bench/pace"
)

// A staged run (Config.Stages) is all steady phase: a controller dials and
// closes connections to follow the stages' connection targets within their
// connect rates, and each connection's frame rate follows the stage it is in.
// A reconnect storm (Config.Storm) cuts connections at a given time and
// lets them come back.

// controlStep is how often the stage controller looks at the load.
const controlStep = 10 * time.Millisecond

// runStaged runs the stages from now; the caller marks the phases around it.
func (d *Driver) runStaged(ctx context.Context) {
	st := d.cfg.Stages
	start := d.steadyStart
	var dialing atomic.Int64
	var wg sync.WaitGroup
	defer wg.Wait()
	stage := -1
	tokens, last := 0.0, start
	nextID := 0
	tick := time.NewTicker(controlStep)
	defer tick.Stop()
	for ctx.Err() == nil {
		now := time.Now()
		t := now.Sub(start)
		if t >= st.Length() {
			if d.cfg.OnStage != nil {
				d.cfg.OnStage(len(st.Points), now) // the end of the last stage
			}
			return
		}
		i, pt := st.At(t)
		if i != stage {
			stage = i
			if d.cfg.OnStage != nil {
				d.cfg.OnStage(i, now)
			}
		}
		want := int64(math.Round(pt.Conns))
		active := d.open.Load() - d.shedding.Load() + dialing.Load()
		if d.storm != nil {
			active += d.storm.away.Load() // cut and coming back: not the controller's to replace
		}
		dt := now.Sub(last).Seconds()
		last = now
		switch {
		case active < want:
			n := want - active
			if pt.ConnectRate > 0 {
				tokens = min(tokens+pt.ConnectRate*dt, max(pt.ConnectRate*controlStep.Seconds()*2, 1))
				n = min(n, int64(tokens))
				tokens -= float64(n)
			}
			for range n {
				id := nextID
				nextID++
				dialing.Add(1)
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer dialing.Add(-1)
					if s, ok := d.open1(ctx, id); ok {
						d.loops.attach(s)
					}
				}()
			}
		case active > want && dialing.Load() == 0:
			d.loops.shed(int(active - want))
			tokens = 0
		default:
			tokens = 0
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
}

// shed asks the loops to close n connections cleanly, spread over them.
func (ls *loopSet) shed(n int) {
	each, extra := n/len(ls.loops), n%len(ls.loops)
	for i, sh := range ls.loops {
		k := each
		if i < extra {
			k++
		}
		if k == 0 {
			continue
		}
		ls.d.shedding.Add(int64(k)) // taken back below for what a loop could not close
		sh.l.Post(func() {
			for j := len(sh.conns) - 1; j >= 0 && k > 0; j-- {
				c := sh.conns[j]
				if c.closing || c.shed || c.done {
					continue
				}
				c.shed = true
				k--
				c.beginClose()
			}
			ls.d.shedding.Add(-int64(k))
		})
	}
}

// stageInterval is the frame interval at loop clock time at (0: no frames).
func (c *loopConn) stageInterval(at int64) int64 {
	d := c.d
	_, pt := d.cfg.Stages.At(c.sh.l.Time(at).Sub(d.steadyStart))
	rate := pt.MsgRate
	if c.w != nil {
		rate = c.w.role.Rate
	}
	if rate <= 0 {
		return 0
	}
	return int64(float64(time.Second) / rate)
}

// advance moves the schedule on to the next frame: k+1 at a fixed rate; in
// a staged run, one interval of the rate in force when the last one was due.
func (c *loopConn) advance() {
	if c.d.cfg.Stages == nil || c.interval == 0 {
		c.k++
		return
	}
	due := c.base + c.k*c.interval
	if iv := c.stageInterval(due); iv > 0 {
		c.interval = iv
	}
	c.base, c.k = due, 1
}

// StormPlan is a reconnect storm: At after the steady start, Share of the
// open connections are cut abruptly (or Cut restarts the target, which cuts
// them all), and each cut connection dials again after a random wait of up
// to Backoff, and again after each failure.
type StormPlan struct {
	At      time.Duration
	Share   float64
	Backoff time.Duration
	// Cut, if set, cuts the connections from the server's side (the harness
	// restarts the built-in target) instead of the driver's.
	Cut func(ctx context.Context) error
}

// StormStats is what a storm did.
type StormStats struct {
	// At is when the connections were cut.
	At time.Time
	// Full is how many connections were open just before.
	Full int64
	// Dropped counts connections cut; Reconnected those that came back;
	// Failed the reconnect attempts that failed, by class in FailedBy.
	Dropped, Reconnected, Failed int64
	FailedBy                     map[string]int64
	// FramesCut counts frames in flight (awaiting their echo or answer) on
	// the connections the storm cut: not lost by the server, not in FramesLost.
	FramesCut   int64
	FailSamples map[string]string
	// Recovered is set when the run got back to Full open connections,
	// BackToFull after the cut.
	Recovered  bool
	BackToFull time.Duration
	// Restarted is set when Cut (the target's restart) succeeded; CutError
	// says why it did not.
	Restarted bool
	CutError  string
}

// stormState is a storm in progress.
type stormState struct {
	plan *StormPlan
	rec  *metrics.Recorder
	t    *tally
	// armed: connection losses from now on are the storm's, and reconnect.
	armed                         atomic.Bool
	dropped, reconnected, failedN atomic.Int64
	framesCut                     atomic.Int64
	// away counts connections cut and not back yet; wg their reconnects.
	away atomic.Int64
	wg   sync.WaitGroup
	mu   sync.Mutex
	s    StormStats
	done bool
}

func (s *stormState) fail(class string, err error) {
	s.failedN.Add(1)
	s.t.fail(class, err)
}

func (s *stormState) stats() *StormStats {
	s.mu.Lock()
	out := s.s
	s.mu.Unlock()
	out.Dropped, out.Reconnected, out.Failed = s.dropped.Load(), s.reconnected.Load(), s.failedN.Load()
	out.FramesCut = s.framesCut.Load()
	s.t.mu.Lock()
	out.FailedBy, out.FailSamples = s.t.s.Errors, s.t.s.ErrorSamples
	s.t.mu.Unlock()
	return &out
}

// StormRecorder returns the recorder of the storm's reconnects (their
// phases), nil without a storm.
func (d *Driver) StormRecorder() *metrics.Recorder {
	if d.storm == nil {
		return nil
	}
	return d.storm.rec
}

// runReconnectStorm waits for the storm's time, cuts, and watches the
// connections come back until full strength or the steady window's end.
func (d *Driver) runReconnectStorm(ctx context.Context) {
	s := d.storm
	if !pace.SleepUntil(ctx, d.steadyStart.Add(s.plan.At)) || d.phase.Load() != phaseSteady || !time.Now().Before(d.steadyEnd) {
		return
	}
	full := d.open.Load() - d.shedding.Load()
	at := time.Now()
	s.mu.Lock()
	s.s.At, s.s.Full = at, full
	s.mu.Unlock()
	s.armed.Store(true)
	if s.plan.Cut != nil {
		err := s.plan.Cut(ctx)
		s.mu.Lock()
		s.s.Restarted = err == nil
		if err != nil {
			s.s.CutError = err.Error()
		}
		s.mu.Unlock()
	} else {
		d.loops.cut(s.plan.Share)
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil && d.phase.Load() == phaseSteady {
		if s.dropped.Load() > 0 && s.away.Load() == 0 && d.open.Load()-d.shedding.Load() >= full {
			s.mu.Lock()
			s.s.Recovered, s.s.BackToFull = true, time.Since(at)
			s.mu.Unlock()
			break
		}
		<-tick.C
	}
	s.armed.Store(false)
}

// cut aborts share of each loop's connections (spread over them evenly).
func (ls *loopSet) cut(share float64) {
	for _, sh := range ls.loops {
		sh.l.Post(func() {
			var picked []*loopConn
			for i, c := range sh.conns {
				if !c.closing && !c.done && int64(float64(i+1)*share) > int64(float64(i)*share) {
					picked = append(picked, c)
				}
			}
			for _, c := range picked {
				c.lost()
			}
		})
	}
}

// lost ends a connection the storm cut (or the server dropped while the
// storm is armed): no error is counted, and it dials again.
func (c *loopConn) lost() {
	d := c.d
	if c.done {
		return
	}
	// What was in flight is the storm's: cut with its connection, not lost
	// by the server.
	if c.inflight {
		c.inflight = false
		d.storm.framesCut.Add(1)
	}
	c.w.dropOpen(&d.storm.framesCut)
	d.storm.dropped.Add(1)
	d.storm.away.Add(1)
	d.storm.wg.Add(1)
	c.sock.Abort()
	c.finish()
	go d.reconnect(c.ls.ctx, c.s.id)
}

// reconnect dials connection id again after a random wait of up to the
// storm's backoff, and again after each failure, until it is up or the
// steady window ends.
func (d *Driver) reconnect(ctx context.Context, id int) {
	s := d.storm
	defer s.wg.Done()
	defer s.away.Add(-1)
	wait := func() bool {
		b := s.plan.Backoff
		if b <= 0 {
			return ctx.Err() == nil
		}
		return pace.SleepUntil(ctx, time.Now().Add(time.Duration(rand.Int64N(int64(b)))))
	}
	for first := true; ; first = false {
		if !first && s.plan.Backoff <= 0 {
			// At once the first time; a failure waits a little before the next try.
			if !pace.SleepUntil(ctx, time.Now().Add(50*time.Millisecond)) {
				return
			}
		} else if !wait() {
			return
		}
		if d.phase.Load() != phaseSteady || !time.Now().Before(d.steadyEnd) {
			return
		}
		if sess, ok := d.dialOne(ctx, id, true); ok {
			s.reconnected.Add(1)
			d.loops.attach(sess)
			return
		}
	}
}

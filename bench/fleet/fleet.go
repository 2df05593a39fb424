// Package fleet runs one load over several driver processes on one machine.
// The parent starts the members (the wssbench binary's hidden "drive"
// command), holds them at two barriers, relays what they report while they
// run, and waits for them; what they measured is merged by package bench.
//
// The barriers: every member first builds its driver and says "ready"; the
// parent then gives all of them one wall-clock start time. Once a member's
// connections are all up it says "up" and waits; when every member still
// running is up, the parent says "steady" to all, so the steady window
// starts when every connection of the whole run is up, as it does in one
// process. The protocol is lines on the member's stdout and stdin (see
// Prefix); a member whose stdin reaches EOF (its parent died) stops its run.
package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/proc"
)

// Prefix starts every line a member writes on stdout for its parent:
//
//	wssbench drive: ready            the driver is built; waiting for "start"
//	wssbench drive: up               every connection is up; waiting for "steady"
//	wssbench drive: phase NAME       a phase began (driver.PhaseConnect ...)
//	wssbench drive: progress JSON    driver.Progress, once per interval
//	wssbench drive: interval JSON    the interval's histograms (intervals.go)
//
// The parent writes "start UNIX_NANOS" and "steady" lines on the member's stdin.
const Prefix = "wssbench drive: "

// The words of the protocol.
const (
	lineReady    = "ready"
	lineUp       = "up"
	linePhase    = "phase "
	lineProgress = "progress "
	cmdStart     = "start "
	cmdSteady    = "steady"
)

// readyTimeout bounds how long a member may take to build its driver (and
// prime a TLS session) before it says ready.
const readyTimeout = 30 * time.Second

// Member is one driver process to start.
type Member struct {
	// Name labels it in messages, such as "driver process 2 of 6".
	Name string
	// Argv is the program and its arguments; Env is added to its environment.
	Argv []string
	Env  []string
}

// Fleet is a set of started members.
type Fleet struct {
	members []*member
	onPhase func(name string, at time.Time)

	mu      sync.Mutex
	steady  bool
	closing bool
	// pending adds up the members' interval histograms (TakeInterval).
	pending pending
}

type member struct {
	Member
	child *proc.Child
	mu    sync.Mutex
	last  driver.Progress
	isUp  bool
}

// Start starts every member and waits until each says ready. onPhase, if
// set, is called as the whole run's phases begin: connect (at the start
// time Go gives), steady (when the last member is up), close (when the first
// member begins closing). A member that fails to start stops the others.
func Start(ctx context.Context, members []Member, onPhase func(name string, at time.Time)) (*Fleet, error) {
	f := &Fleet{onPhase: onPhase}
	for _, m := range members {
		mm := &member{Member: m}
		c, _, err := proc.Start(ctx, proc.StartOptions{Name: m.Name, Argv: m.Argv, Env: m.Env, Stdin: true,
			ReadyPrefix: Prefix + lineReady, ReadyTimeout: readyTimeout, OnLine: func(l string) { f.line(mm, l) }})
		if err != nil {
			f.Kill()
			return nil, err
		}
		mm.child = c
		f.members = append(f.members, mm)
	}
	go f.watchExits()
	return f, nil
}

// line handles one line a member wrote after its ready line.
func (f *Fleet) line(m *member, l string) {
	rest, ok := strings.CutPrefix(l, Prefix)
	if !ok {
		return
	}
	switch {
	case rest == lineUp:
		m.mu.Lock()
		m.isUp = true
		m.mu.Unlock()
		f.maybeSteady()
	case strings.HasPrefix(rest, linePhase):
		if strings.TrimPrefix(rest, linePhase) == driver.PhaseClose {
			f.mu.Lock()
			first := !f.closing
			f.closing = true
			f.mu.Unlock()
			if first && f.onPhase != nil {
				f.onPhase(driver.PhaseClose, time.Now())
			}
		}
	case strings.HasPrefix(rest, lineInterval):
		f.pending.add(strings.TrimPrefix(rest, lineInterval))
	case strings.HasPrefix(rest, lineProgress):
		var p driver.Progress
		if json.Unmarshal([]byte(strings.TrimPrefix(rest, lineProgress)), &p) == nil {
			m.mu.Lock()
			m.last = p
			m.mu.Unlock()
		}
	}
}

// watchExits re-checks the steady barrier as members exit: one that died
// must not hold the others at it.
func (f *Fleet) watchExits() {
	for _, m := range f.members {
		<-m.child.Done()
		f.maybeSteady()
	}
}

// maybeSteady releases the steady barrier once every member still running is up.
func (f *Fleet) maybeSteady() {
	f.mu.Lock()
	if f.steady {
		f.mu.Unlock()
		return
	}
	for _, m := range f.members {
		m.mu.Lock()
		up := m.isUp
		m.mu.Unlock()
		if !up && !m.child.Exited() {
			f.mu.Unlock()
			return
		}
	}
	f.steady = true
	f.mu.Unlock()
	if f.onPhase != nil {
		f.onPhase(driver.PhaseSteady, time.Now())
	}
	f.send(cmdSteady)
}

// send writes a line to every member's stdin; a member that has exited is skipped.
func (f *Fleet) send(line string) {
	for _, m := range f.members {
		if m.child.Exited() {
			continue
		}
		// A member that exits meanwhile has its pipe closed: nothing to tell it.
		_, _ = io.WriteString(m.child.Stdin(), line+"\n")
	}
}

// Go starts every member's load at the same wall-clock time, at.
func (f *Fleet) Go(at time.Time) {
	if f.onPhase != nil {
		f.onPhase(driver.PhaseConnect, at)
	}
	f.send(cmdStart + strconv.FormatInt(at.UnixNano(), 10))
}

// Progress is the sum of what the members last reported; Phase is the
// earliest phase any member is in.
func (f *Fleet) Progress() driver.Progress {
	var sum driver.Progress
	order := map[string]int{driver.PhaseConnect: 0, driver.PhaseSteady: 1, driver.PhaseClose: 2}
	sum.Phase = driver.PhaseClose
	for _, m := range f.members {
		m.mu.Lock()
		p := m.last
		m.mu.Unlock()
		phase := sum.Phase
		sum.Add(p)
		sum.Phase = phase
		if ph := p.Phase; ph != "" && order[ph] < order[sum.Phase] {
			sum.Phase = ph
		} else if ph == "" {
			sum.Phase = driver.PhaseConnect
		}
	}
	return sum
}

// Outcome is how one member ended.
type Outcome struct {
	// Name and PID identify the member.
	Name string
	PID  int
	// Err is its exit: nil for status 0.
	Err error
	// Stderr is the end of what it wrote on stderr.
	Stderr string
}

// Wait waits until every member has exited and says how each ended. When
// ctx ends first, every member gets SIGTERM (it stops its load, closes its
// connections and writes its partial result) and grace to exit before it is
// killed.
func (f *Fleet) Wait(ctx context.Context, grace time.Duration) []Outcome {
	all := make(chan struct{})
	go func() {
		for _, m := range f.members {
			<-m.child.Done()
		}
		close(all)
	}()
	select {
	case <-all:
	case <-ctx.Done():
		var wg sync.WaitGroup
		for _, m := range f.members {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// The exit is read below, from the child itself.
				_ = m.child.Stop(grace)
			}()
		}
		wg.Wait()
	}
	out := make([]Outcome, len(f.members))
	for i, m := range f.members {
		out[i] = Outcome{Name: m.Name, PID: m.child.PID(), Err: m.child.ExitErr(), Stderr: m.child.Stderr()}
	}
	return out
}

// PIDs are the members' process ids, in order.
func (f *Fleet) PIDs() []int {
	out := make([]int, len(f.members))
	for i, m := range f.members {
		out[i] = m.child.PID()
	}
	return out
}

// Kill stops every member at once (a start that failed, or a parent giving up).
func (f *Fleet) Kill() {
	for _, m := range f.members {
		_ = m.child.Stop(time.Second)
	}
}

// Describe is one line on how a member that did not finish cleanly ended,
// with the last line of its stderr.
func (o Outcome) Describe() string {
	how := "exit status 0"
	if o.Err != nil {
		how = o.Err.Error()
	}
	s := fmt.Sprintf("%s (pid %d) %s", o.Name, o.PID, how)
	lines := strings.Split(strings.TrimSpace(o.Stderr), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		s += ": " + last
	}
	return s
}

//go:build linux

package evloop

import (
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// firing is one timer's F call.
type firing struct {
	id        int
	when, now int64 // the due time, F's argument
	clock     int64 // the loop's clock inside F
}

// TestTimers: timers fire in due order (same due time: scheduling order),
// never before their due time (F's now and the loop's clock), once; a
// rescheduled timer fires at its new time only; a cancelled one never; one
// scheduled from F for now fires on a later turn, so the loop still runs
// posted functions in between.
func TestTimers(t *testing.T) {
	t.Parallel()
	ms := int64(time.Millisecond)
	t.Run("order and never early", func(t *testing.T) {
		t.Parallel()
		l := startLoop(t)
		const n = 300
		ts := make([]Timer, n)
		var fired []firing
		done := make(chan struct{})
		onLoop(t, l, func() {
			base := l.Now()
			for i := range ts {
				when := base + rand.Int64N(30*ms)
				if i%10 == 0 {
					when = base + 15*ms // ties: fire in scheduling order
				}
				ts[i].F = func(now int64) {
					fired = append(fired, firing{id: i, when: ts[i].When(), now: now, clock: l.Now()})
					if len(fired) == n {
						close(done)
					}
				}
				l.Schedule(&ts[i], when)
			}
		})
		select {
		case <-done:
		case <-time.After(testLimit):
			t.Fatal("timers did not all fire")
		}
		onLoop(t, l, func() {}) // fired is complete; read it after a loop turn
		for k, f := range fired {
			if f.now < f.when || f.clock < f.when {
				t.Errorf("timer %d fired early: due %d, now %d, clock %d", f.id, f.when, f.now, f.clock)
			}
			if k > 0 {
				p := fired[k-1]
				if p.when > f.when || p.when == f.when && p.id > f.id {
					t.Errorf("timer %d (due %d) fired after timer %d (due %d)", f.id, f.when, p.id, p.when)
				}
			}
		}
		ids := make([]int, 0, n)
		for _, f := range fired {
			ids = append(ids, f.id)
		}
		slices.Sort(ids)
		if len(slices.Compact(ids)) != n {
			t.Errorf("%d firings for %d timers", len(fired), n)
		}
	})
	t.Run("nanosecond offsets", func(t *testing.T) {
		t.Parallel()
		l := startLoop(t)
		const n = 200
		ts := make([]Timer, n)
		early := make(chan string, n)
		left := n
		done := make(chan struct{})
		onLoop(t, l, func() {
			for i := range ts {
				d := time.Duration(1 + rand.Int64N(int64(2*time.Millisecond)))
				start := time.Now()
				ts[i].F = func(int64) {
					if e := time.Since(start); e < d {
						early <- e.String() + " < " + d.String()
					}
					if left--; left == 0 {
						close(done)
					}
				}
				l.Schedule(&ts[i], l.Clock(start)+int64(d))
			}
		})
		select {
		case <-done:
		case <-time.After(testLimit):
			t.Fatal("timers did not all fire")
		}
		close(early)
		for e := range early {
			t.Errorf("fired early by the wall clock: %s", e)
		}
	})
	t.Run("reschedule", func(t *testing.T) {
		t.Parallel()
		l := startLoop(t)
		var later, sooner Timer
		fired := make(chan firing, 4)
		later.F = func(now int64) { fired <- firing{id: 1, when: later.When(), now: now} }
		sooner.F = func(now int64) { fired <- firing{id: 2, when: sooner.When(), now: now} }
		var moved int64
		onLoop(t, l, func() {
			now := l.Now()
			l.Schedule(&later, now+10*ms)
			l.Schedule(&later, now+300*ms) // moved later
			l.Schedule(&sooner, now+int64(time.Hour))
			l.Schedule(&sooner, now+20*ms) // moved sooner
			moved = now + 300*ms
		})
		for _, id := range []int{2, 1} {
			select {
			case f := <-fired:
				if f.id != id || f.now < f.when {
					t.Fatalf("fired timer %d at %d (due %d), want timer %d, not early", f.id, f.now, f.when, id)
				}
				if id == 1 && f.now < moved {
					t.Fatalf("moved timer fired at %d, before its new due time %d", f.now, moved)
				}
			case <-time.After(testLimit):
				t.Fatalf("timer %d did not fire", id)
			}
		}
		onLoop(t, l, func() {
			if later.Scheduled() || sooner.Scheduled() {
				t.Error("a timer that fired is still scheduled")
			}
		})
		select {
		case f := <-fired:
			t.Fatalf("timer %d fired twice", f.id)
		case <-time.After(50 * time.Millisecond):
		}
	})
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		l := startLoop(t)
		var a, b, c Timer
		got := make(chan string, 3)
		a.F = func(int64) { got <- "a" }
		b.F = func(int64) { got <- "b" }
		c.F = func(int64) { got <- "c" }
		onLoop(t, l, func() {
			now := l.Now()
			l.Schedule(&a, now+10*ms)
			l.Schedule(&b, now+20*ms)
			l.Schedule(&c, now+40*ms)
			l.Cancel(&a)
			l.Cancel(&a) // not scheduled: left alone
			l.Cancel(&b)
			if a.Scheduled() || b.Scheduled() || !c.Scheduled() {
				t.Error("Scheduled wrong after Cancel")
			}
		})
		select {
		case s := <-got:
			if s != "c" {
				t.Fatalf("cancelled timer %s fired", s)
			}
		case <-time.After(testLimit):
			t.Fatal("timer c did not fire")
		}
	})
	t.Run("from F", func(t *testing.T) {
		t.Parallel()
		l := startLoop(t)
		// tick reschedules itself for now each time: it must take a turn
		// of the loop each time, not spin inside one.
		var tick, next Timer
		ticks, posted := 0, 0
		const rounds = 200
		done := make(chan struct{})
		var nextDue int64
		nextFired := make(chan int64, 1)
		tick.F = func(now int64) {
			ticks++
			if ticks == 1 {
				nextDue = now + 5*ms
				l.Schedule(&next, nextDue)
			}
			if ticks < rounds {
				l.Schedule(&tick, now)
				return
			}
			close(done)
		}
		next.F = func(now int64) { nextFired <- now - nextDue }
		var post func()
		post = func() {
			posted++
			if ticks < rounds {
				l.Post(post)
			}
		}
		onLoop(t, l, func() {
			l.Schedule(&tick, l.Now())
			l.Post(post)
		})
		select {
		case <-done:
		case <-time.After(testLimit):
			t.Fatal("a timer rescheduling itself from F did not reach its rounds")
		}
		select {
		case late := <-nextFired:
			if late < 0 {
				t.Fatalf("a timer scheduled from F fired %v early", time.Duration(-late))
			}
		case <-time.After(testLimit):
			t.Fatal("a timer scheduled from F did not fire")
		}
		onLoop(t, l, func() {
			if posted < rounds/4 {
				t.Errorf("%d posted functions ran during %d self-rescheduling ticks: the timer held the loop", posted, ticks)
			}
		})
	})
}

// TestPostManyGoroutines: functions posted from many goroutines at once
// all run, on the loop, in each goroutine's order; Post after Shutdown
// returns false.
func TestPostManyGoroutines(t *testing.T) {
	t.Parallel()
	l := startLoop(t)
	const senders, each = 32, 500
	last := make([]int, senders) // owned by the loop goroutine
	total := 0
	var bad []string
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := 1; i <= each; i++ {
				if !l.Post(func() {
					if last[g] != i-1 {
						bad = append(bad, "out of order")
					}
					last[g] = i
					total++
				}) {
					t.Error("Post on a running loop returned false")
					return
				}
			}
		})
	}
	wg.Wait()
	var got int
	onLoop(t, l, func() { got = total })
	if got != senders*each || len(bad) > 0 {
		t.Fatalf("%d of %d posted functions ran, %d out of order", got, senders*each, len(bad))
	}
	l.Shutdown()
	<-l.Done()
	if l.Post(func() {}) {
		t.Error("Post after Shutdown returned true")
	}
}

// TestNoLeak: loops with connections (some closed, some left open), timers
// and posts, shut down, leave no descriptor and no goroutine behind. Not
// parallel: it counts the whole process's.
func TestNoLeak(t *testing.T) {
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("cannot count descriptors: %v", err)
		}
		return len(ents)
	}
	fds0, gs0 := fds(), runtime.NumGoroutine()
	t.Run("run", func(t *testing.T) {
		addr := echoListener(t) // its cleanup runs after the loops'
		loops := []*Loop{startLoop(t), startLoop(t)}
		results := make(chan error, 40)
		for i := range 40 {
			c, err := net.DialTimeout("tcp", addr, testLimit)
			if err != nil {
				t.Fatal(err)
			}
			l := loops[i%2]
			if i%2 == 0 {
				e := &echoSide{want: pattern(1000+i, byte(i)), result: results}
				l.Attach(NewConn(c), e, func(s *Socket, err error) {
					if err == nil {
						s.Write(e.want)
						s.CloseWrite()
					}
				})
				continue
			}
			attach(t, l, NewConn(c), handlerFunc(func(*Socket) {})) // left open
			var tm Timer
			tm.F = func(int64) {}
			onLoop(t, l, func() { l.Schedule(&tm, l.Now()+int64(time.Hour)) })
		}
		for range 20 {
			select {
			case err := <-results:
				if err != nil {
					t.Error(err)
				}
			case <-time.After(testLimit):
				t.Fatal("echoes did not finish")
			}
		}
	})
	deadline := time.Now().Add(testLimit)
	for {
		f, g := fds(), runtime.NumGoroutine()
		if f <= fds0 && g <= gs0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Shutdown: %d descriptors (%d before), %d goroutines (%d before)", f, fds0, g, gs0)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Package listener is the accept loop the built-in target and the built-in
// proxy share: accepting with back-off when the process is out of file
// descriptors (or another passing lack of resources), connections tracked
// until their owner lets go, and a shutdown that closes the listening socket,
// wakes every tracked connection and waits, with a bound, for the work to end.
package listener

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Back-off between accepts that failed for a passing reason: it doubles from
// backoffMin up to backoffMax and starts again after an accept succeeds.
const (
	backoffMin = 5 * time.Millisecond
	backoffMax = time.Second
)

// Options tune a Listener.
type Options struct {
	// Wake is how Stop wakes a tracked connection so that its owner sees the
	// shutdown, for example by setting a read deadline in the past (the
	// owner can then send a close frame). Nil closes the connection.
	Wake func(c net.Conn)
	// OnStop, if set, runs once in Stop after every tracked connection was
	// woken: for work the Listener does not track, such as event loops.
	OnStop func()
	// ReusePort sets SO_REUSEPORT on the listening socket, so several
	// processes can listen on one port and the kernel spreads connections
	// over them (each process then holds its own share of the open files).
	ReusePort bool
}

// Listener accepts connections and tracks them and the work that serves them.
// Its methods are safe for concurrent use.
type Listener struct {
	ln      net.Listener
	opt     Options
	down    atomic.Bool
	stopped chan struct{} // closed by Stop
	once    sync.Once
	work    sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Listen opens a TCP listening socket on addr, such as 127.0.0.1:0.
func Listen(addr string, o Options) (*Listener, error) {
	// No TCP keepalive on accepted connections, as the driver dials them
	// (see driver.dialer): a load harness's idle connections must not cost
	// probes the measurement did not ask for.
	lc := net.ListenConfig{KeepAlive: -1}
	if o.ReusePort {
		lc.Control = reusePort
	}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return New(ln, o), nil
}

// New wraps an open net.Listener, which the Listener then owns.
func New(ln net.Listener, o Options) *Listener {
	return &Listener{ln: ln, opt: o, stopped: make(chan struct{}), conns: make(map[net.Conn]struct{})}
}

// Addr returns the listening address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Serve accepts connections until Stop, tracks each one and runs handle on it
// in a goroutine counted as work. handle owns the connection: it (or the work
// it hands the connection to) closes it and calls Untrack. Accept errors that
// pass (out of file descriptors or memory, a timeout) are retried after a
// back-off; Serve returns nil after Stop, or the first other accept error.
func (l *Listener) Serve(handle func(c net.Conn)) error {
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.down.Load() {
				return nil
			}
			if !Temporary(err) {
				return fmt.Errorf("accept on %s: %w", l.ln.Addr(), err)
			}
			backoff = min(max(2*backoff, backoffMin), backoffMax)
			t := time.NewTimer(backoff)
			select {
			case <-l.stopped:
				t.Stop()
			case <-t.C:
			}
			continue
		}
		backoff = 0
		if !l.Track(c) {
			c.Close()
			return nil
		}
		l.work.Add(1)
		go func() {
			defer l.work.Done()
			handle(c)
		}()
	}
}

// Temporary reports whether an accept error may pass if accepting goes on:
// out of file descriptors (EMFILE, ENFILE), buffers or memory, an aborted
// connection, or a timeout.
func Temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Track adds c to the connections Stop wakes; false (c not tracked) once the
// Listener is stopping, when the caller closes c.
func (l *Listener) Track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down.Load() {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

// Untrack removes connections from tracking (they are closed, or about to be).
func (l *Listener) Untrack(cs ...net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cs {
		delete(l.conns, c)
	}
}

// Drop closes c and untracks it.
func (l *Listener) Drop(c net.Conn) {
	c.Close()
	l.Untrack(c)
}

// Live returns how many connections are tracked.
func (l *Listener) Live() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Hold counts one more piece of work that Shutdown waits for; Release ends
// it. Call Hold from counted work (a handler), or before Stop.
func (l *Listener) Hold() { l.work.Add(1) }

// Release ends a piece of work counted by Hold.
func (l *Listener) Release() { l.work.Done() }

// Go runs f in a goroutine counted as work. Call it from counted work (a
// handler), or before Stop.
func (l *Listener) Go(f func()) {
	l.work.Add(1)
	go func() {
		defer l.work.Done()
		f()
	}()
}

// Down reports whether Stop was called. A connection's owner checks it after
// every wake-up, and after every deadline it sets (a deadline set after
// Stop's wake-up would undo it; checking after setting catches that).
func (l *Listener) Down() bool { return l.down.Load() }

// Stopping is closed once Stop has woken every tracked connection. An owner
// that saw Down waits for it before it sets a deadline of its own (for a
// close handshake), which its wake-up, still to come, would otherwise undo.
func (l *Listener) Stopping() <-chan struct{} { return l.stopped }

// Stop begins the shutdown without waiting: it stops accepting, wakes every
// tracked connection and runs OnStop. Again is harmless.
func (l *Listener) Stop() {
	l.once.Do(func() {
		l.mu.Lock()
		l.down.Store(true)
		l.ln.Close()
		for c := range l.conns {
			if l.opt.Wake != nil {
				l.opt.Wake(c)
			} else {
				c.Close()
			}
		}
		close(l.stopped)
		l.mu.Unlock()
		if l.opt.OnStop != nil {
			l.opt.OnStop()
		}
	})
}

// Abort is a crash, not a shutdown: it stops accepting and closes every
// tracked connection at once, with no wake-up (so no close frame); the work
// that served them then ends on its own, and Shutdown waits for it as after
// Stop. Down and Stopping report it as they report Stop. Again, or after
// Stop, it closes what is still tracked.
func (l *Listener) Abort() {
	l.once.Do(func() {
		l.mu.Lock()
		l.down.Store(true)
		l.ln.Close()
		close(l.stopped)
		l.mu.Unlock()
		if l.opt.OnStop != nil {
			l.opt.OnStop()
		}
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Close()
	}
}

// Shutdown stops (see Stop) and waits up to grace for the work to end; then
// it closes every connection still tracked and waits up to grace again. It
// returns an error when work is still running after that.
func (l *Listener) Shutdown(grace time.Duration) error {
	l.Stop()
	done := make(chan struct{})
	go func() {
		l.work.Wait()
		close(done)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
	}
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	t.Reset(grace)
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("shutdown of %s: work still running %v after its connections were closed (%d still tracked)", l.ln.Addr(), grace, l.Live())
	}
}

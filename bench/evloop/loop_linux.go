package evloop

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// batch is how many events one epoll_wait returns at most.
	batch = 256
	// bufBytes is the loop's shared read buffer: a full TLS record and more.
	bufBytes = 64 << 10
	// et is EPOLLET as the uint32 an event mask is.
	et = uint32(unix.EPOLLET)
)

// Supported reports whether event loops run on this platform (Linux).
const Supported = true

// Handler gets the events of its sockets, on the loop goroutine.
type Handler interface {
	// Ready is called when the socket may be read or written (or hung up),
	// and once when it is added, for bytes a layer above already holds.
	// Read until ErrWouldBlock (a short read counts as one); staged writes
	// are flushed before Ready is called.
	Ready(s *Socket)
}

// Loop is one event loop. Its methods other than Post, Shutdown, Done and
// Now are for the loop goroutine alone (from Ready, a Timer's F or a posted
// function).
type Loop struct {
	epfd, wakefd, timerfd int
	file                  *os.File // epfd, registered in Go's netpoller
	epoch                 time.Time

	mu      sync.Mutex
	queue   []func()
	spare   []func()
	woken   bool // an eventfd write is outstanding
	down    bool
	pending atomic.Bool // queue is not empty (read without mu)
	done    chan struct{}

	// Owned by the loop goroutine.
	events [batch]unix.EpollEvent
	socks  []*Socket // by descriptor
	gen    uint32
	timers timerHeap
	seq    uint64 // Schedule calls so far: orders timers due at the same time
	armed  int64  // the due time the timerfd is set for; 0: disarmed
	buf    []byte
	live   int
	slack  int64
}

// Options tune a loop.
type Options struct {
	// Slack lets the loop wake for timers on a grid of this step (0: at
	// each timer's own due time): the timers due within one step fire in
	// one turn, at most Slack late, and the peers of their sockets wake
	// once for the batch instead of once for each.
	Slack time.Duration
}

// New creates a loop that wakes for each timer at its own due time; run it
// with Run in a goroutine of its own.
func New() (*Loop, error) { return NewWith(Options{}) }

// NewWith creates a loop with the given options.
func NewWith(o Options) (*Loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	l := &Loop{epfd: epfd, wakefd: -1, timerfd: -1, epoch: time.Now(), done: make(chan struct{}), buf: make([]byte, bufBytes), slack: int64(o.Slack)}
	fail := func(what string, err error) (*Loop, error) {
		l.closeFds()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		return fail("epoll descriptor non-blocking", err)
	}
	if l.wakefd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fail("eventfd", err)
	}
	if l.timerfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK); err != nil {
		return fail("timerfd_create", err)
	}
	for _, fd := range []int{l.wakefd, l.timerfd} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | et, Fd: int32(fd)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return fail("epoll_ctl", err)
		}
	}
	l.file = os.NewFile(uintptr(epfd), "wssbench-epoll")
	return l, nil
}

func (l *Loop) closeFds() {
	for _, fd := range []int{l.wakefd, l.timerfd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	if l.file != nil {
		l.file.Close()
	} else {
		unix.Close(l.epfd)
	}
}

// Now is the loop's clock: nanoseconds on the monotonic clock since the loop
// was made. Safe from any goroutine.
func (l *Loop) Now() int64 { return int64(time.Since(l.epoch)) }

// Clock converts a time to the loop's clock.
func (l *Loop) Clock(t time.Time) int64 { return int64(t.Sub(l.epoch)) }

// Time converts a reading of the loop's clock to a time.
func (l *Loop) Time(ns int64) time.Time { return l.epoch.Add(time.Duration(ns)) }

// Buffer is the loop's shared read buffer (64 KiB): what a Ready reads into
// before it moves on; its contents do not survive the call.
func (l *Loop) Buffer() []byte { return l.buf }

// Live is the number of sockets on the loop.
func (l *Loop) Live() int { return l.live }

// Post runs f on the loop goroutine soon; false when the loop is down.
func (l *Loop) Post(f func()) bool {
	l.mu.Lock()
	if l.down {
		l.mu.Unlock()
		return false
	}
	l.queue = append(l.queue, f)
	l.pending.Store(true)
	wake := !l.woken
	l.woken = true
	l.mu.Unlock()
	if wake {
		l.wake()
	}
	return true
}

// Shutdown makes the loop close every socket and end; Done is closed then.
// Calling it again is harmless.
func (l *Loop) Shutdown() {
	l.mu.Lock()
	if l.down {
		l.mu.Unlock()
		return
	}
	l.down = true
	l.pending.Store(true)
	wake := !l.woken
	l.woken = true
	l.mu.Unlock()
	if wake {
		l.wake()
	}
}

// Done is closed once Run has returned.
func (l *Loop) Done() <-chan struct{} { return l.done }

func (l *Loop) wake() {
	one := uint64(1)
	// EAGAIN means the counter is already non-zero: the loop will wake.
	unix.Write(l.wakefd, (*[8]byte)(unsafe.Pointer(&one))[:])
}

// Run is the loop goroutine: it parks in Go's netpoller on the epoll
// descriptor and handles what is ready each time it is woken, until
// Shutdown. It then closes every socket.
func (l *Loop) Run() {
	defer close(l.done)
	if rc, err := l.file.SyscallConn(); err == nil {
		// f returns true only when the loop is to end; Read parks between
		// calls (prepared once, so no readiness is lost).
		rc.Read(func(uintptr) bool { return l.poll() })
	}
	// Functions posted before the loop went down still run (an Attach's
	// owns a descriptor and a done to call); Post takes no more.
	l.mu.Lock()
	l.down = true
	l.mu.Unlock()
	l.drain()
	for _, s := range l.socks {
		if s != nil {
			s.Close()
		}
	}
	l.closeFds()
}

// poll handles ready events and due timers until epoll has nothing more; it
// reports whether the loop is to end.
func (l *Loop) poll() bool {
	for {
		r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd),
			uintptr(unsafe.Pointer(&l.events[0])), batch, 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return true
		}
		n := int(r)
		for i := range n {
			l.dispatch(&l.events[i])
		}
		if l.pending.Load() && l.drain() {
			return true
		}
		l.runDue()
		if n < batch {
			return false
		}
	}
}

func (l *Loop) dispatch(ev *unix.EpollEvent) {
	fd := int(ev.Fd)
	switch {
	case fd == l.timerfd:
		// Not read: timerfd_settime clears its count, and edge-triggered
		// epoll reports each expiry anyway.
		l.armed = 0
		return
	case fd == l.wakefd:
		var b [8]byte
		unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), 8)
		return
	case fd >= len(l.socks):
		return
	}
	s := l.socks[fd]
	if s == nil || s.gen != uint32(ev.Pad) {
		return // closed earlier in this batch
	}
	e := ev.Events
	if e&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		s.readable = true
	}
	if e&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		s.hup = true
	}
	if e&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		s.writable = true
	}
	s.ready()
}

// drain runs the posted functions; it reports whether the loop is down.
func (l *Loop) drain() bool {
	l.mu.Lock()
	fs := l.queue
	l.queue = l.spare[:0]
	l.spare = fs
	l.woken = false
	l.pending.Store(false)
	down := l.down
	l.mu.Unlock()
	for i, f := range fs {
		f()
		fs[i] = nil
	}
	return down
}

// Schedule sets t due at the loop-clock time at (now or earlier: at the next
// turn of the loop, also from a Timer's F), moving it if it was scheduled.
// Timers due at the same time fire in the order they were scheduled.
func (l *Loop) Schedule(t *Timer, at int64) {
	t.when = at
	l.seq++
	t.seq = l.seq
	if t.i > 0 {
		l.timers.fix(t)
		return
	}
	l.timers.push(t)
}

// Cancel unschedules t (a timer not scheduled is left alone).
func (l *Loop) Cancel(t *Timer) {
	if t.i > 0 {
		l.timers.remove(t)
	}
}

// runDue fires the timers that are due, then arms the timerfd for the next.
// A timer scheduled while it runs (from an F) waits for the next turn, so an
// F that schedules its own timer for now does not keep the loop here.
func (l *Loop) runDue() { l.arm(l.fireDue()) }

// fireDue fires the timers that are due and returns the clock after them.
func (l *Loop) fireDue() int64 {
	now := l.Now()
	last := l.seq
	for len(l.timers) > 0 && l.timers[0].when <= now && l.timers[0].seq <= last {
		t := l.timers[0]
		l.timers.remove(t)
		t.F(now)
		if len(l.timers) > 0 && l.timers[0].when > now {
			now = l.Now()
		}
	}
	return now
}

// arm sets the timerfd for the earliest timer, if it is not set for it yet.
func (l *Loop) arm(now int64) {
	if len(l.timers) == 0 {
		return // a timerfd that fires for nothing costs one wake-up
	}
	due := l.timers[0].when
	if l.slack > 1 {
		due += l.slack - 1 // up to the next step of the grid
		due -= due % l.slack
	}
	if due == l.armed {
		return
	}
	wait := due - now
	if wait < 1 {
		wait = 1
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(wait)}
	if err := unix.TimerfdSettime(l.timerfd, 0, &spec, nil); err == nil {
		l.armed = due
	}
}

// Add registers a connected, non-blocking socket (from Detach) with h as its
// handler, and calls h.Ready once.
func (l *Loop) Add(fd int, h Handler) (*Socket, error) {
	s, err := l.add(fd, h, nil)
	if err == nil {
		s.ready()
	}
	return s, err
}

// add registers fd without calling Ready; c, if not nil, reads and writes
// the socket from then on (its closed net.Conn is let go).
func (l *Loop) add(fd int, h Handler, c *Conn) (*Socket, error) {
	l.gen++
	s := &Socket{l: l, fd: fd, gen: l.gen, h: h, writable: true}
	for fd >= len(l.socks) {
		l.socks = append(l.socks, make([]*Socket, len(l.socks)+64)...)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | et, Fd: int32(fd), Pad: int32(s.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return nil, fmt.Errorf("epoll_ctl add: %w", err)
	}
	l.socks[fd] = s
	l.live++
	if c != nil {
		c.s, c.Conn = s, nil
	}
	return s, nil
}

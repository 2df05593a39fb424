package builtin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The event-loop relay (delay_linux.go adds the delay). After the TLS handshake (a goroutine with
// blocking I/O, as before) and the backend dial, both sockets leave Go's
// netpoller: each is dup'ed, the net.Conn closed (Go deregisters its own
// descriptor), and the dup is registered, edge-triggered, in the epoll set of
// one loop. The loop goroutine parks in Go's netpoller on that epoll
// descriptor itself, so the runtime wakes once per batch of events instead
// of once per socket, and the loop's own epoll_wait, reads and writes are raw
// system calls on non-blocking sockets (no entersyscall, no sysmon wake-up).
//
// Edge-triggered, with EPOLLIN|EPOLLOUT|EPOLLRDHUP registered once, because
// the loop then never calls epoll_ctl after registering a socket: readiness
// is kept in per-socket flags, set by an event and cleared by EAGAIN or by a
// short read or write, and back pressure is "do not read this side while the
// other has pending output", not a change of the interest set.

const (
	// evBatch is how many events one epoll_wait returns at most.
	evBatch = 256
	// evBufBytes is the loop's shared read buffer: one full TLS record.
	evBufBytes = relayBigBytes
	// evET is EPOLLET as the uint32 the event mask is (syscall.EPOLLET is
	// a negative int).
	evET = uint32(1) << 31
)

// evLoop is one event loop: an epoll set, the sockets registered in it
// (indexed by descriptor), and a queue of commands from other goroutines.
type evLoop struct {
	s      *Server
	epfd   int
	file   *os.File // epfd, registered in Go's netpoller
	wakefd int      // an eventfd in epfd: wakes the loop for queued commands

	mu      sync.Mutex
	queue   []evCmd
	spare   []evCmd
	woken   bool // an eventfd write is outstanding
	down    bool
	pending atomic.Bool // queue is not empty (read without mu)

	// Owned by the loop goroutine.
	events [evBatch]syscall.EpollEvent
	sides  []*evSide // by descriptor
	pairs  map[*evPair]struct{}
	gen    uint32
	buf    []byte
	stage  []byte   // TLS records crypto/tls wrote, not yet sent
	delay  *evDelay // nil without Delay
}

// evCmd is a request to the loop: relay a new pair, or end a pair whose
// linger time ran out.
type evCmd struct {
	add    *evPair
	expire *evPair
}

// startEvLoops creates n event loops and starts their goroutines (counted in
// s.ln as work). They end when shut down.
func startEvLoops(s *Server, n int) ([]*evLoop, error) {
	loops := make([]*evLoop, 0, n)
	for range n {
		l, err := newEvLoop(s)
		if err != nil {
			for _, l := range loops {
				l.shutdown()
			}
			return nil, err
		}
		loops = append(loops, l)
	}
	for _, l := range loops {
		s.ln.Go(l.run)
	}
	return loops, nil
}

func newEvLoop(s *Server) (*evLoop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("epoll fd non-blocking: %w", err)
	}
	r, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, fmt.Errorf("eventfd2: %w", errno)
	}
	wakefd := int(r)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | evET, Fd: int32(wakefd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		syscall.Close(wakefd)
		syscall.Close(epfd)
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	l := &evLoop{
		s:      s,
		epfd:   epfd,
		file:   os.NewFile(uintptr(epfd), "wssbench-epoll"),
		wakefd: wakefd,
		pairs:  make(map[*evPair]struct{}),
		buf:    make([]byte, evBufBytes),
	}
	if s.cfg.Delay > 0 {
		dl, err := newEvDelay(s.cfg.Delay)
		if err == nil {
			ev := syscall.EpollEvent{Events: syscall.EPOLLIN | evET, Fd: int32(dl.timerfd)}
			if err = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, dl.timerfd, &ev); err != nil {
				syscall.Close(dl.timerfd)
			}
		}
		if err != nil {
			l.file.Close()
			syscall.Close(wakefd)
			return nil, fmt.Errorf("delay timer: %w", err)
		}
		l.delay = dl
	}
	return l, nil
}

// post queues a command and wakes the loop; false when the loop is down.
func (l *evLoop) post(c evCmd) bool {
	l.mu.Lock()
	if l.down {
		l.mu.Unlock()
		return false
	}
	l.queue = append(l.queue, c)
	l.pending.Store(true)
	wake := !l.woken
	l.woken = true
	l.mu.Unlock()
	if wake {
		l.wake()
	}
	return true
}

// shutdown makes the loop close every pair and end (again is harmless).
func (l *evLoop) shutdown() {
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

func (l *evLoop) wake() {
	one := uint64(1)
	// EAGAIN means the counter is already non-zero: the loop will wake.
	syscall.Write(l.wakefd, (*[8]byte)(unsafe.Pointer(&one))[:])
}

// run is the loop goroutine. It parks in Go's netpoller on the epoll
// descriptor and handles the ready events each time it is woken.
func (l *evLoop) run() {
	if rc, err := l.file.SyscallConn(); err == nil {
		// f returns true only when the loop is to end; RawRead parks in
		// between (prepared once, so no readiness is lost).
		rc.Read(func(uintptr) bool { return l.poll() })
	}
	l.mu.Lock()
	l.down = true
	cmds := l.queue
	l.queue = nil
	l.mu.Unlock()
	for _, c := range cmds {
		if c.add != nil {
			c.add.l = l
			l.pairs[c.add] = struct{}{}
		}
	}
	for p := range l.pairs {
		l.close(p)
	}
	l.file.Close()
	syscall.Close(l.wakefd)
	if l.delay != nil {
		syscall.Close(l.delay.timerfd)
	}
}

// poll handles ready events until epoll has none; it reports whether the
// loop is to end.
func (l *evLoop) poll() bool {
	for {
		r, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.epfd),
			uintptr(unsafe.Pointer(&l.events[0])), evBatch, 0, 0, 0)
		if errno == syscall.EINTR {
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
		if n < evBatch {
			return false
		}
	}
}

// dispatch notes the readiness one event reports and moves its pair on.
func (l *evLoop) dispatch(ev *syscall.EpollEvent) {
	fd := int(ev.Fd)
	if fd == l.wakefd {
		var b [8]byte
		syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), 8)
		return
	}
	if l.delay != nil && fd == l.delay.timerfd {
		l.delay.clear() // runDue, after this batch, sends what is due
		return
	}
	if fd >= len(l.sides) {
		return
	}
	sd := l.sides[fd]
	if sd == nil || sd.gen != uint32(ev.Pad) {
		return // a socket closed earlier in this batch
	}
	if ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		sd.readable = true
	}
	if ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		sd.rdhup = true
	}
	if ev.Events&(syscall.EPOLLOUT|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		sd.writable = true
	}
	l.pump(sd.pair)
}

// drain runs the queued commands; it reports whether the loop is down.
func (l *evLoop) drain() bool {
	l.mu.Lock()
	cmds := l.queue
	l.queue = l.spare[:0]
	l.spare = cmds
	l.woken = false
	l.pending.Store(false)
	down := l.down
	l.mu.Unlock()
	for i, c := range cmds {
		switch {
		case c.add != nil:
			l.add(c.add)
		case c.expire != nil:
			if !c.expire.closed {
				l.close(c.expire)
			}
		}
		cmds[i] = evCmd{}
	}
	return down
}

// add registers both sockets of a new pair and relays whatever is already
// there, including records crypto/tls read together with the handshake.
func (l *evLoop) add(p *evPair) {
	p.l = l
	l.pairs[p] = struct{}{}
	for _, sd := range []*evSide{&p.client, &p.backend} {
		l.gen++
		sd.gen = l.gen
		sd.pair = p
		// Registering reports what the socket holds; bytes crypto/tls
		// already read are tlsMore's.
		sd.readable, sd.writable = false, true
		for sd.fd >= len(l.sides) {
			l.sides = append(l.sides, make([]*evSide, len(l.sides)+64)...)
		}
		l.sides[sd.fd] = sd
		ev := syscall.EpollEvent{
			Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | evET,
			Fd:     int32(sd.fd),
			Pad:    int32(sd.gen),
		}
		if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, sd.fd, &ev); err != nil {
			l.close(p)
			return
		}
	}
	p.client.conn.ev = &p.client
	p.tlsMore = true
	l.pump(p)
}

// close ends a pair: both sockets, its tracking and its linger timer.
func (l *evLoop) close(p *evPair) {
	if p.closed {
		return
	}
	p.closed = true
	if p.linger != nil {
		p.linger.Stop()
	}
	for _, sd := range []*evSide{&p.client, &p.backend} {
		if sd.fd < len(l.sides) && l.sides[sd.fd] == sd {
			l.sides[sd.fd] = nil
		}
		// Closing the only descriptor also removes it from epfd.
		syscall.Close(sd.fd)
		sd.pend, sd.dq = nil, nil
	}
	delete(l.pairs, p)
	l.s.ln.Untrack(p.keys[0], p.keys[1])
	l.s.ln.Release()
}

// startLinger bounds how long the other direction may go on after one
// direction ended cleanly.
func (l *evLoop) startLinger(p *evPair) {
	if p.linger != nil {
		return
	}
	p.linger = time.AfterFunc(relayLinger, func() { l.post(evCmd{expire: p}) })
}

// evHandle completes the TLS handshake with blocking I/O, dials the backend
// and hands both sockets to an event loop.
func (s *Server) evHandle(ctx context.Context, raw net.Conn) {
	ec := &evConn{Conn: raw, rtt: 2 * s.cfg.Delay}
	tc, bc := s.handshakeAndDial(ctx, raw, ec)
	if tc == nil {
		return
	}
	p := &evPair{tc: tc, keys: [2]net.Conn{raw, bc}}
	p.client.conn = ec
	cfd, cerr := evDetach(raw)
	bfd, berr := evDetach(bc)
	if cerr != nil || berr != nil {
		for _, fd := range []int{cfd, bfd} {
			if fd >= 0 {
				syscall.Close(fd)
			}
		}
		s.ln.Untrack(raw, bc)
		return
	}
	p.client.fd, p.backend.fd = cfd, bfd
	l := s.loops[int(s.next.Add(1))%len(s.loops)]
	s.ln.Hold() // released when the loop closes the pair
	if !l.post(evCmd{add: p}) {
		syscall.Close(cfd)
		syscall.Close(bfd)
		s.ln.Untrack(raw, bc)
		s.ln.Release()
	}
}

// evDetach takes a TCP socket out of Go's netpoller: it returns a
// close-on-exec, non-blocking duplicate of its descriptor and closes c.
// On error it returns -1 (c is closed either way).
func evDetach(c net.Conn) (int, error) {
	defer c.Close()
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, errors.New("connection has no descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	err = rc.Control(func(s uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		if errno != 0 {
			derr = errno
			return
		}
		fd = int(r)
	})
	if err == nil {
		err = derr
	}
	if err == nil {
		// O_NONBLOCK is on the shared file description already (Go's
		// sockets are non-blocking); set it anyway.
		err = syscall.SetNonblock(fd, true)
	}
	if err != nil && fd >= 0 {
		syscall.Close(fd)
		fd = -1
	}
	return fd, err
}

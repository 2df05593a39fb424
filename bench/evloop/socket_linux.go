package evloop

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket is one non-blocking TCP socket on a loop.
type Socket struct {
	l    *Loop
	fd   int
	gen  uint32 // tells this registration from an earlier one of fd
	h    Handler
	pend []byte // bytes the kernel has not taken yet
	// Readiness, set by events and cleared by EAGAIN or short reads and writes.
	readable, writable, hup bool
	closed                  bool
	shutWanted, shut        bool  // CloseWrite was called; the FIN was sent
	err                     error // a write error: the socket is dead
}

// errWriteShut is a write after CloseWrite.
var errWriteShut = &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("sendto", unix.EPIPE)}

// Loop returns the socket's loop.
func (s *Socket) Loop() *Loop { return s.l }

// Readable reports whether a read may find bytes (an event said so and no
// read has emptied the socket since).
func (s *Socket) Readable() bool { return s.readable && !s.closed }

// HungUp reports whether the peer's FIN, a reset or an error was seen.
func (s *Socket) HungUp() bool { return s.hup }

// Pending is the number of written bytes the kernel has not taken yet.
func (s *Socket) Pending() int { return len(s.pend) }

func (s *Socket) ready() {
	if s.writable && len(s.pend) > 0 {
		if err := s.Flush(); err != nil {
			s.err = err
		}
	}
	if !s.closed {
		s.h.Ready(s)
	}
}

// Read reads what the socket holds into p: io.EOF at the peer's FIN,
// ErrWouldBlock when it holds nothing now.
func (s *Socket) Read(p []byte) (int, error) {
	if s.closed {
		return 0, ErrClosed
	}
	if !s.readable || len(p) == 0 {
		return 0, ErrWouldBlock
	}
	for {
		r, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(s.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch errno {
		case 0:
			n := int(r)
			if n == 0 {
				return 0, io.EOF
			}
			// A short read emptied the socket: the next bytes bring an
			// event, so no read that would return EAGAIN is needed. Not
			// after a hang-up, which brings no further event.
			if n < len(p) && !s.hup {
				s.readable = false
			}
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			s.readable = false
			return 0, ErrWouldBlock
		}
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", errno)}
	}
}

// Write sends p, keeping what the kernel does not take now for the next
// EPOLLOUT: it never blocks and never returns EAGAIN. An error means the
// socket is dead (reset, broken pipe).
func (s *Socket) Write(p []byte) (int, error) {
	switch {
	case s.closed:
		return 0, ErrClosed
	case s.err != nil:
		return 0, s.err
	case s.shutWanted:
		return 0, errWriteShut
	case len(p) == 0:
		return 0, nil
	case len(s.pend) > 0 || !s.writable:
		s.pend = append(s.pend, p...)
		return len(p), nil
	}
	n, err := s.send(p)
	if err != nil {
		s.err = err
		return n, err
	}
	if n < len(p) {
		s.pend = append(s.pend, p[n:]...)
	}
	return len(p), nil
}

// Flush sends staged bytes while the kernel takes them, then the FIN a
// CloseWrite asked for once none are left.
func (s *Socket) Flush() error {
	if s.closed || s.err != nil {
		return s.err
	}
	if len(s.pend) > 0 && s.writable {
		n, err := s.send(s.pend)
		if err != nil {
			s.err = err
			return err
		}
		s.pend = s.pend[n:]
		if len(s.pend) == 0 {
			s.pend = nil // release what a burst grew
		}
	}
	if len(s.pend) == 0 && s.shutWanted && !s.shut {
		return s.shutdown()
	}
	return nil
}

func (s *Socket) send(b []byte) (int, error) {
	for {
		r, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(s.fd), uintptr(unsafe.Pointer(&b[0])),
			uintptr(len(b)), unix.MSG_NOSIGNAL, 0, 0)
		switch errno {
		case 0:
			n := int(r)
			if n < len(b) {
				s.writable = false // the send buffer is full: EPOLLOUT follows
			}
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			s.writable = false
			return 0, nil
		}
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("sendto", errno)}
	}
}

// CloseWrite half-closes the socket: the FIN follows the staged bytes (at
// once when none are staged, else once Flush has sent them). Writes after it
// fail; calling it again is harmless.
func (s *Socket) CloseWrite() error {
	if s.closed {
		return ErrClosed
	}
	s.shutWanted = true
	if len(s.pend) > 0 || s.shut {
		return s.err
	}
	return s.shutdown()
}

func (s *Socket) shutdown() error {
	s.shut = true
	if err := unix.Shutdown(s.fd, unix.SHUT_WR); err != nil {
		s.err = &net.OpError{Op: "shutdown", Net: "tcp", Err: os.NewSyscallError("shutdown", err)}
		return s.err
	}
	return nil
}

// Close removes the socket from its loop and closes it; staged bytes are
// dropped. Calling it again is harmless.
func (s *Socket) Close() {
	if s.closed {
		return
	}
	s.closed = true
	l := s.l
	if s.fd < len(l.socks) && l.socks[s.fd] == s {
		l.socks[s.fd] = nil
		l.live--
	}
	// Closing the only descriptor also removes it from the epoll set.
	unix.Close(s.fd)
	s.pend = nil
}

// Abort closes the socket with a reset (SO_LINGER 0): the peer sees the
// connection cut, as a network blip or a crashed host cuts it, with no FIN
// and no close frame.
func (s *Socket) Abort() {
	if s.closed {
		return
	}
	// If linger cannot be set, the close below still ends the socket (with a FIN).
	_ = unix.SetsockoptLinger(s.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	s.Close()
}

// Attach moves c onto the loop: c's descriptor leaves Go's netpoller
// (Detach), and on the loop goroutine it is added with h as its handler;
// from then on c reads and writes the loop's socket. It may be called from
// any goroutine, which must not use c afterwards; done, if not nil, is called
// once with the outcome (the socket, or why not), before h.Ready is first
// called: on the loop goroutine, or, when the loop is down, on the calling
// goroutine with ErrClosed.
func (l *Loop) Attach(c *Conn, h Handler, done func(*Socket, error)) {
	fd, err := Detach(c.Conn)
	if err != nil {
		if done != nil && !l.Post(func() { done(nil, err) }) {
			done(nil, ErrClosed)
		}
		return
	}
	if !l.Post(func() {
		s, err := l.add(fd, h, c)
		if err != nil {
			unix.Close(fd)
		}
		if done != nil {
			done(s, err)
		}
		if err == nil {
			s.ready()
		}
	}) {
		unix.Close(fd)
		if done != nil {
			done(nil, ErrClosed)
		}
	}
}

// Detach takes a TCP connection out of Go's netpoller: it returns a
// close-on-exec, non-blocking duplicate of its descriptor and closes c (Go
// deregisters its own descriptor). On error it returns -1; c is closed
// either way.
func Detach(c net.Conn) (int, error) {
	defer c.Close()
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, errors.New("evloop: connection has no descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	err = rc.Control(func(sfd uintptr) {
		fd, derr = unix.FcntlInt(sfd, unix.F_DUPFD_CLOEXEC, 0)
	})
	if err == nil {
		err = derr
	}
	if err == nil {
		// O_NONBLOCK is on the shared file description already (Go's
		// sockets are non-blocking); set it anyway.
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1, err
	}
	return fd, nil
}

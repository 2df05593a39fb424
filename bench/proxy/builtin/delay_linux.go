package builtin

import (
	"syscall"
	"time"
	"unsafe"
)

// The delay on the event loop (Delay > 0). Each chunk a loop reads, in
// either direction, is due Delay after it was read. Its bytes wait in the
// destination side's delay queue (dq, bytes in read order) and the loop keeps
// one FIFO of due times for all its sides: Delay is the same for every chunk
// and the loop reads in time order, so the FIFO is in due order without a
// heap. A timerfd in the loop's epoll set, armed with a relative nanosecond
// timeout for the first due time, wakes the loop (through the same readiness
// path as the sockets, so Go's millisecond netpoll timeouts never round it).
//
// Back pressure is unchanged in kind: a side is not read while its
// destination has bytes the socket did not take (pend) or a full delay queue.

// evDelayQueueBytes bounds the bytes waiting out the delay per direction.
const evDelayQueueBytes = 1 << 20

// evDue is one chunk waiting out the delay: n bytes at the front of dst's
// delay queue, or (fin) the half-close that follows the last of them.
type evDue struct {
	dst *evSide
	due time.Duration // since relayEpoch
	n   int
	fin bool
}

// evDelay is a loop's delay state.
type evDelay struct {
	d       time.Duration
	timerfd int
	fifo    []evDue
	head    int
	armed   time.Duration // due time the timer is armed for (0: disarmed)
}

// newEvDelay creates the timerfd (non-blocking, close-on-exec).
func newEvDelay(d time.Duration) (*evDelay, error) {
	const clockMonotonic = 1
	fd, _, errno := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		return nil, errno
	}
	return &evDelay{d: d, timerfd: int(fd)}, nil
}

// arm sets the timer for the first due time, unless it is set for it already.
func (dl *evDelay) arm(now time.Duration) {
	if dl.head == len(dl.fifo) {
		return // nothing waits; a timer that fires finds nothing due
	}
	due := dl.fifo[dl.head].due
	if due == dl.armed {
		return
	}
	dl.armed = due
	rel := max(due-now, time.Microsecond) // 0 would disarm it
	// struct itimerspec {interval, value}, each {sec, nsec}.
	spec := [4]int64{0, 0, int64(rel / time.Second), int64(rel % time.Second)}
	syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, uintptr(dl.timerfd), 0, uintptr(unsafe.Pointer(&spec[0])), 0, 0, 0)
}

// clear reads the timerfd's expiry count, so its next expiry is an edge.
func (dl *evDelay) clear() {
	var b [8]byte
	syscall.RawSyscall(syscall.SYS_READ, uintptr(dl.timerfd), uintptr(unsafe.Pointer(&b[0])), 8)
	dl.armed = 0
}

// emit sends b to sd: at once without a delay, else after it.
func (l *evLoop) emit(sd *evSide, b []byte) error {
	if l.delay == nil || len(b) == 0 {
		return sd.out(b)
	}
	sd.dq = append(sd.dq, b...)
	// Due from now, after the read: never earlier than Delay after it.
	l.delay.fifo = append(l.delay.fifo, evDue{dst: sd, due: time.Since(relayEpoch) + l.delay.d, n: len(b)})
	return nil
}

// emitFin half-closes sd once its bytes are sent: after the delay, if any.
func (l *evLoop) emitFin(p *evPair, sd *evSide) error {
	if l.delay == nil {
		return l.halfClose(p, sd)
	}
	l.delay.fifo = append(l.delay.fifo, evDue{dst: sd, due: time.Since(relayEpoch) + l.delay.d, fin: true})
	return nil
}

// room reports whether more bytes may be read for sd (the destination).
func (sd *evSide) room() bool {
	return len(sd.pend) == 0 && len(sd.dq)-sd.dqHead < evDelayQueueBytes
}

// runDue sends every chunk that is due and arms the timer for the next.
func (l *evLoop) runDue() {
	dl := l.delay
	if dl == nil {
		return
	}
	now := time.Since(relayEpoch)
	for dl.head < len(dl.fifo) && dl.fifo[dl.head].due <= now {
		e := dl.fifo[dl.head]
		dl.fifo[dl.head] = evDue{}
		dl.head++
		p := e.dst.pair
		if p.closed {
			continue
		}
		var err error
		if e.fin {
			err = l.halfClose(p, e.dst)
		} else {
			err = e.dst.out(e.dst.dqPop(e.n))
		}
		if err != nil {
			l.close(p)
			continue
		}
		l.pump(p)
	}
	if dl.head == len(dl.fifo) {
		dl.fifo, dl.head = dl.fifo[:0], 0
	} else if dl.head > 1024 && dl.head > len(dl.fifo)/2 {
		n := copy(dl.fifo, dl.fifo[dl.head:])
		dl.fifo, dl.head = dl.fifo[:n], 0
	}
	dl.arm(time.Since(relayEpoch))
}

// dqPop takes the first n bytes of the delay queue; they stay valid until
// the next append (out copies what the socket does not take).
func (sd *evSide) dqPop(n int) []byte {
	b := sd.dq[sd.dqHead : sd.dqHead+n]
	sd.dqHead += n
	switch {
	case sd.dqHead == len(sd.dq):
		sd.dq, sd.dqHead = sd.dq[:0], 0
	case sd.dqHead > 64<<10 && sd.dqHead > len(sd.dq)/2:
		// Moving the rest to the front overwrites b: copy it first.
		b = append([]byte(nil), b...)
		m := copy(sd.dq, sd.dq[sd.dqHead:])
		sd.dq, sd.dqHead = sd.dq[:m], 0
	}
	return b
}

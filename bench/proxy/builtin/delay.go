package builtin

import (
	"time"

	"github.com/wssbench/wssbench/bench/evloop"
)

// The delay on the event loop (Delay > 0). Each chunk a loop reads, in
// either direction, is due Delay after it was read. Its bytes wait in the
// destination side's delay queue (dq, bytes in read order) and the loop keeps
// one FIFO of due times for all its sides: Delay is the same for every chunk
// and the loop reads in time order, so the FIFO is in due order without a
// heap. One loop Timer, due at the FIFO's first due time, wakes the loop
// (evloop's timerfd has nanosecond timeouts, so Go's millisecond netpoll
// timeouts never round it).
//
// Back pressure is unchanged in kind: a side is not read while its
// destination has bytes the socket did not take (pending) or a full delay
// queue.

// evDelayQueueBytes bounds the bytes waiting out the delay per direction.
const evDelayQueueBytes = 1 << 20

// evDue is one chunk waiting out the delay: n bytes at the front of dst's
// delay queue, or (fin) the half-close that follows the last of them.
type evDue struct {
	dst *evSide
	due int64 // on the loop's clock
	n   int
	fin bool
}

// evDelay is a loop's delay state.
type evDelay struct {
	l     *evLoop
	d     int64 // Delay in nanoseconds
	fifo  []evDue
	head  int
	timer evloop.Timer // due at fifo[head].due while anything waits
}

func newEvDelay(l *evLoop, d time.Duration) *evDelay {
	dl := &evDelay{l: l, d: int64(d)}
	dl.timer.F = func(int64) { l.runDue() }
	return dl
}

// push queues e, arming the timer if nothing waited (later chunks are due
// later: runDue arms it for them).
func (dl *evDelay) push(e evDue) {
	dl.fifo = append(dl.fifo, e)
	if dl.head == len(dl.fifo)-1 {
		dl.l.l.Schedule(&dl.timer, e.due)
	}
}

// emit sends b to sd: at once without a delay, else after it.
func (l *evLoop) emit(sd *evSide, b []byte) error {
	if l.delay == nil || len(b) == 0 {
		return sd.out(b)
	}
	sd.dq = append(sd.dq, b...)
	// Due from now, after the read: never earlier than Delay after it.
	l.delay.push(evDue{dst: sd, due: l.l.Now() + l.delay.d, n: len(b)})
	return nil
}

// emitFin half-closes sd once its bytes are sent: after the delay, if any.
func (l *evLoop) emitFin(p *evPair, sd *evSide) error {
	if l.delay == nil {
		return l.halfClose(p, sd)
	}
	l.delay.push(evDue{dst: sd, due: l.l.Now() + l.delay.d, fin: true})
	return nil
}

// room reports whether more bytes may be read for sd (the destination).
func (sd *evSide) room() bool {
	return sd.sock.Pending() == 0 && len(sd.dq)-sd.dqHead < evDelayQueueBytes
}

// runDue sends every chunk that is due and sets the timer for the next.
func (l *evLoop) runDue() {
	dl := l.delay
	now := l.l.Now()
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
		return
	}
	if dl.head > 1024 && dl.head > len(dl.fifo)/2 {
		n := copy(dl.fifo, dl.fifo[dl.head:])
		dl.fifo, dl.head = dl.fifo[:n], 0
	}
	l.l.Schedule(&dl.timer, dl.fifo[dl.head].due)
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

package builtin

import (
	"context"
	"net"
	"syscall"

	"github.com/wssbench/wssbench/bench/evloop"
)

// The event-loop relay (delay.go adds the delay), on bench/evloop's loops.
// After the TLS handshake (a goroutine with blocking I/O, as before) and the
// backend dial, both sockets leave Go's netpoller (evloop.Detach) and are
// added to one loop, edge-triggered: the loop goroutine parks in Go's
// netpoller on its epoll descriptor and calls each side's Ready when its
// socket may be read or written. Back pressure is "do not read this side
// while the other has pending output", not a change of the interest set.

// evBufBytes is how much one pass reads before relaying: one full TLS record.
const evBufBytes = relayBigBytes

// evLoop is one event loop and the pairs it relays. Its fields other than
// s and l are owned by the loop goroutine.
type evLoop struct {
	s     *Server
	l     *evloop.Loop
	pairs map[*evPair]struct{}
	buf   []byte   // the loop's read buffer, evBufBytes of it
	stage []byte   // TLS records crypto/tls wrote, not yet sent
	delay *evDelay // nil without Delay
	down  bool     // the pairs were closed for shutdown: close new ones at once
}

// startEvLoops creates n event loops and starts their goroutines (counted in
// s.ln as work). They end when shut down.
func startEvLoops(s *Server, n int) ([]*evLoop, error) {
	loops := make([]*evLoop, 0, n)
	for range n {
		l, err := evloop.New()
		if err != nil {
			for _, el := range loops {
				el.l.Shutdown()
				go el.l.Run() // closes its descriptors and ends at once
			}
			return nil, err
		}
		el := &evLoop{s: s, l: l, pairs: make(map[*evPair]struct{}), buf: l.Buffer()[:evBufBytes]}
		if s.cfg.Delay > 0 {
			el.delay = newEvDelay(el, s.cfg.Delay)
		}
		loops = append(loops, el)
	}
	for _, el := range loops {
		s.ln.Go(el.l.Run)
	}
	return loops, nil
}

// shutdown makes the loop close every pair and end (again is harmless).
func (l *evLoop) shutdown() {
	// The pairs go first, so each is released; a pair posted after this
	// is closed as it is added.
	l.l.Post(func() {
		l.down = true
		for p := range l.pairs {
			l.close(p)
		}
	})
	l.l.Shutdown()
}

// add registers both sockets of a new pair and relays whatever is already
// there, including records crypto/tls read together with the handshake.
func (l *evLoop) add(p *evPair, cfd, bfd int) {
	p.l = l
	p.client.pair, p.backend.pair = p, p
	p.linger.F = func(int64) { l.close(p) }
	l.pairs[p] = struct{}{}
	var err error
	if p.backend.sock, err = l.l.Add(bfd, &p.backend); err != nil {
		evCloseFd(cfd)
		evCloseFd(bfd)
		l.close(p)
		return
	}
	if p.client.sock, err = l.l.Add(cfd, &p.client); err != nil {
		evCloseFd(cfd)
		l.close(p)
		return
	}
	p.client.conn.sock, p.client.conn.l = p.client.sock, l
	p.tlsMore = true // bytes crypto/tls already read are its own
	p.added = true
	if l.down {
		l.close(p)
		return
	}
	l.pump(p)
}

// close ends a pair: both sockets, its tracking and its linger timer.
func (l *evLoop) close(p *evPair) {
	if p.closed {
		return
	}
	p.closed = true
	l.l.Cancel(&p.linger)
	for _, sd := range []*evSide{&p.client, &p.backend} {
		if sd.sock != nil {
			sd.sock.Close()
		}
		sd.dq = nil
	}
	delete(l.pairs, p)
	l.s.ln.Untrack(p.keys[0], p.keys[1])
	l.s.ln.Release()
}

// startLinger bounds how long the other direction may go on after one
// direction ended cleanly.
func (l *evLoop) startLinger(p *evPair) {
	if p.linger.Scheduled() || p.lingering {
		return
	}
	p.lingering = true
	l.l.Schedule(&p.linger, l.l.Now()+int64(relayLinger))
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
	cfd, cerr := evloop.Detach(raw)
	bfd, berr := evloop.Detach(bc)
	if cerr != nil || berr != nil {
		for _, fd := range []int{cfd, bfd} {
			if fd >= 0 {
				evCloseFd(fd)
			}
		}
		s.ln.Untrack(raw, bc)
		return
	}
	l := s.loops[int(s.next.Add(1))%len(s.loops)]
	s.ln.Hold() // released when the loop closes the pair
	if !l.l.Post(func() { l.add(p, cfd, bfd) }) {
		evCloseFd(cfd)
		evCloseFd(bfd)
		s.ln.Untrack(raw, bc)
		s.ln.Release()
	}
}

// evCloseFd closes a descriptor no loop has.
func evCloseFd(fd int) { syscall.Close(fd) }

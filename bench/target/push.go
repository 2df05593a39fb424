package target

import (
	"math"
	"strconv"
	"time"

	"github.com/wssbench/wssbench/bench/wsconn"
)

const (
	// maxPushRate bounds Config.PushRate (frames/s per connection).
	maxPushRate = 100_000
	// maxPushBurst is the most frames a connection behind its schedule
	// writes at once; the older ones due are skipped.
	maxPushBurst = 64
	// goldenFraction spreads the connections' places in the interval:
	// k*goldenFraction mod 1 is evenly spread for any number of connections.
	goldenFraction = 0.6180339887498949
	// pushFrameBytes bounds one encoded push frame: a 2-byte header and
	// {"seq":N,"ts":T} with two 20-digit numbers.
	pushFrameBytes = 2 + 16 + 2*20
)

// pushTo serves a connection of a push stream: it echoes what the client
// sends while a second goroutine pushes stamped frames on its schedule.
func (s *Server) pushTo(c *wsconn.Conn, sc *sharedConn) {
	k := s.pushSeq.Add(1) - 1
	done, ended := make(chan struct{}), make(chan struct{})
	s.ln.Go(func() {
		defer close(ended)
		s.push(sc, k, done)
	})
	s.echo(c)
	// echo closed the connection: a write in progress fails.
	close(done)
	<-ended
}

// push writes the k-th connection's frames until done. Its schedule is the
// server's grid of intervals (1/PushRate) shifted by the connection's place;
// each frame's seq is the number of its interval since the connection
// began, so a client sees skipped frames as gaps.
func (s *Server) push(sc *sharedConn, k int64, done <-chan struct{}) {
	interval := max(time.Duration(float64(time.Second)/s.cfg.PushRate), time.Microsecond)
	origin := s.epoch.Add(pushPhase(k, interval))
	next := origin.Add((time.Since(origin)/interval + 1) * interval)
	var seq, pushed, written int64
	defer func() {
		s.pushed.Add(pushed)
		s.pushWritten.Add(written)
	}()
	buf := make([]byte, 0, maxPushBurst*pushFrameBytes)
	t := time.NewTimer(time.Until(next))
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		due := int64(time.Since(next)/interval) + 1
		next = next.Add(time.Duration(due) * interval)
		pushed += due
		n := min(due, maxPushBurst)
		buf = buf[:0]
		ts := time.Now().UnixNano()
		for q := seq + due - n + 1; q <= seq+due; q++ {
			buf = appendPush(buf, q, ts)
		}
		seq += due
		ok, err := sc.writeBytes(buf)
		if err != nil {
			// Cut it, so the echo loop ends too; then wait for it.
			sc.raw.Close()
			<-done
			return
		}
		if ok {
			written += n
		} else {
			pushed -= due // the connection is closing: nothing is owed to it any more
		}
		if pushed >= echoBatch {
			s.pushed.Add(pushed)
			s.pushWritten.Add(written)
			pushed, written = 0, 0
		}
		t.Reset(time.Until(next))
	}
}

// pushPhase is the k-th connection's place in the interval.
func pushPhase(k int64, interval time.Duration) time.Duration {
	return time.Duration(math.Mod(float64(k)*goldenFraction, 1) * float64(interval))
}

// appendPush appends one text frame {"seq":seq,"ts":ts}, unmasked.
func appendPush(b []byte, seq, ts int64) []byte {
	start := len(b)
	b = append(b, 0x81, 0) // FIN, text; the length follows
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, '}')
	b[start+1] = byte(len(b) - start - 2)
	return b
}

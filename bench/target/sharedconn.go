package target

import (
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// deadlineRefresh is how often a connection's second writer (a room's
// deliveries, a push schedule) moves the write deadline on: it stays between
// IdleTimeout-deadlineRefresh and IdleTimeout ahead, at one deadline update
// per deadlineRefresh rather than per write.
const deadlineRefresh = time.Second

// sharedConn is a connection written by two goroutines: its reader (the
// wsconn.Conn that answers pings, echoes and runs the close handshake) and a
// second writer of whole data frames (deliveries, pushes). Every write holds
// wmu, so frames never interleave; once a close frame was written no data
// frame follows (RFC 6455 §5.5.1). Once the reader began closing (stop), the
// second writer no longer moves the write deadline, so the close handshake's
// deadline holds; stop never waits for a write in progress (a slow reader's
// write may block until that deadline).
type sharedConn struct {
	net.Conn          // the TLS or TCP connection
	raw      net.Conn // the TCP connection under it, closed to cut it
	idle     time.Duration

	wmu          sync.Mutex
	closeWritten bool // a close frame was written (under wmu)

	dmu       sync.Mutex
	stopped   bool      // the reader is closing (under dmu)
	refreshAt time.Time // when the next write moves the write deadline (under dmu)
}

// Write writes b, one whole frame (wsconn writes header and payload in one
// call); a close frame among them ends the data frames.
func (c *sharedConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(b) > 0 && ws.OpCode(b[0]&0x0f) == ws.OpClose {
		c.closeWritten = true
	}
	return c.Conn.Write(b)
}

// stop ends the second writer's writes; the reader calls it before it sets
// the close handshake's deadline, which the second writer would otherwise
// move on.
func (c *sharedConn) stop() {
	c.dmu.Lock()
	c.stopped = true
	c.dmu.Unlock()
}

// writeData writes whole encoded data frames; false, nil when the
// connection is closing. For a TCP connection net.Buffers is one writev.
func (c *sharedConn) writeData(v *net.Buffers) (bool, error) {
	if ok, err := c.refresh(); !ok {
		return false, err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeWritten {
		return false, nil
	}
	_, err := v.WriteTo(c.Conn)
	return err == nil, err
}

// writeBytes is writeData of one buffer.
func (c *sharedConn) writeBytes(b []byte) (bool, error) {
	if ok, err := c.refresh(); !ok {
		return false, err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeWritten {
		return false, nil
	}
	_, err := c.Conn.Write(b)
	return err == nil, err
}

// refresh reports whether the second writer may write (false once stopped)
// and moves the write deadline IdleTimeout on, at most once per
// deadlineRefresh: a peer that reads nothing for that long is cut.
func (c *sharedConn) refresh() (bool, error) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if c.stopped {
		return false, nil
	}
	now := time.Now()
	if now.Before(c.refreshAt) {
		return true, nil
	}
	c.refreshAt = now.Add(deadlineRefresh)
	if err := c.Conn.SetWriteDeadline(now.Add(c.idle)); err != nil {
		return false, err
	}
	return true, nil
}

// Package target is wssbench's built-in echo server: wss:// or ws://, it echoes
// text and binary frames (fragments as they come), answers pings, completes the
// close handshake, and bounds frame size and idle time. It counts what it saw
// (Counts) and can stall on purpose (Config.Stalls). Two workloads change what
// it does with frames: a chat server (Config.Rooms) delivers each message to
// the other members of its sender's room, and a push stream
// (Config.PushRate) sends stamped frames to every connection unasked. Abort
// ends it as a crash would, for reconnect storms.
package target

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wssbench/wssbench/bench/listener"
)

// shutdownGrace bounds how long Serve waits, after it woke every connection
// to send its close frame, before it closes what is left (and as long again
// for their goroutines to end).
const shutdownGrace = 5 * time.Second

// wakeSlack is how long after Stop an idle connection's read ends.
const wakeSlack = 20 * time.Millisecond

// Config describes an echo server.
type Config struct {
	// Listen is the address to listen on, such as 127.0.0.1:8443 (port 0 picks one).
	Listen string
	// ReusePort lets several servers listen on one port (SO_REUSEPORT): the
	// kernel spreads connections over them.
	ReusePort bool
	// TLS terminates TLS when set (wss://); nil serves plain ws://.
	TLS *tls.Config
	// MaxFrameBytes bounds an incoming frame (default 1 MiB); larger frames close the connection with 1009.
	MaxFrameBytes int64
	// IdleTimeout closes a connection that sends nothing for this long (default 2 minutes).
	IdleTimeout time.Duration
	// HandshakeTimeout bounds TLS and upgrade (default 10 s).
	HandshakeTimeout time.Duration
	// EchoDelay is a fault-injection knob: the server waits this long before
	// echoing each frame, as a slower server would (0: echo at once).
	EchoDelay time.Duration
	// Stalls are fault-injection windows in which the server echoes nothing
	// (see Stall), to show coordinated omission in a driver's figures.
	Stalls []Stall
	// Rooms, when more than 0, makes the server a chat server of rooms of
	// this many members: every whole message (text or binary, fragments
	// reassembled) a connection sends goes, unchanged and unfragmented, to
	// every other connection of its room, not back to the sender. Rooms fill
	// in upgrade order (room 0 gets the first Rooms connections, ...), unless
	// the upgrade's URL path is other than "/": then the path names the room,
	// shared by every connection with that path, of any size. A connection
	// that ends leaves its room.
	Rooms int
	// RoomQueue is how many deliveries may wait for one connection to take
	// them (default 256); a delivery to a full queue is dropped and counted.
	RoomQueue int
	// PushRate, when more than 0, makes the server push text frames
	// {"seq":N,"ts":UNIX_NANOS} to every connection at this rate (frames/s
	// per connection), ts the wall-clock time the frame is written, the
	// connections' schedules spread evenly over one interval. Frames a
	// connection sends are still echoed. It does not go with Rooms.
	PushRate float64
	// Capacity caps the frames per second the server echoes over all its
	// connections (0: no cap): a token bucket; frames beyond it wait their
	// turn, so latency grows past the knee as in a saturated server. A
	// target of known capacity, for checking a capacity search.
	Capacity float64
}

// Validate reports a config the server cannot run.
func (c Config) Validate() error {
	if c.EchoDelay < 0 {
		return fmt.Errorf("echo delay must not be negative (got %v)", c.EchoDelay)
	}
	for _, s := range c.Stalls {
		if err := s.Validate(); err != nil {
			return err
		}
	}
	switch {
	case math.IsNaN(c.Capacity) || math.IsInf(c.Capacity, 0) || c.Capacity < 0:
		return fmt.Errorf("capacity must be a number of frames per second, 0 (no cap) or more (got %v)", c.Capacity)
	case c.Capacity > 0 && (c.Rooms > 0 || c.PushRate > 0):
		return fmt.Errorf("capacity caps the frames the target echoes; it does not go with rooms or a push rate")
	case c.Rooms < 0:
		return fmt.Errorf("rooms must not be negative (got %d): give the members per room, or 0 to echo", c.Rooms)
	case c.RoomQueue < 0:
		return fmt.Errorf("room queue must not be negative (got %d)", c.RoomQueue)
	case math.IsNaN(c.PushRate) || math.IsInf(c.PushRate, 0) || c.PushRate < 0:
		return fmt.Errorf("push rate must be a number of frames per second, 0 or more (got %v)", c.PushRate)
	case c.PushRate > maxPushRate:
		return fmt.Errorf("push rate %v is more than %v frames per second per connection", c.PushRate, float64(maxPushRate))
	case c.Rooms > 0 && c.PushRate > 0:
		return fmt.Errorf("rooms (%d) and push rate (%v) do not go together: a target is a chat server or a push stream, not both; drop one", c.Rooms, c.PushRate)
	}
	return nil
}

// Counts is what the server saw, for a parent to check a driver's figures
// against. While the server runs, FramesEchoed may lag by a few frames per
// connection (each connection adds its count in batches); once Serve has
// returned every figure is exact.
type Counts struct {
	// Accepted is TCP connections accepted.
	Accepted int64 `json:"accepted"`
	// Upgraded is connections that completed TLS (for wss://) and the
	// WebSocket upgrade.
	Upgraded int64 `json:"upgraded"`
	// FramesEchoed is data frames (text, binary, continuation) echoed.
	FramesEchoed int64 `json:"frames_echoed"`
	// Closes is close handshakes completed: the peer's close frame answered,
	// or the server's close frame answered by the peer.
	Closes int64 `json:"closes"`
	// FramesReceived is, in rooms mode, whole messages received from
	// clients (fragments reassembled count once).
	FramesReceived int64 `json:"frames_received,omitempty"`
	// DeliveriesOwed is, in rooms mode, for each message received, the
	// number of other members its room had at that moment.
	DeliveriesOwed int64 `json:"deliveries_owed,omitempty"`
	// DeliveriesWritten is, in rooms mode, deliveries written to a member's
	// connection.
	DeliveriesWritten int64 `json:"deliveries_written,omitempty"`
	// DeliveriesDropped is, in rooms mode, deliveries not written: the
	// member's queue was full (a slow reader), or the member was closing or
	// gone before its turn came. Once Serve has returned, DeliveriesOwed is
	// DeliveriesWritten plus DeliveriesDropped.
	DeliveriesDropped int64 `json:"deliveries_dropped,omitempty"`
	// Pushed is, in push mode, frames owed by the connections' schedules
	// (every interval that came due while the connection lived).
	Pushed int64 `json:"pushed,omitempty"`
	// PushWritten is, in push mode, pushed frames written; a connection
	// that falls behind its schedule skips the frames it cannot catch up.
	PushWritten int64 `json:"push_written,omitempty"`
}

// Server is a running echo server.
type Server struct {
	cfg Config
	ln  *listener.Listener

	accepted, upgraded, echoed, closes atomic.Int64
	// The rooms and push counters (see Counts).
	received, owed, delivered, dropped, pushed, pushWritten atomic.Int64
	rooms                                                   roomSet
	// pushSeq numbers push connections, for their place in the interval.
	pushSeq atomic.Int64
	// firstUpgrade is the monotonic time (since epoch) of the first
	// upgraded connection, plus one (0: none yet); stalls count from it.
	firstUpgrade atomic.Int64
	epoch        time.Time
	// capacity paces echoes when Config.Capacity is set (nil otherwise).
	capacity *bucket
}

// Listen checks cfg and opens the listening socket; call Serve to accept.
func Listen(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = 1 << 20
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	cfg.Stalls = sortedStalls(cfg.Stalls)
	var capacity *bucket
	if cfg.Capacity > 0 {
		capacity = newBucket(cfg.Capacity)
	}
	if cfg.RoomQueue <= 0 {
		cfg.RoomQueue = defaultRoomQueue
	}
	// Stop wakes a connection by ending its read soon; the echo loop sees
	// Down and sends a close frame (1001 going away). Soon, not now: a read
	// with its deadline passed fails without looking at the socket, so a
	// frame whose header was read but not its payload would leave the stream
	// out of step, and the close handshake would fail. wakeSlack lets the
	// rest of a frame already on its way arrive; a busy connection sees Down
	// at its next frame anyway.
	ln, err := listener.Listen(cfg.Listen, listener.Options{ReusePort: cfg.ReusePort, Wake: func(c net.Conn) { _ = c.SetReadDeadline(time.Now().Add(wakeSlack)) }})
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, ln: ln, epoch: time.Now(), rooms: roomSet{byName: map[string]*room{}}, capacity: capacity}, nil
}

// Addr returns the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL returns the ws:// or wss:// URL clients use. For a server listening on
// every interface (0.0.0.0 or [::]) it names the loopback address 127.0.0.1,
// which such a server also serves and a self-signed certificate covers.
func (s *Server) URL() string {
	scheme := "ws"
	if s.cfg.TLS != nil {
		scheme = "wss"
	}
	return scheme + "://" + DialAddr(s.ln.Addr()) + "/"
}

// DialAddr is addr as a client dials it: an unspecified IP (0.0.0.0, ::)
// becomes 127.0.0.1.
func DialAddr(addr net.Addr) string {
	ta, ok := addr.(*net.TCPAddr)
	if !ok || !ta.IP.IsUnspecified() && ta.IP != nil {
		return addr.String()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ta.Port))
}

// EveryInterface reports whether the server listens on every interface.
func (s *Server) EveryInterface() bool {
	ta, ok := s.ln.Addr().(*net.TCPAddr)
	return ok && (ta.IP == nil || ta.IP.IsUnspecified())
}

// Counts returns what the server has seen so far.
func (s *Server) Counts() Counts {
	return Counts{
		Accepted:     s.accepted.Load(),
		Upgraded:     s.upgraded.Load(),
		FramesEchoed: s.echoed.Load(),
		Closes:       s.closes.Load(),

		FramesReceived:    s.received.Load(),
		DeliveriesOwed:    s.owed.Load(),
		DeliveriesWritten: s.delivered.Load(),
		DeliveriesDropped: s.dropped.Load(),
		Pushed:            s.pushed.Load(),
		PushWritten:       s.pushWritten.Load(),
	}
}

// Abort ends the server as a crash would: it stops accepting and cuts every
// connection at once, with no close frame (TCP's FIN, as the kernel sends for
// a killed process; no TLS close_notify either). Serve then returns nil once
// the connections' work has ended, and the counts are exact. Abort is for
// reconnect storms: a new server may listen on the same address afterwards.
func (s *Server) Abort() { s.ln.Abort() }

// Serve accepts connections until ctx ends, then closes every connection with
// a close frame (1001 going away), also connections busy echoing, and returns
// once all are gone (connections that do not finish their close handshake in
// time are closed without one). It returns nil when ctx ended, the error that
// stopped accepting, or an error when connections outlived the shutdown bound.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, s.ln.Stop)
	defer stop()
	err := s.ln.Serve(s.handle)
	if ctx.Err() != nil {
		err = nil // Serve ended because ctx did
	}
	if serr := s.ln.Shutdown(shutdownGrace); serr != nil {
		return serr
	}
	return err
}

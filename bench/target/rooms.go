package target

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/wsconn"
)

const (
	// defaultRoomQueue is Config.RoomQueue's default.
	defaultRoomQueue = 256
	// writeBatch is the most deliveries a member's writer takes from its
	// queue for one write (one writev on TCP).
	writeBatch = 64
	// coalesceBytes bounds the deliveries a TLS member's writer copies into
	// one write (one TLS record of 16 KiB at most).
	coalesceBytes = 16 << 10
	// maxPooledMessage is the largest message buffer kept for reuse.
	maxPooledMessage = 64 << 10
)

// message is one whole message to deliver, encoded once as a server frame
// (unmasked, so the same bytes go to every member) and shared, read-only, by
// every member's queue until the last one lets go of it.
type message struct {
	// buf is ws.MaxHeaderSize bytes kept for the header, then the payload.
	buf []byte
	// frame is the encoded frame: the header right before the payload.
	frame []byte
	refs  atomic.Int32
}

// messages are message buffers for reuse.
var messages = sync.Pool{New: func() any { return &message{buf: make([]byte, ws.MaxHeaderSize, ws.MaxHeaderSize+512)} }}

func newMessage() *message {
	m := messages.Get().(*message)
	m.buf = m.buf[:ws.MaxHeaderSize]
	return m
}

// payloadLen is the length of the payload assembled so far.
func (m *message) payloadLen() int { return len(m.buf) - ws.MaxHeaderSize }

// seal encodes the header in front of the payload.
func (m *message) seal(op ws.OpCode) {
	var h [ws.MaxHeaderSize]byte
	n := wsconn.PutHeader(h[:], ws.Header{Fin: true, OpCode: op, Length: int64(m.payloadLen())})
	copy(m.buf[ws.MaxHeaderSize-n:], h[:n])
	m.frame = m.buf[ws.MaxHeaderSize-n:]
}

// free returns the message for reuse (a large one to the garbage collector).
func (m *message) free() {
	m.frame = nil
	if cap(m.buf) <= maxPooledMessage {
		messages.Put(m)
	}
}

// release lets go of one share of the message.
func (m *message) release() {
	if m.refs.Add(-1) == 0 {
		m.free()
	}
}

// room is the connections that hear each other.
type room struct {
	key string
	// mu is held for reading while a message is handed to the members, for
	// writing while one joins or leaves: after leave returns no sender can
	// hand the leaver anything, so its writer can count what is left.
	mu      sync.RWMutex
	members []*member
}

// member is one connection of a room, with its queue of deliveries.
type member struct {
	conn  *sharedConn
	plain bool // a TCP connection: writev, no copy
	queue chan *message
	done  chan struct{} // closed when the connection has ended
	ended chan struct{} // closed when its writer has ended

	batch [writeBatch]*message
	vec   [writeBatch][]byte
	bufs  net.Buffers
	join  []byte // a TLS connection's deliveries copied into one write
}

// roomSet is every room, by key: "#N" for the N-th room filled in upgrade
// order, the URL path for a named one. An empty room is forgotten.
type roomSet struct {
	mu     sync.Mutex
	byName map[string]*room
	// filled counts the connections placed in numbered rooms.
	filled atomic.Int64
}

// roomKey is the room of a connection upgraded with the request URI uri.
func (rs *roomSet) roomKey(uri string, size int) string {
	for i := 0; i < len(uri); i++ {
		if uri[i] == '?' {
			uri = uri[:i]
			break
		}
	}
	if uri != "" && uri != "/" {
		return uri
	}
	n := rs.filled.Add(1) - 1
	return "#" + strconv.FormatInt(n/int64(size), 10)
}

// join adds m to the room with this key, made if needed.
func (rs *roomSet) join(key string, m *member) *room {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r := rs.byName[key]
	if r == nil {
		r = &room{key: key}
		rs.byName[key] = r
	}
	r.mu.Lock()
	r.members = append(r.members, m)
	r.mu.Unlock()
	return r
}

// leave removes m from r, and r from the set once it is empty.
func (rs *roomSet) leave(r *room, m *member) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r.mu.Lock()
	for i, x := range r.members {
		if x == m {
			last := len(r.members) - 1
			r.members[i] = r.members[last]
			r.members[last] = nil
			r.members = r.members[:last]
			break
		}
	}
	empty := len(r.members) == 0
	r.mu.Unlock()
	if empty && rs.byName[r.key] == r {
		delete(rs.byName, r.key)
	}
}

// deliver hands msg to every member but from, never waiting: a full queue
// drops the delivery. It returns the deliveries owed and dropped.
func (r *room) deliver(from *member, msg *message) (owed, dropped int64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := len(r.members) - 1
	if n <= 0 {
		msg.free()
		return 0, 0
	}
	msg.refs.Store(int32(n))
	for _, m := range r.members {
		if m == from {
			continue
		}
		select {
		case m.queue <- msg:
		default:
			dropped++
			msg.release()
		}
	}
	return int64(n), dropped
}

// newMember is a connection's place in a room, before it has joined.
func (s *Server) newMember() *member {
	return &member{queue: make(chan *message, s.cfg.RoomQueue), done: make(chan struct{}), ended: make(chan struct{})}
}

// chat serves m, a member of r: it reads whole messages and hands each to
// the others of its room, until the connection ends; the member's writer
// sends it what the others say.
func (s *Server) chat(c *wsconn.Conn, sc *sharedConn, m *member, r *room) {
	m.conn = sc
	_, m.plain = sc.Conn.(*net.TCPConn)
	s.ln.Go(func() {
		defer close(m.ended)
		s.write(m)
	})
	s.read(c, m, r)
	// read closed the connection: the writer's write in progress fails.
	s.leave(r, m)
	<-m.ended
}

// leave takes m out of r and ends its writer, or, when it never started
// one, drops what waits in its queue.
func (s *Server) leave(r *room, m *member) {
	s.rooms.leave(r, m)
	close(m.done)
	if m.conn == nil {
		s.dropped.Add(m.drain())
	}
}

// drain drops what waits in m's queue and returns how many.
func (m *member) drain() int64 {
	var n int64
	for {
		select {
		case msg := <-m.queue:
			n++
			msg.release()
		default:
			return n
		}
	}
}

// read is chat's read loop.
func (s *Server) read(c *wsconn.Conn, from *member, r *room) {
	var received, owed, dropped int64
	var msg *message
	var op ws.OpCode
	flush := func() {
		s.received.Add(received)
		s.owed.Add(owed)
		s.dropped.Add(dropped)
		received, owed, dropped = 0, 0, 0
	}
	defer func() {
		flush()
		if msg != nil {
			msg.free()
		}
	}()
	for {
		if received >= echoBatch {
			flush()
		}
		h, p, ok := s.nextFrame(c)
		if !ok {
			return
		}
		switch {
		case h.OpCode == ws.OpContinuation:
			if msg == nil {
				s.close(c, ws.StatusProtocolError) // a continuation of nothing
				return
			}
		case msg != nil:
			s.close(c, ws.StatusProtocolError) // a new message inside a fragmented one
			return
		default:
			msg, op = newMessage(), h.OpCode
		}
		if int64(msg.payloadLen()+len(p)) > s.cfg.MaxFrameBytes {
			s.close(c, ws.StatusMessageTooBig)
			return
		}
		msg.buf = append(msg.buf, p...)
		if !h.Fin {
			continue
		}
		msg.seal(op)
		received++
		if !s.wait() {
			s.close(c, ws.StatusGoingAway)
			return
		}
		o, d := r.deliver(from, msg)
		msg = nil
		owed += o
		dropped += d
	}
}

// write is a member's writer: it writes what its queue holds, several
// deliveries per write, until the member has ended; what is left then is
// dropped. After a failed write it drops everything (and has cut the
// connection, so its reader ends).
func (s *Server) write(m *member) {
	var written, dropped int64
	defer func() {
		s.delivered.Add(written)
		s.dropped.Add(dropped)
	}()
	broken := false
	for {
		var first *message
		select {
		case first = <-m.queue:
		case <-m.done:
			dropped += m.drain()
			return
		}
		batch := m.take(first)
		sent := 0
		if !broken {
			var err error
			if sent, err = m.send(batch); err != nil {
				broken = true
				m.conn.raw.Close()
			}
		}
		written += int64(sent)
		dropped += int64(len(batch) - sent)
		for i, msg := range batch {
			msg.release()
			batch[i] = nil
		}
		if written >= echoBatch {
			s.delivered.Add(written)
			written = 0
		}
	}
}

// take returns first and what else waits in the queue, up to writeBatch.
func (m *member) take(first *message) []*message {
	batch := append(m.batch[:0], first)
	for len(batch) < writeBatch {
		select {
		case msg := <-m.queue:
			batch = append(batch, msg)
		default:
			return batch
		}
	}
	return batch
}

// send writes a batch and returns how many of its deliveries it wrote: on
// TCP one writev of the shared frames; on TLS the frames copied into as few
// writes (records) as coalesceBytes allows. It writes nothing once the
// connection is closing.
func (m *member) send(batch []*message) (int, error) {
	if m.plain {
		m.bufs = m.vec[:0]
		for _, msg := range batch {
			m.bufs = append(m.bufs, msg.frame)
		}
		ok, err := m.conn.writeData(&m.bufs)
		clear(m.vec[:len(batch)])
		if !ok {
			return 0, err
		}
		return len(batch), nil
	}
	sent, joined := 0, 0
	m.join = m.join[:0]
	flush := func() (bool, error) {
		if joined == 0 {
			return true, nil
		}
		ok, err := m.conn.writeBytes(m.join)
		if ok {
			sent += joined
		}
		m.join, joined = m.join[:0], 0
		return ok, err
	}
	for _, msg := range batch {
		if len(m.join)+len(msg.frame) > coalesceBytes {
			if ok, err := flush(); !ok {
				return sent, err
			}
		}
		if len(msg.frame) >= coalesceBytes {
			ok, err := m.conn.writeBytes(msg.frame)
			if !ok {
				return sent, err
			}
			sent++
			continue
		}
		m.join = append(m.join, msg.frame...)
		joined++
	}
	_, err := flush()
	return sent, err
}

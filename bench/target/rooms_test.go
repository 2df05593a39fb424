package target

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/wsconn"
)

// roomMessage is the k-th test message: sizes that take each header length
// (2, 4 and 10 bytes), text and binary, some sent in fragments.
func roomMessage(k int) (ws.OpCode, []byte, int) {
	sizes := []int{10, 200, 70000, 3, 1000, 130, 65536}
	op := ws.OpText
	if k%2 == 1 {
		op = ws.OpBinary
	}
	p := bytes.Repeat([]byte{byte('a' + k)}, sizes[k%len(sizes)])
	copy(p, fmt.Sprintf("m%d", k))
	return op, p, k % 3 // fragments: 1, 2 or 3 frames (0 means whole)
}

// send writes p as a message of op in parts frames.
func send(t *testing.T, c *wsconn.Conn, op ws.OpCode, p []byte, parts int) {
	t.Helper()
	if parts <= 1 {
		if err := c.WriteMessage(op, p); err != nil {
			t.Fatal(err)
		}
		return
	}
	step := len(p) / parts
	for i := range parts {
		lo, hi := i*step, (i+1)*step
		if i == parts-1 {
			hi = len(p)
		}
		code := op
		if i > 0 {
			code = ws.OpContinuation
		}
		if err := c.WriteFrame(code, i == parts-1, p[lo:hi]); err != nil {
			t.Fatal(err)
		}
	}
}

// expect reads one frame and checks it is the whole message op, p.
func expect(t *testing.T, c *wsconn.Conn, who string, op ws.OpCode, p []byte) {
	t.Helper()
	h, got, err := c.ReadFrame()
	if err != nil {
		t.Fatalf("%s: read: %v", who, err)
	}
	if !h.Fin || h.OpCode != op || !bytes.Equal(got, p) {
		t.Fatalf("%s got fin %v op %v %d bytes %.8q, want a whole op %v message of %d bytes %.8q", who, h.Fin, h.OpCode, len(got), got, op, len(p), p)
	}
}

// TestRoomsDeliverToOthersOfTheirRoom: rooms of 3, 7 connections (rooms of
// 3, 3 and 1): each member's message reaches exactly the others of its room,
// unchanged and whole; nothing goes back to its sender or to another room
// (a stray frame would be read in place of the next one expected, or show in
// the counts).
func TestRoomsDeliverToOthersOfTheirRoom(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		tlsOn bool
	}{{"ws", false}, {"wss", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := start(t, Config{Rooms: 3}, tc.tlsOn)
			const n = 7
			conns := make([]*wsconn.Conn, n)
			for i := range conns {
				conns[i] = ts.dial(t)
			}
			var owed int64
			for k := range n {
				op, p, parts := roomMessage(k)
				send(t, conns[k], op, p, parts)
				for j := k / 3 * 3; j < min(k/3*3+3, n); j++ {
					if j != k {
						expect(t, conns[j], fmt.Sprintf("member %d (from %d)", j, k), op, p)
						owed++
					}
				}
			}
			for _, c := range conns {
				if !c.Close(ws.StatusNormalClosure, testLimit) {
					t.Fatal("close handshake did not complete")
				}
			}
			ts.stop(t)
			want := Counts{Accepted: n, Upgraded: n, Closes: n, FramesReceived: n, DeliveriesOwed: owed, DeliveriesWritten: owed}
			if got := ts.srv.Counts(); got != want || owed != 12 {
				t.Errorf("Counts = %+v, want %+v (owed 12)", got, want)
			}
		})
	}
}

// TestRoomsNamedByPath: a path other than "/" names the room, of any size,
// whatever the query; "/" connections fill numbered rooms.
func TestRoomsNamedByPath(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{Rooms: 2}, false)
	a1, a2, b1 := ts.dialPath(t, "/a"), ts.dialPath(t, "/a"), ts.dialPath(t, "/b")
	n0, a3, n1 := ts.dialPath(t, "/"), ts.dialPath(t, "/a?user=3"), ts.dialPath(t, "/")
	send(t, a1, ws.OpText, []byte("to a"), 1)
	expect(t, a2, "a2", ws.OpText, []byte("to a"))
	expect(t, a3, "a3", ws.OpText, []byte("to a"))
	send(t, b1, ws.OpText, []byte("alone in b"), 1)
	// The server reads in order: its answer to the close means it has the message.
	if !b1.Close(ws.StatusNormalClosure, testLimit) {
		t.Fatal("b1's close handshake did not complete")
	}
	send(t, n0, ws.OpBinary, []byte("to #0"), 1)
	expect(t, n1, "n1", ws.OpBinary, []byte("to #0"))
	// b1 and a1 heard nothing: the next frame each reads is this one.
	send(t, a2, ws.OpText, []byte("a2 to a"), 1)
	expect(t, a1, "a1", ws.OpText, []byte("a2 to a"))
	expect(t, a3, "a3", ws.OpText, []byte("a2 to a"))
	ts.stop(t)
	got := ts.srv.Counts()
	if got.FramesReceived != 4 || got.DeliveriesOwed != 5 || got.DeliveriesWritten != 5 || got.DeliveriesDropped != 0 {
		t.Errorf("Counts = %+v, want 4 received, 5 owed and written, 0 dropped", got)
	}
}

// TestRoomSlowReaderDoesNotBlockTheRoom: a member that reads nothing gets
// its deliveries dropped (and counted) while the others of its room get
// every message; shutdown still ends within its bound.
func TestRoomSlowReaderDoesNotBlockTheRoom(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{Rooms: 3, RoomQueue: 8}, false)
	sender, reader, slow := ts.dial(t), ts.dial(t), ts.dial(t)
	if err := slow.NetConn().(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	// 16 MiB in all, far past what the slow member's socket buffers hold.
	const msgs = 1024
	p := bytes.Repeat([]byte{0x5a}, 16<<10)
	for i := range msgs {
		p[0], p[1] = byte(i), byte(i>>8)
		send(t, sender, ws.OpBinary, p, 1)
		expect(t, reader, fmt.Sprintf("reader, message %d", i), ws.OpBinary, p)
	}
	// The clients that read answer the shutdown's close frames.
	var wg sync.WaitGroup
	for _, c := range []*wsconn.Conn{sender, reader} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, _, err := c.ReadFrame(); err != nil {
					return
				}
			}
		}()
	}
	if d := ts.stop(t); d >= shutdownGrace {
		t.Errorf("shutdown with a member that reads nothing took %v", d)
	}
	wg.Wait()
	got := ts.srv.Counts()
	if got.FramesReceived != msgs || got.DeliveriesOwed != 2*msgs || got.DeliveriesDropped == 0 ||
		got.DeliveriesWritten+got.DeliveriesDropped != got.DeliveriesOwed || got.DeliveriesWritten < msgs {
		t.Errorf("Counts = %+v, want %d received, %d owed = written + dropped, some dropped", got, msgs, 2*msgs)
	}
	if got.Closes != 2 {
		t.Errorf("%d close handshakes, want 2 (the members that read)", got.Closes)
	}
}

// TestRoomsRejectBadFragments: a continuation of nothing, or a new message
// inside a fragmented one, is a protocol error (1002).
func TestRoomsRejectBadFragments(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{Rooms: 2}, false)
	for name, frames := range map[string][]ws.OpCode{"continuation first": {ws.OpContinuation}, "text inside text": {ws.OpText, ws.OpText}} {
		c := ts.dial(t)
		for _, op := range frames {
			if err := c.WriteFrame(op, false, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		var ce *wsconn.CloseError
		if _, _, err := c.ReadFrame(); !errors.As(err, &ce) || ce.Code != ws.StatusProtocolError {
			t.Errorf("%s: read %v, want a 1002 close", name, err)
		}
	}
}

// TestDeliveryAllocatesNothing: a message handed to 99 members and written
// is one shared buffer, reused; no allocation per message or per member.
func TestDeliveryAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops buffers at random")
	}
	r := &room{}
	for range 100 {
		r.members = append(r.members, &member{queue: make(chan *message, 1)})
	}
	payload := bytes.Repeat([]byte{1}, 300)
	allocs := testing.AllocsPerRun(100, func() {
		m := newMessage()
		m.buf = append(m.buf, payload...)
		m.seal(ws.OpBinary)
		if owed, dropped := r.deliver(r.members[0], m); owed != 99 || dropped != 0 {
			t.Fatalf("owed %d, dropped %d", owed, dropped)
		}
		for _, mb := range r.members[1:] {
			(<-mb.queue).release()
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per message to 99 members, want 0", allocs)
	}
}

func TestMessageSeal(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		m := newMessage()
		m.buf = append(m.buf, bytes.Repeat([]byte{7}, n)...)
		m.seal(ws.OpText)
		h, err := ws.ReadHeader(bytes.NewReader(m.frame))
		if err != nil || h.Length != int64(n) || !h.Fin || h.OpCode != ws.OpText || h.Masked {
			t.Errorf("%d bytes: header %+v, %v", n, h, err)
		}
		if want := n + ws.HeaderSize(h); len(m.frame) != want {
			t.Errorf("%d bytes: frame of %d bytes, want %d", n, len(m.frame), want)
		}
		m.free()
	}
}

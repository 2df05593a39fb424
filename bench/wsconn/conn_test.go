package wsconn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

func TestPutHeaderMatchesWriteHeader(t *testing.T) {
	t.Parallel()
	lengths := []int64{0, 125, 126, 65535, 65536, 1 << 20}
	for _, length := range lengths {
		for _, masked := range []bool{false, true} {
			for op := ws.OpCode(0); op <= 0xf; op++ {
				name := fmt.Sprintf("len=%d/masked=%t/op=%#x", length, masked, byte(op))
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					for _, fin := range []bool{false, true} {
						for rsv := byte(0); rsv <= 7; rsv++ {
							h := ws.Header{Fin: fin, Rsv: rsv, OpCode: op, Length: length, Masked: masked}
							if masked {
								h.Mask = testMask
							}
							var want bytes.Buffer
							if err := ws.WriteHeader(&want, h); err != nil {
								t.Fatalf("ws.WriteHeader(%+v): %v", h, err)
							}
							var b [ws.MaxHeaderSize + 2]byte
							for i := range b {
								b[i] = 0xa5 // sentinel: PutHeader must not write past n
							}
							n := PutHeader(b[:], h)
							if n != want.Len() || n != ws.HeaderSize(h) {
								t.Fatalf("fin=%t rsv=%d: PutHeader wrote %d bytes, ws.WriteHeader %d, ws.HeaderSize %d",
									fin, rsv, n, want.Len(), ws.HeaderSize(h))
							}
							if !bytes.Equal(b[:n], want.Bytes()) {
								t.Fatalf("fin=%t rsv=%d: PutHeader = % x, ws.WriteHeader = % x", fin, rsv, b[:n], want.Bytes())
							}
							for i := n; i < len(b); i++ {
								if b[i] != 0xa5 {
									t.Fatalf("fin=%t rsv=%d: PutHeader wrote byte %d beyond its length %d", fin, rsv, i, n)
								}
							}
							// The header decodes back to h.
							got, err := ws.ReadHeader(bytes.NewReader(b[:n]))
							if err != nil || got != h {
								t.Fatalf("fin=%t rsv=%d: decoded %+v (err %v), want %+v", fin, rsv, got, err, h)
							}
						}
					}
				})
			}
		}
	}
}

// TestPutHeaderRFCExamples checks PutHeader against the examples in RFC 6455,
// section 5.7, independently of gobwas/ws.
func TestPutHeaderRFCExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    ws.Header
		want []byte
	}{
		{"unmasked Hello", ws.Header{Fin: true, OpCode: ws.OpText, Length: 5}, []byte{0x81, 0x05}},
		{"masked Hello", ws.Header{Fin: true, OpCode: ws.OpText, Length: 5, Masked: true, Mask: testMask},
			[]byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d}},
		{"first fragment Hel", ws.Header{OpCode: ws.OpText, Length: 3}, []byte{0x01, 0x03}},
		{"last fragment lo", ws.Header{Fin: true, OpCode: ws.OpContinuation, Length: 2}, []byte{0x80, 0x02}},
		{"unmasked ping", ws.Header{Fin: true, OpCode: ws.OpPing, Length: 5}, []byte{0x89, 0x05}},
		{"masked pong", ws.Header{Fin: true, OpCode: ws.OpPong, Length: 5, Masked: true, Mask: testMask},
			[]byte{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d}},
		{"256 bytes binary", ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 256}, []byte{0x82, 0x7e, 0x01, 0x00}},
		{"64 KiB binary", ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 65536},
			[]byte{0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}},
		{"rsv1 text", ws.Header{Fin: true, Rsv: ws.Rsv(true, false, false), OpCode: ws.OpText, Length: 0}, []byte{0xc1, 0x00}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b [ws.MaxHeaderSize]byte
			n := PutHeader(b[:], tc.h)
			if !bytes.Equal(b[:n], tc.want) {
				t.Fatalf("PutHeader = % x, want % x", b[:n], tc.want)
			}
		})
	}
}

func TestPutHeaderAllocs(t *testing.T) {
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1 << 20, Masked: true, Mask: testMask}
	var b [ws.MaxHeaderSize]byte
	if n := testing.AllocsPerRun(100, func() { PutHeader(b[:], h) }); n != 0 {
		t.Fatalf("PutHeader allocates %v times per call, want 0", n)
	}
}

func TestEcho(t *testing.T) {
	t.Parallel()
	type frame struct {
		op      ws.OpCode
		fin     bool
		payload []byte
	}
	tests := []struct {
		name   string
		frames []frame
	}{
		{"empty text", []frame{{ws.OpText, true, nil}}},
		{"text", []frame{{ws.OpText, true, []byte("hello, websocket")}}},
		{"binary 1", []frame{{ws.OpBinary, true, pattern(1, 1)}}},
		{"binary 125", []frame{{ws.OpBinary, true, pattern(125, 2)}}},
		{"binary 126", []frame{{ws.OpBinary, true, pattern(126, 3)}}},
		{"binary 1000", []frame{{ws.OpBinary, true, pattern(1000, 4)}}},
		{"binary 65535", []frame{{ws.OpBinary, true, pattern(65535, 5)}}},
		{"binary 65536", []frame{{ws.OpBinary, true, pattern(65536, 6)}}},
		{"binary 200000", []frame{{ws.OpBinary, true, pattern(200000, 7)}}},
		{"growing then shrinking", []frame{
			{ws.OpBinary, true, pattern(10, 8)},
			{ws.OpBinary, true, pattern(5000, 9)},
			{ws.OpText, true, []byte("short again")},
		}},
		{"fragmented text", []frame{
			{ws.OpText, false, []byte("Hel")},
			{ws.OpContinuation, false, []byte("l")},
			{ws.OpContinuation, true, []byte("o")},
		}},
	}
	for _, tr := range transports {
		for _, tc := range tests {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				client, server := connPair(t, tr, Options{})
				done := serveEcho(server)
				for i, f := range tc.frames {
					sent := bytes.Clone(f.payload)
					if err := client.WriteFrame(f.op, f.fin, f.payload); err != nil {
						t.Fatalf("frame %d: write: %v", i, err)
					}
					h, p, err := client.ReadFrame()
					if err != nil {
						t.Fatalf("frame %d: read echo: %v", i, err)
					}
					if h.OpCode != f.op || h.Fin != f.fin || h.Masked || h.Rsv != 0 {
						t.Fatalf("frame %d: echo header %+v, want op %v fin %t unmasked", i, h, f.op, f.fin)
					}
					if !bytes.Equal(p, sent) {
						t.Fatalf("frame %d: echo of %d bytes differs from the %d bytes sent", i, len(p), len(sent))
					}
				}
				if !client.Close(ws.StatusNormalClosure, ioTimeout) {
					t.Fatal("close handshake did not complete")
				}
				var ce *CloseError
				if err := <-done; !errors.As(err, &ce) || ce.Code != ws.StatusNormalClosure {
					t.Fatalf("echo server ended with %v, want close 1000", err)
				}
			})
		}
	}
}

// TestPingAnsweredInsideReadFrame sends a ping and then a message from a raw
// gobwas peer: ReadFrame must answer the ping with a pong carrying the same
// payload, and return the message. A pong from the peer is skipped.
func TestPingAnsweredInsideReadFrame(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		for _, client := range []bool{false, true} {
			side := map[bool]string{false: "server", true: "client"}[client]
			t.Run(tr.name+"/"+side, func(t *testing.T) {
				t.Parallel()
				nc, ns := rawPair(t, tr)
				local, peer := ns, nc
				if client {
					local, peer = nc, ns
				}
				c := New(local, Options{Client: client})
				// The peer masks exactly when it is the client, i.e. when c is not.
				peerHeader := func(op ws.OpCode, n int) ws.Header {
					h := ws.Header{Fin: true, OpCode: op, Length: int64(n), Masked: !client}
					if !client {
						h.Mask = testMask
					}
					return h
				}
				ping := []byte("are you there?")
				unsolicited := []byte("unsolicited pong")
				msg := []byte("after the ping")
				var wire []byte
				wire = append(wire, rawFrame(t, peerHeader(ws.OpPing, len(ping)), ping)...)
				wire = append(wire, rawFrame(t, peerHeader(ws.OpPong, len(unsolicited)), unsolicited)...)
				wire = append(wire, rawFrame(t, peerHeader(ws.OpText, len(msg)), msg)...)
				writeRaw(t, peer, wire)

				h, p, err := c.ReadFrame()
				if err != nil {
					t.Fatalf("ReadFrame: %v", err)
				}
				if h.OpCode != ws.OpText || !bytes.Equal(p, msg) {
					t.Fatalf("ReadFrame = %v %q, want text %q", h.OpCode, p, msg)
				}
				ph, pp, err := readRawFrame(peer)
				if err != nil {
					t.Fatalf("peer reading the pong: %v", err)
				}
				if ph.OpCode != ws.OpPong || !ph.Fin || ph.Masked != client || !bytes.Equal(pp, ping) {
					t.Fatalf("peer got %+v %q, want a pong (masked=%t) with %q", ph, pp, client, ping)
				}
			})
		}
	}
}

func TestCloseHandshake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		code     ws.StatusCode
		inFlight int // data frames the server sends before it reads the close
	}{
		{"normal", ws.StatusNormalClosure, 0},
		{"going away", ws.StatusGoingAway, 0},
		{"internal error", ws.StatusInternalServerError, 0},
		{"private code", 4000, 0},
		{"no status", ws.StatusNoStatusRcvd, 0},
		{"data in flight discarded", ws.StatusNormalClosure, 3},
	}
	for _, tr := range transports {
		for _, tc := range tests {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				client, server := connPair(t, tr, Options{})
				for i := range tc.inFlight {
					if err := server.WriteMessage(ws.OpText, []byte(fmt.Sprintf("in flight %d", i))); err != nil {
						t.Fatalf("server write: %v", err)
					}
				}
				done := make(chan error, 1)
				go func() {
					_, _, err := server.ReadFrame()
					done <- err
				}()
				if !client.Close(tc.code, ioTimeout) {
					t.Fatal("Close = false, want true: the server answers")
				}
				err := <-done
				var ce *CloseError
				if !errors.As(err, &ce) {
					t.Fatalf("server ReadFrame = %v, want *CloseError", err)
				}
				if ce.Code != tc.code {
					t.Fatalf("server got close code %d, want %d", ce.Code, tc.code)
				}
				// The server has answered already: its Close returns at once.
				if !server.Close(ws.StatusNormalClosure, ioTimeout) {
					t.Fatal("server Close after receiving a close = false, want true")
				}
				if _, err := client.NetConn().Write([]byte{0}); !errors.Is(err, net.ErrClosed) {
					t.Fatalf("write after Close = %v, want net.ErrClosed", err)
				}
			})
		}
	}
}

// TestCloseReplyEchoesCode checks the wire bytes of the automatic close reply.
func TestCloseReplyEchoesCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		payload   []byte
		wantCode  ws.StatusCode
		wantReply []byte
	}{
		{"code and reason", append([]byte{0x03, 0xe9}, "bye"...), ws.StatusGoingAway, []byte{0x03, 0xe9}},
		{"code only", []byte{0x0f, 0xa0}, 4000, []byte{0x0f, 0xa0}},
		{"empty", nil, ws.StatusNoStatusRcvd, []byte{}},
	}
	for _, tr := range transports {
		for _, tc := range tests {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				peer, ns := rawPair(t, tr)
				server := New(ns, Options{})
				h := ws.Header{Fin: true, OpCode: ws.OpClose, Length: int64(len(tc.payload)), Masked: true, Mask: testMask}
				writeRaw(t, peer, rawFrame(t, h, tc.payload))
				_, _, err := server.ReadFrame()
				var ce *CloseError
				if !errors.As(err, &ce) || ce.Code != tc.wantCode {
					t.Fatalf("ReadFrame = %v, want close %d", err, tc.wantCode)
				}
				rh, rp, err := readRawFrame(peer)
				if err != nil {
					t.Fatalf("peer reading the reply: %v", err)
				}
				if rh.OpCode != ws.OpClose || !rh.Fin || rh.Masked || !bytes.Equal(rp, tc.wantReply) {
					t.Fatalf("reply %+v % x, want unmasked close % x", rh, rp, tc.wantReply)
				}
			})
		}
	}
}

func TestCloseWithoutReply(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			nc, peer := rawPair(t, tr)
			client := New(nc, Options{Client: true})
			if client.Close(ws.StatusGoingAway, 200*time.Millisecond) {
				t.Fatal("Close = true, but the peer never answered")
			}
			h, p, err := readRawFrame(peer)
			if err != nil {
				t.Fatalf("peer reading the close: %v", err)
			}
			if h.OpCode != ws.OpClose || !h.Masked || len(p) != 2 || ws.StatusCode(binary.BigEndian.Uint16(p)) != ws.StatusGoingAway {
				t.Fatalf("peer got %+v % x, want a masked close 1001", h, p)
			}
		})
	}
}

func TestReadFrameRejects(t *testing.T) {
	t.Parallel()
	fromClient := func(h ws.Header) ws.Header { h.Masked, h.Mask = true, testMask; return h }
	text := ws.Header{Fin: true, OpCode: ws.OpText, Length: 5}
	tests := []struct {
		name    string
		client  bool  // the Conn under test is the client
		max     int64 // Options.MaxFrameBytes
		h       ws.Header
		payload []byte // may be shorter than h.Length: the check comes first
		want    error  // nil: the frame is accepted
	}{
		{"masked frame to client", true, 0, fromClient(text), []byte("hello"), ErrProtocol},
		{"unmasked frame to server", false, 0, text, []byte("hello"), ErrProtocol},
		{"rsv1 to server", false, 0, fromClient(ws.Header{Fin: true, Rsv: 4, OpCode: ws.OpText, Length: 5}), []byte("hello"), ErrProtocol},
		{"rsv2 to server", false, 0, fromClient(ws.Header{Fin: true, Rsv: 2, OpCode: ws.OpText, Length: 5}), []byte("hello"), ErrProtocol},
		{"rsv3 to server", false, 0, fromClient(ws.Header{Fin: true, Rsv: 1, OpCode: ws.OpText, Length: 5}), []byte("hello"), ErrProtocol},
		{"rsv1 to client", true, 0, ws.Header{Fin: true, Rsv: 4, OpCode: ws.OpBinary, Length: 5}, []byte("hello"), ErrProtocol},
		{"fragmented ping to server", false, 0, fromClient(ws.Header{OpCode: ws.OpPing, Length: 2}), []byte("hi"), ErrProtocol},
		{"fragmented pong to server", false, 0, fromClient(ws.Header{OpCode: ws.OpPong, Length: 2}), []byte("hi"), ErrProtocol},
		{"fragmented close to server", false, 0, fromClient(ws.Header{OpCode: ws.OpClose, Length: 2}), []byte{0x03, 0xe8}, ErrProtocol},
		{"fragmented ping to client", true, 0, ws.Header{OpCode: ws.OpPing, Length: 2}, []byte("hi"), ErrProtocol},
		{"126-byte ping to server", false, 0, fromClient(ws.Header{Fin: true, OpCode: ws.OpPing, Length: 126}), pattern(126, 1), ErrProtocol},
		{"reserved data opcode", false, 0, fromClient(ws.Header{Fin: true, OpCode: 0x3, Length: 1}), []byte{1}, ErrProtocol},
		{"reserved control opcode", true, 0, ws.Header{Fin: true, OpCode: 0xb, Length: 1}, []byte{1}, ErrProtocol},
		{"over explicit limit to server", false, 1024, fromClient(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1025}), nil, ErrFrameTooLarge},
		{"over explicit limit to client", true, 1024, ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1025}, nil, ErrFrameTooLarge},
		{"over default limit", false, 0, fromClient(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1<<20 + 1}), nil, ErrFrameTooLarge},
		{"64-bit length", true, 0, ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1 << 40}, nil, ErrFrameTooLarge},
		{"at explicit limit", false, 1024, fromClient(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1024}), pattern(1024, 2), nil},
		{"125-byte ping then text", false, 0, fromClient(ws.Header{Fin: true, OpCode: ws.OpPing, Length: 125}), pattern(125, 3), nil},
	}
	for _, tr := range transports {
		for _, tc := range tests {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				nc, ns := rawPair(t, tr)
				local, peer := ns, nc
				if tc.client {
					local, peer = nc, ns
				}
				c := New(local, Options{Client: tc.client, MaxFrameBytes: tc.max})
				wire := rawFrame(t, tc.h, tc.payload)
				if tc.h.OpCode == ws.OpPing {
					// A ping that is accepted is followed by a message for ReadFrame to return.
					wire = append(wire, rawFrame(t, fromClient(text), []byte("hello"))...)
				}
				writeRaw(t, peer, wire)
				if tc.want != nil {
					// Nothing more comes: a frame wrongly accepted fails at
					// once on EOF instead of waiting for the deadline.
					peer.Close()
				}
				_, p, err := c.ReadFrame()
				if tc.want == nil {
					if err != nil {
						t.Fatalf("ReadFrame = %v, want the frame accepted", err)
					}
					if tc.h.OpCode == ws.OpBinary && !bytes.Equal(p, tc.payload) {
						t.Fatalf("payload of %d bytes differs from the %d sent", len(p), len(tc.payload))
					}
					return
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("ReadFrame = %v, want %v", err, tc.want)
				}
				other := map[error]error{ErrProtocol: ErrFrameTooLarge, ErrFrameTooLarge: ErrProtocol}[tc.want]
				if errors.Is(err, other) {
					t.Fatalf("ReadFrame = %v, which is also %v", err, other)
				}
				if p != nil {
					t.Fatalf("ReadFrame returned %d payload bytes with an error", len(p))
				}
			})
		}
	}
}

// TestMaskedWriteKeepsPayload checks that WriteFrame masks a copy: the
// caller's slice is unchanged, the wire holds a masked frame from a client and
// an unmasked one from a server, and both unmask to the payload.
func TestMaskedWriteKeepsPayload(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		for _, client := range []bool{true, false} {
			for _, n := range []int{0, 1, 3, 15, 16, 17, 125, 1000, 70000} {
				side := map[bool]string{false: "server", true: "client"}[client]
				t.Run(fmt.Sprintf("%s/%s/%d", tr.name, side, n), func(t *testing.T) {
					t.Parallel()
					nc, ns := rawPair(t, tr)
					local, peer := ns, nc
					if client {
						local, peer = nc, ns
					}
					c := New(local, Options{Client: client})
					p := pattern(n, 0x5a)
					orig := bytes.Clone(p)
					type frame struct {
						h   ws.Header
						p   []byte
						err error
					}
					got := make(chan frame, 1)
					go func() { // 70000 bytes can exceed the socket buffers
						h, p, err := readRawFrame(peer)
						got <- frame{h, p, err}
					}()
					if err := c.WriteFrame(ws.OpBinary, true, p); err != nil {
						t.Fatalf("WriteFrame: %v", err)
					}
					if !bytes.Equal(p, orig) {
						t.Fatal("WriteFrame modified the caller's payload")
					}
					f := <-got
					if f.err != nil {
						t.Fatalf("peer read: %v", f.err)
					}
					if f.h.Masked != client || f.h.OpCode != ws.OpBinary || !f.h.Fin || f.h.Length != int64(n) {
						t.Fatalf("wire header %+v, want fin binary of %d bytes, masked=%t", f.h, n, client)
					}
					if !bytes.Equal(f.p, orig) {
						t.Fatal("payload on the wire does not unmask to the payload written")
					}
				})
			}
		}
	}
}

// TestWriteFrameIsOneWrite checks that header and payload leave in one Write
// on the socket, which over TLS means one record.
func TestWriteFrameIsOneWrite(t *testing.T) {
	t.Parallel()
	for _, useTLS := range []bool{false, true} {
		for _, client := range []bool{true, false} {
			name := fmt.Sprintf("tls=%t/client=%t", useTLS, client)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				rc, rs := tcpPair(t)
				setDeadline(t, rc, rs)
				cc, cs := &countingConn{Conn: rc}, &countingConn{Conn: rs}
				var nc, ns net.Conn = cc, cs
				if useTLS {
					nc, ns = tlsWrap(t, cc, cs)
				}
				local, counter, peer := ns, cs, nc
				if client {
					local, counter, peer = nc, cc, ns
				}
				c := New(local, Options{Client: client})
				before := counter.writes.Load()
				if err := c.WriteMessage(ws.OpText, pattern(1000, 9)); err != nil {
					t.Fatalf("WriteMessage: %v", err)
				}
				if w := counter.writes.Load() - before; w != 1 {
					t.Fatalf("WriteMessage made %d writes on the socket, want 1", w)
				}
				if _, _, err := readRawFrame(peer); err != nil {
					t.Fatalf("peer read: %v", err)
				}
			})
		}
	}
}

// TestOptionsReader checks that a Conn reads through Options.Reader: here one
// that already holds a whole frame and the start of the next, as a bufio.Reader
// left over from the upgrade would.
func TestOptionsReader(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			peer, ns := rawPair(t, tr)
			first := rawFrame(t, ws.Header{Fin: true, OpCode: ws.OpText, Length: 5, Masked: true, Mask: testMask}, []byte("first"))
			second := rawFrame(t, ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 300, Masked: true, Mask: testMask}, pattern(300, 4))
			buffered := append(bytes.Clone(first), second[:3]...)
			server := New(ns, Options{Reader: io.MultiReader(bytes.NewReader(buffered), ns)})
			writeRaw(t, peer, second[3:])
			for i, want := range [][]byte{[]byte("first"), pattern(300, 4)} {
				_, p, err := server.ReadFrame()
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if !bytes.Equal(p, want) {
					t.Fatalf("frame %d: got %d bytes, want %d", i, len(p), len(want))
				}
			}
		})
	}
}

// TestEchoAllocs guards the zero-allocation hot path: a client write, a
// server read and echo, and a client read allocate nothing once the buffers
// are sized. The round trip runs in one goroutine so that nothing else in the
// process allocates while AllocsPerRun counts (it counts every goroutine's
// mallocs). Not parallel for the same reason.
func TestEchoAllocs(t *testing.T) {
	tests := []struct {
		name      string
		tr        transport
		size      int
		pingFirst bool
		// max is the allowed mallocs per round trip. Over TLS, crypto/tls
		// allocates one 24-byte atLeastReader per record read
		// ((*Conn).readFromUntil); a round trip reads one record on each
		// side, so 2. The framing itself must add none.
		max float64
	}{
		{"tcp/16", transports[0], 16, false, 0},
		{"tcp/128", transports[0], 128, false, 0},
		{"tcp/1024", transports[0], 1024, false, 0},
		{"tcp/128 with ping", transports[0], 128, true, 0},
		{"tls/16", transports[1], 16, false, 2},
		{"tls/128", transports[1], 128, false, 2},
		{"tls/1024", transports[1], 1024, false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.tr.name == "tls" && raceEnabled() {
				// crypto/tls keeps its record buffers in a sync.Pool, and under
				// -race sync.Pool drops a quarter of what is put back.
				t.Skip("crypto/tls allocates more under -race (sync.Pool drops items)")
			}
			client, server := connPair(t, tc.tr, Options{})
			msg := pattern(tc.size, 0x3c)
			// Warm up: size the buffers and let TLS 1.3 process its
			// post-handshake session tickets.
			for range 50 {
				if err := echoOnce(client, server, msg, tc.pingFirst); err != nil {
					t.Fatalf("warm-up echo: %v", err)
				}
			}
			var err error
			allocs := testing.AllocsPerRun(1000, func() {
				if e := echoOnce(client, server, msg, tc.pingFirst); e != nil && err == nil {
					err = e
				}
			})
			if err != nil {
				t.Fatalf("echo: %v", err)
			}
			t.Logf("%v allocations per round trip", allocs)
			if allocs > tc.max {
				t.Fatalf("%v allocations per echo round trip, want at most %v", allocs, tc.max)
			}
		})
	}
}

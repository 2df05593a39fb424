package wsconn

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestCloseAfterFramingErrorReadsNothing: after a frame is rejected its
// payload is still in the stream; Close must send its close frame and stop,
// never reading that payload as frames (RFC 6455 §7.1.7).
func TestCloseAfterFramingErrorReadsNothing(t *testing.T) {
	t.Parallel()
	client, server := rawPair(t, transports[0])
	c := New(server, Options{MaxFrameBytes: 1024})
	// The oversized frame's payload is made of valid masked frames: a ping and a close.
	inner := append(rawFrame(t, ws.Header{Fin: true, OpCode: ws.OpPing, Length: 4, Masked: true, Mask: testMask}, []byte("evil")),
		rawFrame(t, ws.Header{Fin: true, OpCode: ws.OpClose, Length: 2, Masked: true, Mask: testMask}, []byte{0x03, 0xe8})...)
	payload := append(inner, make([]byte, 2000-len(inner))...)
	writeRaw(t, client, rawFrame(t, ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 2000, Masked: true, Mask: testMask}, payload[:0]))
	writeRaw(t, client, payload) // unmasked on purpose: the bytes must never be parsed
	if _, _, err := c.ReadFrame(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("ReadFrame = %v, want ErrFrameTooLarge", err)
	}
	start := time.Now()
	// Reading on would wait the whole 5 s timeout; half of it is far past
	// any scheduling noise.
	if c.Close(ws.StatusMessageTooBig, 5*time.Second) {
		t.Fatal("Close reported a completed handshake, but the peer never sent a close")
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Fatalf("Close waited %v: it read on after the framing error", d)
	}
	h, p, err := readRawFrame(client)
	if err != nil || h.OpCode != ws.OpClose || len(p) < 2 || binary.BigEndian.Uint16(p) != uint16(ws.StatusMessageTooBig) {
		t.Fatalf("first frame to the peer: %+v %v %v, want close 1009", h, p, err)
	}
	if h, _, err := readRawFrame(client); err == nil {
		t.Fatalf("the peer got a second frame %+v after the close", h)
	}
}

func TestOneByteCloseBodyIsProtocolError(t *testing.T) {
	t.Parallel()
	client, server := rawPair(t, transports[0])
	c := New(server, Options{})
	writeRaw(t, client, rawFrame(t, ws.Header{Fin: true, OpCode: ws.OpClose, Length: 1, Masked: true, Mask: testMask}, []byte{3}))
	if _, _, err := c.ReadFrame(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("ReadFrame = %v, want ErrProtocol", err)
	}
}

package wsconn

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// echoPayloadBytes are the message sizes of the echo benchmarks. 16 KiB is
// the largest TLS record payload, so that frame spans two records.
var echoPayloadBytes = []int{16, 128, 1024, 16384}

func BenchmarkEchoPlain(b *testing.B) { benchmarkEcho(b, transports[0]) }

func BenchmarkEchoTLS(b *testing.B) { benchmarkEcho(b, transports[1]) }

// benchmarkEcho measures one full echo round trip per op: the client writes a
// binary message, a server goroutine reads and echoes it, the client reads the
// echo. Allocations count both sides (one process). SetBytes is the message
// size, so MB/s is echoed payload per second.
func benchmarkEcho(b *testing.B, tr transport) {
	for _, size := range echoPayloadBytes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			nc, ns := tr.pair(b)
			client := New(nc, Options{Client: true, BufferBytes: size})
			server := New(ns, Options{BufferBytes: size})
			done := serveEcho(server)
			msg := pattern(size, 0x77)
			roundTrip := func() {
				if err := client.WriteMessage(ws.OpBinary, msg); err != nil {
					b.Fatalf("write: %v", err)
				}
				_, p, err := client.ReadFrame()
				if err != nil {
					b.Fatalf("read: %v", err)
				}
				if len(p) != size {
					b.Fatalf("echo of %d bytes, want %d", len(p), size)
				}
			}
			for range 10 {
				roundTrip()
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				roundTrip()
			}
			b.StopTimer()
			if !client.Close(ws.StatusNormalClosure, 5*time.Second) {
				b.Fatal("close handshake did not complete")
			}
			var ce *CloseError
			if err := <-done; !errors.As(err, &ce) {
				b.Fatalf("echo server ended with %v, want a close", err)
			}
		})
	}
}

// headerCases are headers of each encoded size: 2, 8 and 14 bytes.
var headerCases = []struct {
	name string
	h    ws.Header
}{
	{"2B", ws.Header{Fin: true, OpCode: ws.OpText, Length: 16}},
	{"8B", ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1024, Masked: true, Mask: testMask}},
	{"14B", ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1 << 20, Masked: true, Mask: testMask}},
}

// headerSink keeps the compiler from discarding the encoders' work.
var headerSink int

func BenchmarkPutHeader(b *testing.B) {
	for _, hc := range headerCases {
		b.Run(hc.name, func(b *testing.B) {
			var buf [ws.MaxHeaderSize]byte
			b.ReportAllocs()
			for range b.N {
				headerSink += PutHeader(buf[:], hc.h)
			}
			headerSink += int(buf[1])
		})
	}
}

// BenchmarkWriteHeaderBuffer is gobwas/ws's allocation-free header encoder,
// writing to io.Discard, for comparison with PutHeader.
func BenchmarkWriteHeaderBuffer(b *testing.B) {
	for _, hc := range headerCases {
		b.Run(hc.name, func(b *testing.B) {
			buf := make([]byte, ws.MaxHeaderSize)
			b.ReportAllocs()
			for range b.N {
				if err := ws.WriteHeaderBuffer(io.Discard, hc.h, buf); err != nil {
					b.Fatal(err)
				}
			}
			headerSink += int(buf[1])
		})
	}
}

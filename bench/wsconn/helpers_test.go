package wsconn

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wssbench/wssbench/bench/tlsconf"
)

// ioTimeout bounds every blocking step of a test, so a bug fails the test
// instead of hanging it. Benchmarks set no deadline.
const ioTimeout = 10 * time.Second

// transport connects a client and a server net.Conn on loopback.
type transport struct {
	name string
	pair func(tb testing.TB) (client, server net.Conn)
}

// transports are the connections every round-trip test runs over.
var transports = []transport{
	{"tcp", tcpPair},
	{"tls", tlsPair},
}

// tcpPair returns both ends of a TCP connection on 127.0.0.1. They are closed
// when the test ends.
func tcpPair(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	defer ln.Close() // also unblocks Accept if Dial fails
	type accepted struct {
		c   net.Conn
		err error
	}
	ac := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ac <- accepted{c, err}
	}()
	client, err = net.DialTimeout("tcp", ln.Addr().String(), ioTimeout)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	a := <-ac
	if a.err != nil {
		client.Close()
		tb.Fatalf("accept: %v", a.err)
	}
	tb.Cleanup(func() {
		client.Close()
		a.c.Close()
	})
	return client, a.c
}

// testChain is one certificate chain for the whole test binary: generating
// keys is the slow part of a TLS test.
var testChain = sync.OnceValues(func() (*tlsconf.Chain, error) {
	return tlsconf.NewChain(tlsconf.CertOptions{})
})

// tlsPair returns both ends of a TLS connection on 127.0.0.1, handshake done.
func tlsPair(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	rc, rs := tcpPair(tb)
	return tlsWrap(tb, rc, rs)
}

// tlsWrap runs a TLS handshake over an established connection (client side
// rawClient, server side rawServer) and returns the TLS ends.
func tlsWrap(tb testing.TB, rawClient, rawServer net.Conn) (client, server net.Conn) {
	tb.Helper()
	chain, err := testChain()
	if err != nil {
		tb.Fatalf("certificate chain: %v", err)
	}
	// Fixed record sizes keep the benchmark figures repeatable.
	sc := tls.Server(rawServer, &tls.Config{
		Certificates:                []tls.Certificate{chain.Leaf},
		DynamicRecordSizingDisabled: true,
	})
	cc := tls.Client(rawClient, &tls.Config{
		RootCAs:                     chain.Pool(),
		ServerName:                  "localhost",
		DynamicRecordSizingDisabled: true,
	})
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel() // also ends the server handshake if the client's fails
	errc := make(chan error, 1)
	go func() { errc <- sc.HandshakeContext(ctx) }()
	if err := cc.HandshakeContext(ctx); err != nil {
		tb.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		tb.Fatalf("server handshake: %v", err)
	}
	tb.Cleanup(func() {
		cc.Close()
		sc.Close()
	})
	return cc, sc
}

// rawPair is pair with a deadline of ioTimeout on both ends.
func rawPair(tb testing.TB, tr transport) (client, server net.Conn) {
	tb.Helper()
	client, server = tr.pair(tb)
	setDeadline(tb, client, server)
	return client, server
}

// connPair wraps both ends of a fresh connection in Conns. o applies to both;
// Client is set on the client end only.
func connPair(tb testing.TB, tr transport, o Options) (client, server *Conn) {
	tb.Helper()
	nc, ns := rawPair(tb, tr)
	co := o
	co.Client = true
	so := o
	so.Client = false
	return New(nc, co), New(ns, so)
}

func setDeadline(tb testing.TB, conns ...net.Conn) {
	tb.Helper()
	at := time.Now().Add(ioTimeout)
	for _, c := range conns {
		if err := c.SetDeadline(at); err != nil {
			tb.Fatalf("set deadline: %v", err)
		}
	}
}

// testMask is the masking key from the examples of RFC 6455, section 5.7.
var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// rawFrame encodes h followed by payload with gobwas/ws alone, so that tests
// of Conn do not trust Conn's own encoder. The payload is masked (in a copy)
// when h.Masked. h.Length is sent as given: it may claim more bytes than
// payload holds.
func rawFrame(tb testing.TB, h ws.Header, payload []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := ws.WriteHeader(&buf, h); err != nil {
		tb.Fatalf("encode header %+v: %v", h, err)
	}
	start := buf.Len()
	buf.Write(payload)
	b := buf.Bytes()
	if h.Masked {
		ws.Cipher(b[start:], h.Mask, 0)
	}
	return b
}

// writeRaw writes b to c in one call.
func writeRaw(tb testing.TB, c net.Conn, b []byte) {
	tb.Helper()
	if _, err := c.Write(b); err != nil {
		tb.Fatalf("raw write: %v", err)
	}
}

// readRawFrame reads one frame from r with gobwas/ws and returns its header
// and unmasked payload.
func readRawFrame(r io.Reader) (ws.Header, []byte, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return h, nil, err
	}
	if h.Length > 1<<24 {
		return h, nil, fmt.Errorf("raw frame of %d bytes is implausible", h.Length)
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(r, p); err != nil {
		return h, nil, err
	}
	if h.Masked {
		ws.Cipher(p, h.Mask, 0)
	}
	return h, p, nil
}

// pattern returns n bytes that differ between neighbours and between seeds,
// so a misplaced or unmasked byte shows.
func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7) ^ seed
	}
	return p
}

// serveEcho echoes every data frame read from c, keeping its opcode and FIN
// bit, until ReadFrame or WriteFrame fails; then it sends that error.
func serveEcho(c *Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		for {
			h, p, err := c.ReadFrame()
			if err != nil {
				done <- err
				return
			}
			if err := c.WriteFrame(h.OpCode, h.Fin, p); err != nil {
				done <- err
				return
			}
		}
	}()
	return done
}

// errEchoMismatch reports an echo that came back different; a sentinel so the
// allocation guard does not allocate an error on success or failure.
var errEchoMismatch = errors.New("echo differs from the message sent")

// echoOnce does one echo round trip in the calling goroutine: the client
// writes msg, the server reads it and writes it back, the client reads the
// echo. With pingFirst the client sends a ping before msg, which the server
// answers inside ReadFrame and the client skips inside ReadFrame. Messages are
// small enough to sit in the socket buffers, so nothing blocks.
func echoOnce(client, server *Conn, msg []byte, pingFirst bool) error {
	if pingFirst {
		if err := client.WriteFrame(ws.OpPing, true, msg[:min(len(msg), 125)]); err != nil {
			return err
		}
	}
	if err := client.WriteMessage(ws.OpBinary, msg); err != nil {
		return err
	}
	h, p, err := server.ReadFrame()
	if err != nil {
		return err
	}
	if err := server.WriteFrame(h.OpCode, h.Fin, p); err != nil {
		return err
	}
	_, p, err = client.ReadFrame()
	if err != nil {
		return err
	}
	if !bytes.Equal(p, msg) {
		return errEchoMismatch
	}
	return nil
}

// countingConn counts the Write calls made on a net.Conn.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

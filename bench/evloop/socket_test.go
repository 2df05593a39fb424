//go:build linux

package evloop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"time"
)

// TestBackPressureSlowPeer: a loop writing much more than a slow peer takes
// stages the rest (Write never fails or blocks), and the staged bytes are
// flushed on EPOLLOUT as the peer reads, all of them, in order.
func TestBackPressureSlowPeer(t *testing.T) {
	t.Parallel()
	l := startLoop(t)
	local, peer := tcpPair(t, nil, smallRcvBuf)
	const total, chunk = 16 << 20, 64 << 10
	msg := pattern(total, 1)
	s := attach(t, l, NewConn(local), handlerFunc(func(*Socket) {}))
	staged := 0
	onLoop(t, l, func() {
		for off := 0; off < total; off += chunk {
			if n, err := s.Write(msg[off : off+chunk]); n != chunk || err != nil {
				t.Errorf("Write at %d: %d, %v; want %d, nil", off, n, err, chunk)
				return
			}
		}
		staged = s.Pending()
	})
	if staged == 0 {
		t.Fatalf("16 MiB to a peer with a 32 KiB receive buffer: nothing staged")
	}
	peer.SetDeadline(time.Now().Add(testLimit))
	got := make([]byte, 0, total)
	buf := make([]byte, 4<<10)
	midway := -1
	for len(got) < total {
		n, err := peer.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("peer read after %d bytes: %v", len(got), err)
		}
		if len(got) < 256<<10 {
			time.Sleep(100 * time.Microsecond) // slow at first
		}
		if midway < 0 && len(got) >= total/2 {
			onLoop(t, l, func() { midway = s.Pending() })
		}
	}
	if err := sameBytes(got, msg); err != nil {
		t.Fatal(err)
	}
	if midway >= staged {
		t.Errorf("staged %d bytes, still %d after the peer read half: not flushed as it reads", staged, midway)
	}
	var left int
	onLoop(t, l, func() { left = s.Pending() })
	if left != 0 {
		t.Errorf("%d bytes still staged after the peer read everything", left)
	}
	t.Logf("staged %d bytes, %d after half was read", staged, midway)
}

// TestBackPressureStoppedReader: a handler that stops reading while its peer
// sends much more than the socket buffers hold finds the socket still
// Readable later (no event comes for bytes already there), and reading then,
// with no new event, gets every byte in order and io.EOF.
func TestBackPressureStoppedReader(t *testing.T) {
	t.Parallel()
	l := startLoop(t)
	local, peer := tcpPair(t, smallRcvBuf, nil)
	const total = 16 << 20
	msg := pattern(total, 2)
	// Owned by the loop goroutine.
	reading, readies := false, 0
	var got []byte
	var end error
	done := make(chan struct{})
	h := handlerFunc(func(s *Socket) {
		readies++
		if !reading || end != nil {
			return
		}
		if err := readAll(s, &got); !isWouldBlock(err) {
			end = err
			close(done)
		}
	})
	s := attach(t, l, NewConn(local), h)
	wrote := make(chan error, 1)
	go func() {
		peer.SetWriteDeadline(time.Now().Add(testLimit))
		_, err := peer.Write(msg)
		if err == nil {
			err = peer.CloseWrite()
		}
		wrote <- err
	}()
	// Wait until the loop saw the bytes (a Ready after the one at Attach).
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		n, readable := 0, false
		onLoop(t, l, func() { n, readable = readies, s.Readable() })
		if n >= 2 && readable {
			break
		}
		if time.Since(start) > testLimit {
			t.Fatalf("socket not readable after the peer sent (%d Ready calls)", n)
		}
	}
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-wrote:
		t.Fatalf("peer wrote 16 MiB (%v) into a 32 KiB receive buffer that nobody reads", err)
	default:
	}
	onLoop(t, l, func() {
		if !s.Readable() {
			t.Error("socket not Readable after the handler stopped reading")
		}
		reading = true
		if err := readAll(s, &got); !isWouldBlock(err) {
			end = err
			close(done)
		}
	})
	select {
	case <-done:
	case <-time.After(testLimit):
		t.Fatal("reader did not reach the end")
	}
	if err := <-wrote; err != nil {
		t.Fatalf("peer write: %v", err)
	}
	if end != io.EOF {
		t.Fatalf("read ended with %v, want io.EOF", end)
	}
	if err := sameBytes(got, msg); err != nil {
		t.Fatal(err)
	}
}

// captureConn passes writes through until capture is set, then keeps them.
type captureConn struct {
	net.Conn
	capture bool
	held    []byte
}

func (c *captureConn) Write(p []byte) (int, error) {
	if !c.capture {
		return c.Conn.Write(p)
	}
	c.held = append(c.held, p...)
	return len(p), nil
}

// testCert is a throwaway self-signed ECDSA certificate for localhost.
func testCert(tb testing.TB) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestPartialTLSRecord: crypto/tls runs over a loop's Conn; a record that
// arrives byte by byte makes tls.Conn.Read return ErrWouldBlock (no data)
// until its last byte, then the whole record; the would-blocks do not
// stick (a later record and a reply pass).
func TestPartialTLSRecord(t *testing.T) {
	t.Parallel()
	l := startLoop(t)
	local, peer := tcpPair(t, nil, nil)
	ec := NewConn(local)
	srv := tls.Server(ec, &tls.Config{Certificates: []tls.Certificate{testCert(t)}, MinVersion: tls.VersionTLS13})
	cc := &captureConn{Conn: peer}
	cli := tls.Client(cc, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	local.SetDeadline(time.Now().Add(testLimit))
	peer.SetDeadline(time.Now().Add(testLimit))
	hs := make(chan error, 1)
	go func() { hs <- cli.Handshake() }()
	if err := srv.Handshake(); err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if err := <-hs; err != nil {
		t.Fatalf("client handshake: %v", err)
	}

	// Owned by the loop goroutine.
	var got []byte
	var reads []int
	blocks := 0
	var end error
	data := make(chan int, 16)
	buf := make([]byte, 32<<10)
	pull := func() {
		for end == nil {
			n, err := srv.Read(buf)
			if n > 0 {
				got = append(got, buf[:n]...)
				reads = append(reads, n)
				data <- len(got)
			}
			switch {
			case isWouldBlock(err):
				if n == 0 {
					blocks++
				}
				return
			case err != nil:
				end = err
				return
			}
		}
	}
	attach(t, l, ec, handlerFunc(func(*Socket) { pull() }))

	msg := pattern(300, 3)
	cc.capture = true
	if _, err := cli.Write(msg); err != nil {
		t.Fatal(err)
	}
	cc.capture = false
	record := cc.held
	for _, b := range record[:len(record)-1] {
		if _, err := peer.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	var before []byte
	var blocked int
	var endErr error
	onLoop(t, l, func() {
		pull()
		before, blocked, endErr = append([]byte(nil), got...), blocks, end
	})
	if len(before) != 0 || endErr != nil {
		t.Fatalf("before the record's last byte: read %d bytes, error %v; want none", len(before), endErr)
	}
	if blocked == 0 {
		t.Fatal("tls.Conn.Read never returned ErrWouldBlock on a partial record")
	}
	if _, err := peer.Write(record[len(record)-1:]); err != nil {
		t.Fatal(err)
	}
	waitLen := func(want int) {
		t.Helper()
		for {
			select {
			case n := <-data:
				if n >= want {
					return
				}
			case <-time.After(testLimit):
				t.Fatalf("tls reads stopped short of %d bytes", want)
			}
		}
	}
	waitLen(len(msg))
	// A second record, whole, and a reply: the would-blocks did not stick.
	msg2 := pattern(5000, 4)
	if _, err := cli.Write(msg2); err != nil {
		t.Fatal(err)
	}
	waitLen(len(msg) + len(msg2))
	onLoop(t, l, func() {
		if err := sameBytes(got, append(append([]byte(nil), msg...), msg2...)); err != nil {
			t.Error(err)
		}
		if reads[0] != len(msg) {
			t.Errorf("first read returned %d bytes, want the whole record's %d", reads[0], len(msg))
		}
		if _, err := srv.Write([]byte("pong")); err != nil {
			t.Errorf("tls write on the loop: %v", err)
		}
	})
	reply := make([]byte, 4)
	if _, err := io.ReadFull(cli, reply); err != nil || string(reply) != "pong" {
		t.Fatalf("client read %q, %v; want pong", reply, err)
	}
	t.Logf("%d-byte record in %d one-byte writes: %d would-blocks", len(record), len(record), blocked)
}

// TestHalfClose: CloseWrite with bytes staged sends the FIN after them (the
// peer reads all, then EOF) and the socket still reads; a peer's FIN after
// data is read as the data, then io.EOF (again on the next Read), and
// HungUp, and the socket still writes.
func TestHalfClose(t *testing.T) {
	t.Parallel()
	t.Run("CloseWrite after staged bytes", func(t *testing.T) {
		t.Parallel()
		l := startLoop(t)
		local, peer := tcpPair(t, nil, smallRcvBuf)
		const total = 8 << 20
		msg := pattern(total, 5)
		var got []byte
		var end error
		done := make(chan struct{})
		s := attach(t, l, NewConn(local), handlerFunc(func(s *Socket) {
			if end != nil {
				return
			}
			if err := readAll(s, &got); !isWouldBlock(err) {
				end = err
				close(done)
			}
		}))
		onLoop(t, l, func() {
			if _, err := s.Write(msg); err != nil {
				t.Errorf("Write: %v", err)
			}
			if s.Pending() == 0 {
				t.Error("8 MiB to a peer with a 32 KiB receive buffer: nothing staged")
			}
			if err := s.CloseWrite(); err != nil {
				t.Errorf("CloseWrite: %v", err)
			}
			if _, err := s.Write([]byte("late")); err == nil {
				t.Error("Write after CloseWrite succeeded")
			}
		})
		peer.SetDeadline(time.Now().Add(testLimit))
		all, err := io.ReadAll(peer)
		if err != nil {
			t.Fatalf("peer read: %v", err)
		}
		if err := sameBytes(all, msg); err != nil {
			t.Fatalf("peer before EOF: %v", err)
		}
		if _, err := peer.Write([]byte("reply")); err != nil {
			t.Fatal(err)
		}
		peer.CloseWrite()
		select {
		case <-done:
		case <-time.After(testLimit):
			t.Fatal("the loop's read did not end")
		}
		if string(got) != "reply" || end != io.EOF {
			t.Fatalf("loop read %q then %v, want %q then io.EOF", got, end, "reply")
		}
	})
	t.Run("peer FIN after data", func(t *testing.T) {
		t.Parallel()
		l := startLoop(t)
		local, peer := tcpPair(t, nil, nil)
		msg := pattern(300<<10, 6)
		var got []byte
		var end, again error
		var hup bool
		done := make(chan struct{})
		attach(t, l, NewConn(local), handlerFunc(func(s *Socket) {
			if end != nil {
				return
			}
			if err := readAll(s, &got); !isWouldBlock(err) {
				end = err
				_, again = s.Read(s.Loop().Buffer())
				hup = s.HungUp()
				if _, err := s.Write([]byte("bye")); err != nil {
					t.Errorf("write after the peer's FIN: %v", err)
				}
				s.CloseWrite()
				close(done)
			}
		}))
		peer.SetDeadline(time.Now().Add(testLimit))
		if _, err := peer.Write(msg); err != nil {
			t.Fatal(err)
		}
		peer.CloseWrite()
		select {
		case <-done:
		case <-time.After(testLimit):
			t.Fatal("the loop's read did not end")
		}
		if err := sameBytes(got, msg); err != nil {
			t.Fatal(err)
		}
		if end != io.EOF || again != io.EOF || !hup {
			t.Fatalf("after the data: %v, then %v, HungUp %v; want io.EOF twice, true", end, again, hup)
		}
		rest, err := io.ReadAll(peer)
		if err != nil || string(rest) != "bye" {
			t.Fatalf("peer read %q, %v; want %q and EOF", rest, err, "bye")
		}
	})
}

// echoSide is one connection of TestManyConnections: it sends want, then
// half-closes, and checks the echo and the echo server's FIN.
type echoSide struct {
	want   []byte
	got    []byte
	result chan<- error
	ended  bool
}

func (e *echoSide) Ready(s *Socket) {
	if e.ended {
		return
	}
	err := readAll(s, &e.got)
	if isWouldBlock(err) {
		return
	}
	e.ended = true
	if err == io.EOF {
		err = sameBytes(e.got, e.want)
	}
	s.Close()
	e.result <- err
}

// TestManyConnections: 500 connections on 2 loops, each echoing a message of
// its own size (some staged) through a loopback echo server and reading its
// FIN; every echo is whole and in order, and the loops hold no socket after.
func TestManyConnections(t *testing.T) {
	t.Parallel()
	const conns = 500
	addr := echoListener(t)
	loops := []*Loop{startLoop(t), startLoop(t)}
	results := make(chan error, conns)
	for i := range conns {
		c, err := net.DialTimeout("tcp", addr, testLimit)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		e := &echoSide{want: pattern(1+i*997%(300<<10), byte(i)), result: results}
		loops[i%2].Attach(NewConn(c), e, func(s *Socket, err error) {
			if err == nil {
				_, err = s.Write(e.want)
			}
			if err == nil {
				err = s.CloseWrite()
			}
			if err != nil {
				e.ended = true
				results <- err
			}
		})
	}
	timeout := time.After(2 * testLimit)
	for i := range conns {
		select {
		case err := <-results:
			if err != nil {
				t.Errorf("connection: %v", err)
			}
		case <-timeout:
			t.Fatalf("%d of %d connections finished", i, conns)
		}
	}
	for i, l := range loops {
		var live int
		onLoop(t, l, func() { live = l.Live() })
		if live != 0 {
			t.Errorf("loop %d holds %d sockets after every connection closed", i, live)
		}
	}
}

// TestShutdownClosesSockets: Shutdown closes every socket on the loop (each
// peer sees the end), Live is 0 after Done, and Post and Attach after it
// fail (Attach calls done with ErrClosed and closes the connection).
func TestShutdownClosesSockets(t *testing.T) {
	t.Parallel()
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	go l.Run()
	const n = 20
	peers := make([]*net.TCPConn, n)
	for i := range n {
		local, peer := tcpPair(t, nil, smallRcvBuf)
		peers[i] = peer
		s := attach(t, l, NewConn(local), handlerFunc(func(*Socket) {}))
		if i%2 == 0 {
			onLoop(t, l, func() { s.Write(pattern(8<<20, byte(i))) }) // staged, dropped
		}
	}
	var tm Timer
	tm.F = func(int64) { t.Error("timer fired after Shutdown") }
	onLoop(t, l, func() { l.Schedule(&tm, l.Now()+int64(time.Hour)) })
	l.Shutdown()
	l.Shutdown() // again is harmless
	select {
	case <-l.Done():
	case <-time.After(testLimit):
		t.Fatal("loop did not end after Shutdown")
	}
	if live := l.Live(); live != 0 {
		t.Errorf("Live after Done: %d", live)
	}
	buf := make([]byte, 64<<10)
	for i, p := range peers {
		p.SetReadDeadline(time.Now().Add(testLimit))
		var err error
		for err == nil {
			_, err = p.Read(buf)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("peer %d: the loop's socket was not closed", i)
		}
	}
	if l.Post(func() {}) {
		t.Error("Post after Done returned true")
	}
	local, peer := tcpPair(t, nil, nil)
	got := make(chan error, 1)
	l.Attach(NewConn(local), handlerFunc(func(*Socket) {}), func(s *Socket, err error) { got <- err })
	select {
	case err := <-got:
		if err != ErrClosed {
			t.Errorf("Attach after Done: %v, want ErrClosed", err)
		}
	case <-time.After(testLimit):
		t.Fatal("Attach after Done never called done")
	}
	peer.SetReadDeadline(time.Now().Add(testLimit))
	if _, err := peer.Read(buf); err != io.EOF {
		t.Errorf("peer of a connection attached after Done: %v, want EOF", err)
	}
}

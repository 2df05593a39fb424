//go:build linux

package evloop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testLimit bounds every wait in these tests: far past a busy machine's
// scheduling noise, so only a hang fails it.
const testLimit = 20 * time.Second

// handlerFunc is a Handler from a function.
type handlerFunc func(s *Socket)

func (f handlerFunc) Ready(s *Socket) { f(s) }

// startLoop runs a loop until the test ends; the cleanup waits for Run to
// return.
func startLoop(tb testing.TB) *Loop {
	tb.Helper()
	l, err := New()
	if err != nil {
		tb.Fatal(err)
	}
	go l.Run()
	tb.Cleanup(func() {
		l.Shutdown()
		select {
		case <-l.Done():
		case <-time.After(testLimit):
			tb.Error("loop did not end after Shutdown")
		}
	})
	return l
}

// onLoop runs f on the loop goroutine and waits for it.
func onLoop(tb testing.TB, l *Loop, f func()) {
	tb.Helper()
	done := make(chan struct{})
	if !l.Post(func() { f(); close(done) }) {
		tb.Fatal("Post: the loop is down")
	}
	select {
	case <-done:
	case <-time.After(testLimit):
		tb.Fatal("posted function did not run")
	}
}

// tcpPair returns the two ends of a loopback TCP connection: local (to put
// on a loop) and peer (the test's blocking end). localSetup and peerSetup,
// if not nil, run on each end's socket before it connects (socket buffer
// sizes; the accepted local end inherits the listener's).
func tcpPair(tb testing.TB, localSetup, peerSetup func(fd int)) (local, peer *net.TCPConn) {
	tb.Helper()
	control := func(setup func(int)) func(_, _ string, rc syscall.RawConn) error {
		if setup == nil {
			return nil
		}
		return func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { setup(int(fd)) })
		}
	}
	lc := net.ListenConfig{Control: control(localSetup)}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{Timeout: testLimit, Control: control(peerSetup)}
	pc, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	ac, err := ln.Accept()
	if err != nil {
		pc.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pc.Close(); ac.Close() })
	return ac.(*net.TCPConn), pc.(*net.TCPConn)
}

// smallRcvBuf makes a peer's receive buffer small, so the kernel does not
// absorb what a back-pressure test sends.
func smallRcvBuf(fd int) { syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10) }

// attach puts ec on l with h and waits for the outcome.
func attach(tb testing.TB, l *Loop, ec *Conn, h Handler) *Socket {
	tb.Helper()
	got := make(chan error, 1)
	var sock *Socket
	l.Attach(ec, h, func(s *Socket, err error) { sock = s; got <- err })
	select {
	case err := <-got:
		if err != nil {
			tb.Fatalf("Attach: %v", err)
		}
	case <-time.After(testLimit):
		tb.Fatal("Attach did not complete")
	}
	return sock
}

// readAll reads s until an error (ErrWouldBlock, io.EOF or another),
// appending to dst; it returns the error.
func readAll(s *Socket, dst *[]byte) error {
	buf := s.Loop().Buffer()
	for {
		n, err := s.Read(buf)
		*dst = append(*dst, buf[:n]...)
		if err != nil {
			return err
		}
	}
}

// pattern is n bytes whose order shows: a byte lost or moved breaks it.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+int(seed)) ^ byte(i>>8)
	}
	return b
}

// sameBytes reports where got and want differ, or nil.
func sameBytes(got, want []byte) error {
	if bytes.Equal(got, want) {
		return nil
	}
	n := min(len(got), len(want))
	for i := range n {
		if got[i] != want[i] {
			return fmt.Errorf("byte %d of %d differs (got %d bytes)", i, len(want), len(got))
		}
	}
	return fmt.Errorf("got %d bytes, want %d", len(got), len(want))
}

// echoListener accepts on loopback and echoes each connection until EOF,
// then closes it; the cleanup closes the listener and waits for every
// connection's goroutine.
func echoListener(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(testLimit))
				io.Copy(c, c)
			})
		}
	})
	return ln.Addr().String()
}

// isWouldBlock reports whether err is the loop's would-block.
func isWouldBlock(err error) bool { return errors.Is(err, ErrWouldBlock) }

//go:build linux

package evloop

import (
	"io"
	"net"
	"testing"
	"time"
)

// echoServer accepts on loopback and echoes until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

type echoClient struct {
	got  []byte
	want int
	done chan struct{}
}

func (e *echoClient) Ready(s *Socket) {
	for {
		n, err := s.Read(s.Loop().Buffer())
		e.got = append(e.got, s.Loop().Buffer()[:n]...)
		if err != nil || len(e.got) >= e.want {
			break
		}
	}
	if len(e.got) >= e.want {
		s.Close()
		close(e.done)
	}
}

// TestAttachEchoAndTimer: a connection moved onto a loop writes and reads
// its echo there, and a timer fires after its due time, not before.
func TestAttachEchoAndTimer(t *testing.T) {
	t.Parallel()
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	go l.Run()
	defer func() { l.Shutdown(); <-l.Done() }()
	nc, err := net.Dial("tcp", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(nc)
	msg := make([]byte, 1<<20) // more than a socket buffer: staged and flushed on EPOLLOUT
	for i := range msg {
		msg[i] = byte(i)
	}
	e := &echoClient{want: len(msg), done: make(chan struct{})}
	fired := make(chan time.Duration, 1)
	var tm Timer
	l.Attach(c, e, func(s *Socket, err error) {
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := c.Write(msg); err != nil {
			t.Error(err)
		}
		start := l.Now()
		tm.F = func(now int64) { fired <- time.Duration(now - start) }
		l.Schedule(&tm, start+int64(20*time.Millisecond))
	})
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("echo of %d bytes: got %d", len(msg), len(e.got))
	}
	for i := range msg {
		if e.got[i] != msg[i] {
			t.Fatalf("byte %d differs", i)
		}
	}
	if d := <-fired; d < 20*time.Millisecond {
		t.Fatalf("timer fired after %v, before its 20ms", d)
	}
}

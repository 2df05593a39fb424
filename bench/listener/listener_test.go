package listener

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeListener returns the queued errors from Accept, then real connections
// from a loopback listener: it shows the back-off on EMFILE, a fault a real
// peer cannot produce reliably.
type fakeListener struct {
	net.Listener
	mu    sync.Mutex
	errs  []error
	calls []time.Time
}

func (f *fakeListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	f.calls = append(f.calls, time.Now())
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		f.mu.Unlock()
		return nil, err
	}
	f.mu.Unlock()
	return f.Listener.Accept()
}

func newFake(t *testing.T, errs ...error) *fakeListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &fakeListener{Listener: ln, errs: errs}
}

func emfile() error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
}

func TestServeBacksOffOnEMFILE(t *testing.T) {
	t.Parallel()
	f := newFake(t, emfile(), emfile(), emfile(), &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.ENFILE)})
	l := New(f, Options{})
	handled := make(chan struct{}, 1)
	served := make(chan error, 1)
	go func() {
		served <- l.Serve(func(c net.Conn) {
			defer l.Drop(c)
			handled <- struct{}{}
		})
	}()
	c, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-handled:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection after four EMFILE/ENFILE errors was not served")
	}
	f.mu.Lock()
	calls := append([]time.Time(nil), f.calls...)
	f.mu.Unlock()
	if len(calls) < 5 {
		t.Fatalf("Accept called %d times, want at least 5 (4 errors, then the connection)", len(calls))
	}
	// The back-off doubles from 5 ms: 5, 10, 20, 40 ms; no gap is shorter
	// than its step (timers never fire early).
	want := backoffMin
	for i := 1; i < 5; i++ {
		if gap := calls[i].Sub(calls[i-1]); gap < want {
			t.Errorf("gap %d between accepts: %v, want at least %v", i, gap, want)
		}
		want *= 2
	}
	if err := l.Shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after Shutdown: %v, want nil", err)
	}
}

func TestServeStopsDuringBackoff(t *testing.T) {
	t.Parallel()
	errs := make([]error, 1000)
	for i := range errs {
		errs[i] = emfile()
	}
	l := New(newFake(t, errs...), Options{})
	served := make(chan error, 1)
	go func() { served <- l.Serve(func(c net.Conn) { l.Drop(c) }) }()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := l.Shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still backing off 5 s after Shutdown")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Serve took %v to end after Shutdown", d)
	}
}

func TestServeReturnsPermanentError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	l := New(newFake(t, boom), Options{})
	err := l.Serve(func(c net.Conn) { l.Drop(c) })
	if !errors.Is(err, boom) {
		t.Fatalf("Serve: %v, want %v", err, boom)
	}
	if err := l.Shutdown(time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestTemporary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{emfile(), true},
		{fmt.Errorf("wrapped: %w", syscall.ENFILE), true},
		{syscall.ENOBUFS, true},
		{syscall.ECONNABORTED, true},
		{net.ErrClosed, false},
		{errors.New("other"), false},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			if got := Temporary(tc.err); got != tc.want {
				t.Errorf("Temporary(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestShutdownWakesAndWaits: Shutdown wakes every tracked connection with
// Wake, waits for the handlers, and refuses connections after Stop.
func TestShutdownWakesAndWaits(t *testing.T) {
	t.Parallel()
	l, err := Listen("127.0.0.1:0", Options{Wake: func(c net.Conn) { c.SetReadDeadline(time.Now()) }})
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	var ended sync.WaitGroup
	ended.Add(n)
	started := make(chan struct{}, n)
	go l.Serve(func(c net.Conn) {
		defer ended.Done()
		defer l.Drop(c)
		started <- struct{}{}
		var b [1]byte
		for {
			// The read deadline this sets is past Stop's wake only if
			// Down is checked after it.
			c.SetReadDeadline(time.Now().Add(time.Minute))
			if l.Down() {
				return
			}
			if _, err := c.Read(b[:]); err != nil {
				return
			}
		}
	})
	var clients []net.Conn
	for range n {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
		go func() {
			for {
				if _, err := c.Write([]byte{1}); err != nil {
					return
				}
			}
		}()
	}
	for range n {
		<-started
	}
	start := time.Now()
	if err := l.Shutdown(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v with busy connections", d)
	}
	ended.Wait()
	if l.Live() != 0 {
		t.Errorf("%d connections still tracked", l.Live())
	}
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		// EOF, or a reset: the server closed with the client's bytes unread.
		if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("client: %v, want the connection closed", err)
		}
	}
	if _, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
		t.Error("a dial after Shutdown connected")
	}
}

// TestShutdownForcesStuckWork: a handler that ignores Wake is closed after
// the grace period; one that never ends makes Shutdown return an error.
func TestShutdownForcesStuckWork(t *testing.T) {
	t.Parallel()
	l, err := Listen("127.0.0.1:0", Options{Wake: func(net.Conn) {}})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	go l.Serve(func(c net.Conn) {
		defer l.Untrack(c)
		close(started)
		io.Copy(io.Discard, c) // ends only when the connection is closed
	})
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-started
	if err := l.Shutdown(100 * time.Millisecond); err != nil {
		t.Fatalf("Shutdown: %v, want the stuck connection closed after the grace period", err)
	}

	l2, err := Listen("127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	l2.Go(func() { <-release })
	if err := l2.Shutdown(50 * time.Millisecond); err == nil {
		t.Fatal("Shutdown with work that never ends returned nil")
	}
}

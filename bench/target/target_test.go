package target

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/tlsconf"
	"github.com/wssbench/wssbench/bench/wsconn"
)

// testLimit bounds every wait in these tests.
const testLimit = 10 * time.Second

type testServer struct {
	srv    *Server
	cancel context.CancelFunc
	served chan error
	client *tls.Config // nil for ws://
}

// start runs a server on 127.0.0.1:0 (wss:// when tlsOn) until stop or the
// test's end.
func start(t *testing.T, cfg Config, tlsOn bool) *testServer {
	t.Helper()
	ts := &testServer{served: make(chan error, 1)}
	if tlsOn {
		chain, err := tlsconf.NewChain(tlsconf.CertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{chain.Leaf}}
		ts.client = &tls.Config{RootCAs: chain.Pool(), ServerName: "localhost"}
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	srv, err := Listen(cfg)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ts.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	go func() { ts.served <- srv.Serve(ctx) }()
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop cancels Serve and returns how long it took to return (again: 0).
func (ts *testServer) stop(t *testing.T) time.Duration {
	t.Helper()
	if ts.cancel == nil {
		return 0
	}
	begin := time.Now()
	ts.cancel()
	ts.cancel = nil
	select {
	case err := <-ts.served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(testLimit):
		t.Fatalf("Serve did not return %v after cancel", testLimit)
	}
	return time.Since(begin)
}

// dial connects and upgrades a client.
func (ts *testServer) dial(t *testing.T) *wsconn.Conn {
	t.Helper()
	return ts.dialPath(t, "/")
}

// dialPath is dial with this URL path.
func (ts *testServer) dialPath(t *testing.T, path string) *wsconn.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", ts.srv.Addr().String(), testLimit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(testLimit))
	if ts.client != nil {
		tc := tls.Client(nc, ts.client)
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		nc = tc
	}
	u, _ := url.Parse(ts.srv.URL())
	u.Path, u.RawQuery, _ = strings.Cut(path, "?")
	br, _, err := ws.Dialer{}.Upgrade(nc, u)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	o := wsconn.Options{Client: true}
	if br != nil {
		o.Reader = br
	}
	return wsconn.New(nc, o)
}

// TestServeStopsBusyConnectionsOnShutdown is defect 6: with clients echoing
// without a pause, shutdown used to wait until they left, because each echo
// set a fresh read deadline over the one that was to wake the loop. Shutdown
// must end within a bound and close every connection with a 1001 close frame.
func TestServeStopsBusyConnectionsOnShutdown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		tlsOn bool
	}{{"ws", false}, {"wss", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := start(t, Config{}, tc.tlsOn)
			const clients = 16
			var wg sync.WaitGroup
			codes := make([]ws.StatusCode, clients)
			echoes := make([]int64, clients)
			errs := make([]error, clients)
			busy := make(chan struct{}, clients)
			for i := range clients {
				c := ts.dial(t)
				wg.Add(1)
				go func() {
					defer wg.Done()
					msg := []byte("busy busy busy")
					for {
						if err := c.WriteMessage(ws.OpBinary, msg); err != nil {
							errs[i] = err
							return
						}
						_, _, err := c.ReadFrame()
						var ce *wsconn.CloseError
						if errors.As(err, &ce) {
							codes[i] = ce.Code
							return
						}
						if err != nil {
							errs[i] = err
							return
						}
						if echoes[i]++; echoes[i] == 100 {
							busy <- struct{}{}
						}
					}
				}()
			}
			for range clients {
				select {
				case <-busy:
				case <-time.After(testLimit):
					t.Fatal("clients did not get 100 echoes each")
				}
			}
			// The close handshake is bounded by closeTimeout; a shutdown
			// that had to close connections by force takes shutdownGrace.
			if d := ts.stop(t); d >= shutdownGrace {
				t.Errorf("shutdown with busy clients took %v, want under %v (the close handshakes)", d, shutdownGrace)
			}
			wg.Wait()
			var sum int64
			for i := range clients {
				if codes[i] != ws.StatusGoingAway {
					t.Errorf("client %d: close code %d, error %v; want a 1001 close frame", i, codes[i], errs[i])
				}
				sum += echoes[i]
			}
			got := ts.srv.Counts()
			want := Counts{Accepted: clients, Upgraded: clients, FramesEchoed: sum, Closes: clients}
			if got != want {
				t.Errorf("Counts = %+v, want %+v", got, want)
			}
		})
	}
}

func TestCountsPeerClose(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{}, false)
	c := ts.dial(t)
	for i := range 3 {
		if err := c.WriteMessage(ws.OpText, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadFrame(); err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
	}
	if !c.Close(ws.StatusNormalClosure, testLimit) {
		t.Fatal("close handshake did not complete")
	}
	// A connection that never upgrades is accepted only.
	nc, err := net.Dial("tcp", ts.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	// Stop drops connections still in the backlog: wait for the accept.
	for deadline := time.Now().Add(testLimit); ts.srv.Counts().Accepted < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the second connection was never accepted")
		}
		time.Sleep(time.Millisecond)
	}
	ts.stop(t)
	want := Counts{Accepted: 2, Upgraded: 1, FramesEchoed: 3, Closes: 1}
	if got := ts.srv.Counts(); got != want {
		t.Errorf("Counts = %+v, want %+v", got, want)
	}
}

func TestParseStall(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Stall
		err  string
	}{
		{"1s@5s", Stall{At: 5 * time.Second, For: time.Second}, ""},
		{"250ms@0s", Stall{For: 250 * time.Millisecond}, ""},
		{"1s", Stall{}, "FOR@AT"},
		{"x@5s", Stall{}, "length before @"},
		{"1s@y", Stall{}, "start after @"},
		{"0s@1s", Stall{}, "more than 0"},
		{"1s@-1s", Stall{}, "negative"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseStall(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseStall(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseStall(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if back, err := ParseStall(got.String()); err != nil || back != got {
				t.Errorf("ParseStall(String()) = %v, %v; want %v", back, err, got)
			}
		})
	}
	if _, err := Listen(Config{Listen: "127.0.0.1:0", Stalls: []Stall{{For: -time.Second}}}); err == nil {
		t.Error("Listen accepted a stall of negative length")
	}
}

func TestStallLeft(t *testing.T) {
	t.Parallel()
	s := sortedStalls([]Stall{{At: 10, For: 5}, {At: 0, For: 2}, {At: 14, For: 4}})
	for _, tc := range []struct{ t, want time.Duration }{
		{0, 2}, {1, 1}, {2, 0}, {5, 0}, {10, 8}, {15, 3}, {18, 0}, {30, 0},
	} {
		if got := stallLeft(s, tc.t); got != tc.want {
			t.Errorf("stallLeft(%v) = %v, want %v", tc.t, got, tc.want)
		}
	}
}

// TestStallHoldsEchoes: a client echoing without a pause sees one gap of
// about the stall's length, starting about At after it upgraded.
func TestStallHoldsEchoes(t *testing.T) {
	t.Parallel()
	const at, length = 200 * time.Millisecond, 500 * time.Millisecond
	ts := start(t, Config{Stalls: []Stall{{At: at, For: length}}}, false)
	c := ts.dial(t)
	begin := time.Now()
	last := begin
	var gap, gapAt time.Duration
	for time.Since(begin) < at+length+300*time.Millisecond {
		if err := c.WriteMessage(ws.OpBinary, []byte{1}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadFrame(); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if d := now.Sub(last); d > gap {
			gap, gapAt = d, last.Sub(begin)
		}
		last = now
	}
	// Timers never fire early, so the gap is at least the stall less the
	// time from the upgrade to the first frame; lateness only adds.
	if gap < length-50*time.Millisecond {
		t.Errorf("longest gap between echoes %v (at %v), want about %v", gap, gapAt, length)
	}
	if gapAt > at+100*time.Millisecond {
		t.Logf("the stall began at %v, %v after it was due (a loaded machine?)", gapAt, gapAt-at)
	}
}

// TestStallEndsOnShutdown: a server in a stall still shuts down at once.
func TestStallEndsOnShutdown(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{Stalls: []Stall{{At: 0, For: time.Hour}}}, false)
	c := ts.dial(t)
	if err := c.WriteMessage(ws.OpBinary, []byte{1}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFrame()
		done <- err
	}()
	if d := ts.stop(t); d >= shutdownGrace {
		t.Errorf("shutdown in a stall took %v", d)
	}
	var ce *wsconn.CloseError
	if err := <-done; !errors.As(err, &ce) || ce.Code != ws.StatusGoingAway {
		t.Errorf("client read %v, want a 1001 close frame", err)
	}
}

func TestURLForUnspecifiedAddress(t *testing.T) {
	t.Parallel()
	for _, listen := range []string{"0.0.0.0:0", "[::]:0", ":0"} {
		t.Run(listen, func(t *testing.T) {
			ts := start(t, Config{Listen: listen}, true)
			u, err := url.Parse(ts.srv.URL())
			if err != nil {
				t.Fatal(err)
			}
			if u.Hostname() != "127.0.0.1" || !ts.srv.EveryInterface() {
				t.Fatalf("URL %s, every interface %v; want host 127.0.0.1, true", u, ts.srv.EveryInterface())
			}
			c := ts.dial(t) // verifies the certificate for the URL's host
			if err := c.WriteMessage(ws.OpText, []byte("x")); err != nil {
				t.Fatal(err)
			}
		})
	}
	ts := start(t, Config{}, false)
	if ts.srv.EveryInterface() || !strings.HasPrefix(ts.srv.URL(), "ws://127.0.0.1:") {
		t.Errorf("127.0.0.1:0 gives URL %s, every interface %v", ts.srv.URL(), ts.srv.EveryInterface())
	}
}

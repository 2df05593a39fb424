package driver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/bench/target"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// runLimit bounds every Run in these tests; a run that reaches it is a hang.
const runLimit = 8 * time.Second

// newChain generates a self-signed chain or fails the test.
func newChain(t testing.TB, o tlsconf.CertOptions) *tlsconf.Chain {
	t.Helper()
	c, err := tlsconf.NewChain(o)
	if err != nil {
		t.Fatalf("tlsconf.NewChain: %v", err)
	}
	return c
}

// serverTLS is a server config that presents chain's leaf.
func serverTLS(c *tlsconf.Chain) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.Leaf}}
}

// clientTLS trusts only chain's CA and verifies the name "localhost".
func clientTLS(c *tlsconf.Chain) *tls.Config {
	return &tls.Config{RootCAs: c.Pool(), ServerName: "localhost"}
}

// startTarget runs the built-in echo target on 127.0.0.1:0 until the test
// ends and returns its URL. tc nil serves ws://.
func startTarget(t testing.TB, tc *tls.Config) *url.URL {
	t.Helper()
	srv, err := target.Listen(target.Config{Listen: "127.0.0.1:0", TLS: tc, HandshakeTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("target.Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("target Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("target Serve did not return after cancel")
		}
	})
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatalf("parse target URL %q: %v", srv.URL(), err)
	}
	return u
}

// fakeHandler serves one accepted connection (after TLS, when the fake
// terminates it). done is closed when the test ends: a handler that stalls
// waits on it. The connection is closed after the handler returns.
type fakeHandler func(c net.Conn, done <-chan struct{})

// startFake runs a hand-written server on 127.0.0.1:0 until the test ends
// and returns its address. tc, when set, completes a TLS handshake before
// handle runs; a failed handshake closes the connection.
func startFake(t testing.TB, tc *tls.Config, handle fakeHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan struct{})
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		live = map[net.Conn]struct{}{}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			live[raw] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(live, raw)
					mu.Unlock()
					raw.Close()
				}()
				var c net.Conn = raw
				if tc != nil {
					sc := tls.Server(raw, tc)
					if err := sc.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
						return
					}
					if err := sc.Handshake(); err != nil {
						return
					}
					if err := sc.SetDeadline(time.Time{}); err != nil {
						return
					}
					c = sc
				}
				handle(c, done)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(done)
		mu.Lock()
		for c := range live {
			// Wake handlers blocked in a read; an error means it is already closed.
			_ = c.SetDeadline(time.Now())
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// readRequest reads one HTTP request (the upgrade) from c.
func readRequest(c net.Conn) (*http.Request, *bufio.Reader, error) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	return req, br, err
}

// mustURL parses a URL or fails the test.
func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return u
}

// testConfig is a small, short load against u.
func testConfig(u *url.URL, tc *tls.Config) *Config {
	return &Config{
		URL:            u,
		TLS:            tc,
		Mode:           ModeSteady,
		Conns:          4,
		ConnectTimeout: 2 * time.Second,
		Duration:       300 * time.Millisecond,
		PayloadBytes:   64,
		FrameTimeout:   time.Second,
		CloseTimeout:   time.Second,
		Shards:         4,
	}
}

// runDriver runs cfg under runLimit, collects the recorder, and fails the
// test if the run hit the limit.
func runDriver(t testing.TB, cfg *Config) (*Stats, *Driver) {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	st := d.Run(ctx)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Run did not end by itself within %v: %+v", runLimit, st)
	}
	d.Recorder().Collect()
	return st, d
}

// count returns the number of samples of metric m in the run total.
func count(d *Driver, m metrics.Metric) int64 {
	return d.Recorder().Total(m).TotalCount()
}

// errorsOf formats the error classes and first samples of st for failure messages.
func errorsOf(st *Stats) string {
	keys := make([]string, 0, len(st.Errors))
	for k := range st.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		s += fmt.Sprintf("%s=%d (%s); ", k, st.Errors[k], st.ErrorSamples[k])
	}
	if s == "" {
		return "none"
	}
	return s
}

// failOnKickRace fails the test when st shows the steady-start kick race: a
// frame_timeout in a steady window shorter than FrameTimeout, which no real
// echo wait can produce.
func failOnKickRace(t testing.TB, cfg *Config, st *Stats) {
	t.Helper()
	if st.Errors[ErrFrameTimeout] == 0 {
		return
	}
	var steady, done time.Time
	for _, p := range st.Phases {
		switch p.Name {
		case "steady":
			steady = p.At
		case "done":
			done = p.At
		}
	}
	if window := done.Sub(steady); !steady.IsZero() && window < cfg.FrameTimeout {
		t.Fatalf("steady-start kick cut an echo: frame_timeout=%d in a %v window with FrameTimeout %v: %s",
			st.Errors[ErrFrameTimeout], window.Round(time.Millisecond), cfg.FrameTimeout, st.ErrorSamples[ErrFrameTimeout])
	}
}

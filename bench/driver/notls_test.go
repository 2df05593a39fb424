package driver

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// handshake does what dial does for wss:// against addr: TCP, then a TLS
// handshake counting the bytes that came back, and classifies the failure
// after the plain-server probe.
func handshake(t *testing.T, addr string, cfg *tls.Config) (class string, err error) {
	t.Helper()
	u := &url.URL{Scheme: "wss", Host: addr, Path: "/"}
	raw, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.SetDeadline(time.Now().Add(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	cc := &countConn{Conn: raw}
	herr := tls.Client(cc, cfg).HandshakeContext(context.Background())
	if herr == nil {
		t.Fatalf("handshake with %s succeeded", addr)
	}
	err = NewPlainProbe(u, 2*time.Second).Check(context.Background(), herr, cc.read)
	return Classify(PhaseTLS, err), err
}

// plainFake accepts connections and runs handle on each, until the test ends.
func plainFake(t *testing.T, handle func(c net.Conn)) string {
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
			go func() { defer c.Close(); handle(c) }()
		}
	}()
	return ln.Addr().String()
}

// TestWSSToPlainServerIsNotTLS checks that wss:// aimed at a server that
// speaks plain TCP/HTTP is tls_not_tls with the hint to use ws://, however
// the server turns the ClientHello away, and that a real TLS server that
// closes the handshake without a word is not taken for a plain one.
func TestWSSToPlainServerIsNotTLS(t *testing.T) {
	t.Parallel()
	chain := newChain(t, tlsconf.CertOptions{})
	client := clientTLS(chain)
	// A real TLS server (Go's net/http), behind a front that closes the
	// first connection (the handshake) unanswered and passes on the rest.
	https := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(https.Close)
	first := make(chan struct{}, 1)
	first <- struct{}{}
	silentTLS := plainFake(t, func(c net.Conn) {
		select {
		case <-first:
			_, _ = c.Read(make([]byte, 4096))
			return
		default:
		}
		up, err := net.Dial("tcp", https.Listener.Addr().String())
		if err != nil {
			return
		}
		defer up.Close()
		go func() { _, _ = io.Copy(up, c) }()
		_, _ = io.Copy(c, up)
	})
	cases := []struct {
		name  string
		addr  func(t *testing.T) string
		class string
		hint  string
	}{
		{name: "plain ws target", addr: func(t *testing.T) string { return startTarget(t, nil).Host },
			class: ErrTLSNotTLS, hint: "use ws://"},
		{name: "plain HTTP answers 400 and closes", addr: func(t *testing.T) string {
			return plainFake(t, func(c net.Conn) {
				_, _ = c.Read(make([]byte, 4096))
				_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			})
		}, class: ErrTLSNotTLS, hint: "use ws://"},
		{name: "plain HTTP server (net/http)", addr: func(t *testing.T) string {
			s := httptest.NewServer(http.NotFoundHandler())
			t.Cleanup(s.Close)
			return s.Listener.Addr().String()
		}, class: ErrTLSNotTLS, hint: "use ws://"},
		{name: "plain server closes the ClientHello, answers HTTP", addr: func(t *testing.T) string {
			return plainFake(t, func(c net.Conn) {
				b := make([]byte, 4096)
				n, _ := c.Read(b)
				if strings.HasPrefix(string(b[:n]), "GET ") {
					_, _ = io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
				}
			})
		}, class: ErrTLSNotTLS, hint: "use ws://"},
		{name: "plain server resets the ClientHello, answers HTTP", addr: func(t *testing.T) string {
			return plainFake(t, func(c net.Conn) {
				b := make([]byte, 4096)
				n, _ := c.Read(b)
				if strings.HasPrefix(string(b[:n]), "GET ") {
					_, _ = io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
					return
				}
				_ = c.(*net.TCPConn).SetLinger(0) // close with RST
			})
		}, class: ErrTLSNotTLS, hint: "use ws://"},
		{name: "real TLS server closes silently", addr: func(*testing.T) string { return silentTLS },
			class: ErrTLSHandshake, hint: "refuses the handshake silently"},
		{name: "server closes everything", addr: func(t *testing.T) string {
			return plainFake(t, func(c net.Conn) { _, _ = c.Read(make([]byte, 4096)) })
		}, class: ErrTLSHandshake, hint: "try ws://"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			class, err := handshake(t, tc.addr(t), client)
			if class != tc.class {
				t.Errorf("class %q (%v), want %q", class, err, tc.class)
			}
			if h := Hint(class, err); !strings.Contains(h, tc.hint) {
				t.Errorf("hint %q (class %s, %v) lacks %q", h, class, err, tc.hint)
			}
		})
	}
}

// TestUpgradeRefusedByProxyHint checks that an upgrade refused with 400, 426
// or 502 (what a proxy that drops the hop-by-hop Upgrade and Connection
// headers causes) gets the hint naming those headers and nginx's settings.
func TestUpgradeRefusedByProxyHint(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusBadRequest, http.StatusUpgradeRequired, http.StatusBadGateway} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
			}))
			t.Cleanup(srv.Close)
			u, err := url.Parse(strings.Replace(srv.URL, "http://", "ws://", 1) + "/")
			if err != nil {
				t.Fatal(err)
			}
			c, _, _, err := ws.Dialer{Timeout: 2 * time.Second}.Dial(context.Background(), u.String())
			if err == nil {
				c.Close()
				t.Fatal("upgrade succeeded")
			}
			class := Classify(PhaseUpgrade, err)
			if want := fmt.Sprintf("upgrade_status_%d", status); class != want {
				t.Fatalf("class %q (%v), want %q", class, err, want)
			}
			h := Hint(class, err)
			for _, w := range []string{"proxy", "Upgrade and Connection headers", "proxy_set_header Upgrade $http_upgrade", `proxy_set_header Connection "upgrade"`, "proxy_http_version 1.1"} {
				if !strings.Contains(h, w) {
					t.Errorf("%s: hint %q lacks %q", class, h, w)
				}
			}
		})
	}
	if h := Hint("upgrade_status_404", ws.StatusError(404)); strings.Contains(h, "proxy") {
		t.Errorf("404 hint %q blames a proxy", h)
	}
}

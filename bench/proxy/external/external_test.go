package external

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/target"
	"github.com/wssbench/wssbench/bench/tlsconf"
	"github.com/wssbench/wssbench/bench/wsconn"
)

// extTestLimit bounds every wait in these tests; reaching it is a hang.
const extTestLimit = 15 * time.Second

// extNeed skips the test when the proxy program is not installed.
func extNeed(t *testing.T, k Kind) {
	t.Helper()
	if _, err := LookPath(k); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

// extBackend runs the built-in plain ws:// echo target until the test ends
// and returns its host:port.
func extBackend(t *testing.T) string {
	t.Helper()
	srv, err := target.Listen(target.Config{Listen: "127.0.0.1:0"})
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
		case <-time.After(extTestLimit):
			t.Errorf("target Serve did not return within %v", extTestLimit)
		}
	})
	return srv.Addr().String()
}

// extChain makes a chain for localhost and 127.0.0.1 and writes it into a
// test folder.
func extChain(t *testing.T) (chain *tlsconf.Chain, certFile, keyFile string) {
	t.Helper()
	chain, err := tlsconf.NewChain(tlsconf.CertOptions{Hosts: []string{"localhost", "127.0.0.1"}})
	if err != nil {
		t.Fatalf("tlsconf.NewChain: %v", err)
	}
	certFile, keyFile, _, err = chain.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	return chain, certFile, keyFile
}

// extStart starts a proxy and stops it when the test ends.
func extStart(t *testing.T, c Config) *Proxy {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), extTestLimit)
	defer cancel()
	e, err := Start(ctx, c)
	if err != nil {
		t.Fatalf("Start(%s): %v", c.Kind, err)
	}
	t.Cleanup(e.Stop)
	return e
}

// extDialTLS connects to the proxy with TLS; the connection's deadline is
// extTestLimit from now.
func extDialTLS(e *Proxy, chain *tlsconf.Chain) (*tls.Conn, error) {
	raw, err := net.DialTimeout("tcp", e.Addr(), extTestLimit)
	if err != nil {
		return nil, err
	}
	if err := raw.SetDeadline(time.Now().Add(extTestLimit)); err != nil {
		raw.Close()
		return nil, err
	}
	tc := tls.Client(raw, &tls.Config{RootCAs: chain.Pool(), ServerName: "localhost"})
	if err := tc.Handshake(); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// extUpgrade performs the WebSocket upgrade over tc.
func extUpgrade(e *Proxy, tc *tls.Conn) (*wsconn.Conn, error) {
	u, err := url.Parse(e.URL())
	if err != nil {
		return nil, err
	}
	br, _, err := ws.Dialer{}.Upgrade(tc, u)
	if err != nil {
		return nil, err
	}
	o := wsconn.Options{Client: true}
	if br != nil {
		o.Reader = br
	}
	return wsconn.New(tc, o), nil
}

// extEcho writes msg and checks that the same message comes back.
func extEcho(c *wsconn.Conn, op ws.OpCode, msg []byte) error {
	if err := c.WriteMessage(op, msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	h, p, err := c.ReadFrame()
	if err != nil {
		return fmt.Errorf("read echo: %w", err)
	}
	if h.OpCode != op || !h.Fin || !bytes.Equal(p, msg) {
		return fmt.Errorf("echo is opcode %v fin %v, %d bytes; want opcode %v, %d bytes, same content",
			h.OpCode, h.Fin, len(p), op, len(msg))
	}
	return nil
}

// extChildren returns the child PIDs of pid (nginx's workers).
func extChildren(t *testing.T, pid int) []int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		t.Logf("cannot list children of %d: %v", pid, err)
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("children of %d: %v", pid, err)
		}
		pids = append(pids, n)
	}
	return pids
}

// extOpenFileLimit returns the soft RLIMIT_NOFILE of a process.
func extOpenFileLimit(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatalf("limits of %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			n, err := strconv.Atoi(strings.Fields(rest)[0])
			if err != nil {
				t.Fatalf("limits of %d: %q: %v", pid, line, err)
			}
			return n
		}
	}
	t.Fatalf("no open file limit in /proc/%d/limits", pid)
	return 0
}

// extGone reports whether no process has the id pid.
func extGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestExternalEcho(t *testing.T) {
	// nginx runs with a small MaxConns to check its worker's fd limit;
	// haproxy with the default, which it caps at maxconn 9000.
	for _, tt := range []struct {
		kind     Kind
		maxConns int
	}{{Nginx, 100}, {HAProxy, 0}} {
		k := tt.kind
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			extNeed(t, k)
			backend := extBackend(t)
			chain, certFile, keyFile := extChain(t)
			e := extStart(t, Config{Kind: k, Listen: "127.0.0.1:0", Backend: backend,
				CertFile: certFile, KeyFile: keyFile, MaxConns: tt.maxConns})
			if want := "wss://" + e.Addr() + "/"; e.URL() != want || strings.HasSuffix(e.Addr(), ":0") {
				t.Fatalf("URL() = %q, Addr() = %q; want a picked port and URL %q", e.URL(), e.Addr(), want)
			}
			dir := e.dir
			if _, err := os.Stat(dir); err != nil {
				t.Fatalf("config folder: %v", err)
			}

			tc, err := extDialTLS(e, chain)
			if err != nil {
				t.Fatal(err)
			}
			defer tc.Close()
			st := tc.ConnectionState()
			if st.Version != tls.VersionTLS13 || st.CurveID != tls.X25519 {
				t.Errorf("negotiated %s with %s; want TLS 1.3 with X25519",
					tlsconf.VersionName(st.Version), tlsconf.GroupName(st.CurveID))
			}
			c, err := extUpgrade(e, tc)
			if err != nil {
				t.Fatalf("upgrade through %s: %v", k, err)
			}
			cases := []struct {
				name string
				op   ws.OpCode
				msg  []byte
			}{
				{"text", ws.OpText, []byte("hello through " + string(k))},
				{"binary", ws.OpBinary, bytes.Repeat([]byte{0, 1, 2, 0xff}, 4096)},
				{"empty binary", ws.OpBinary, nil},
			}
			for _, tt := range cases {
				if err := extEcho(c, tt.op, tt.msg); err != nil {
					t.Errorf("%s echo: %v", tt.name, err)
				}
			}
			if !c.Close(ws.StatusNormalClosure, 5*time.Second) {
				t.Errorf("close handshake through %s did not complete", k)
			}

			pid := e.PID()
			workers := extChildren(t, pid)
			if k == Nginx {
				if len(workers) != 1 {
					t.Fatalf("nginx master %d has children %v; want one worker", pid, workers)
				}
				_, want := extNginxLimits(tt.maxConns)
				if got := extOpenFileLimit(t, workers[0]); got != want {
					t.Errorf("nginx worker's open file limit is %d, want %d (worker_rlimit_nofile)", got, want)
				}
			}
			e.Stop()
			for _, p := range append([]int{pid}, workers...) {
				if !extGone(p) {
					t.Errorf("process %d still exists after Stop", p)
				}
			}
			if conn, err := net.DialTimeout("tcp", e.Addr(), time.Second); err == nil {
				conn.Close()
				t.Errorf("%s still accepts connections after Stop", e.Addr())
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("temporary folder %s after Stop: %v; want it removed", dir, err)
			}
			t.Logf("%s stderr:\n%s", k, e.Stderr())
			for _, bad := range []string{"[warn]", "[emerg]", "[alert]", "[ALERT]"} {
				if strings.Contains(e.Stderr(), bad) {
					t.Errorf("%s wrote %s to stderr:\n%s", k, bad, e.Stderr())
				}
			}
		})
	}
}

// TestExternalNginxNoUpgradeHeaders shows the classic misconfiguration: nginx
// drops the hop-by-hop Upgrade and Connection headers unless told to pass
// them, so the backend refuses the upgrade with 400 and nginx relays it.
func TestExternalNginxNoUpgradeHeaders(t *testing.T) {
	t.Parallel()
	extNeed(t, Nginx)
	backend := extBackend(t)
	chain, certFile, keyFile := extChain(t)
	dir := t.TempDir()
	e := extStart(t, Config{Kind: Nginx, Backend: backend, CertFile: certFile, KeyFile: keyFile,
		NoUpgradeHeaders: true, Dir: dir})
	tc, err := extDialTLS(e, chain)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	_, err = extUpgrade(e, tc)
	t.Logf("upgrade: %v", err)
	var se ws.StatusError
	if !errors.As(err, &se) || int(se) != 400 {
		t.Fatalf("upgrade through nginx without Upgrade headers: %v; want ws.StatusError 400", err)
	}
	e.Stop()
	if _, err := os.Stat(filepath.Join(dir, "nginx.conf")); err != nil {
		t.Errorf("a given Dir must be kept after Stop: %v", err)
	}
	// The default MaxConns gives worker_rlimit_nofile 20000, the hard limit
	// here; more would make nginx warn or fail.
	for _, bad := range []string{"[warn]", "[emerg]", "[alert]"} {
		if strings.Contains(e.Stderr(), bad) {
			t.Errorf("nginx wrote %s to stderr:\n%s", bad, e.Stderr())
		}
	}
}

func TestExternalConfigError(t *testing.T) {
	t.Parallel()
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name     string
		kind     Kind
		certFile string
		// want are parts of the error: the proxy's own words where it ran.
		want []string
	}{
		{"nginx missing cert", Nginx, missing, []string{"nginx exited", "its stderr", "cannot load certificate", missing}},
		{"nginx garbage cert", Nginx, garbage, []string{"nginx exited", "its stderr", "cannot load certificate", garbage}},
		{"haproxy missing cert", HAProxy, missing, []string{"read the certificate for haproxy", missing}},
		{"haproxy garbage cert", HAProxy, garbage, []string{"haproxy exited", "its stderr", "[ALERT]", "haproxy.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			extNeed(t, tt.kind)
			_, _, keyFile := extChain(t)
			ctx, cancel := context.WithTimeout(context.Background(), extTestLimit)
			defer cancel()
			e, err := Start(ctx, Config{Kind: tt.kind, Backend: "127.0.0.1:1",
				CertFile: tt.certFile, KeyFile: keyFile})
			if err == nil {
				e.Stop()
				t.Fatalf("Start with certificate %s succeeded; want an error", tt.certFile)
			}
			t.Logf("error: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestExternalRejectsBadConfig(t *testing.T) {
	t.Parallel()
	ok := Config{Kind: Nginx, Backend: "127.0.0.1:9000", CertFile: "/c.pem", KeyFile: "/k.pem"}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"unknown kind", func(c *Config) { c.Kind = "caddy" }, `unknown proxy kind "caddy"`},
		{"bad listen", func(c *Config) { c.Listen = "8443" }, "listen address"},
		{"no backend", func(c *Config) { c.Backend = "" }, "backend address"},
		{"no key", func(c *Config) { c.KeyFile = "" }, "certificate file and a key file"},
		{"negative max", func(c *Config) { c.MaxConns = -1 }, "negative"},
		{"space in path", func(c *Config) { c.CertFile = "/a b.pem" }, "without spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ok
			tt.change(&c)
			e, err := Start(context.Background(), c)
			if err == nil {
				e.Stop()
				t.Fatal("Start succeeded; want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestLookPathMissing changes PATH, so it does not run in parallel.
func TestLookPathMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, k := range []Kind{Nginx, HAProxy} {
		_, err := LookPath(k)
		want := fmt.Sprintf("%s is not installed: apt-get install -y %s", k, k)
		if err == nil || err.Error() != want {
			t.Errorf("LookPath(%s) with an empty PATH: %v; want %q", k, err, want)
		}
	}
	if _, err := LookPath("caddy"); err == nil {
		t.Error("LookPath(caddy) succeeded; want an unknown kind error")
	}
}

func TestGenerateNginxConfig(t *testing.T) {
	t.Parallel()
	base := Config{Kind: Nginx, Listen: "127.0.0.1:8443", Backend: "127.0.0.1:9000",
		CertFile: "/certs/cert.pem", KeyFile: "/certs/key.pem"}
	tests := []struct {
		name           string
		maxConns       int
		noUpgrade      bool
		conns, noFile  int
		upgradeHeaders bool
	}{
		{"default", 0, false, 19936, 20000, true},
		{"small", 100, false, 264, 328, true},
		{"no upgrade headers", 100, true, 264, 328, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := base
			c.MaxConns, c.NoUpgradeHeaders = tt.maxConns, tt.noUpgrade
			got := GenerateNginxConfig(c, "/run/dir")
			want := []string{
				"worker_processes 1;",
				fmt.Sprintf("worker_rlimit_nofile %d;", tt.noFile),
				fmt.Sprintf("worker_connections %d;", tt.conns),
				"pid /run/dir/nginx.pid;",
				"lock_file /run/dir/nginx.lock;",
				"error_log stderr warn;",
				"client_body_temp_path /run/dir/tmp/body;",
				"proxy_temp_path /run/dir/tmp/proxy;",
				"fastcgi_temp_path /run/dir/tmp/fastcgi;",
				"uwsgi_temp_path /run/dir/tmp/uwsgi;",
				"scgi_temp_path /run/dir/tmp/scgi;",
				"server 127.0.0.1:9000;",
				"listen 127.0.0.1:8443 ssl backlog=4096;",
				"ssl_certificate /certs/cert.pem;",
				"ssl_certificate_key /certs/key.pem;",
				"ssl_protocols TLSv1.2 TLSv1.3;",
				"ssl_ecdh_curve X25519:prime256v1:secp384r1:secp521r1;",
				"ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;",
				"ssl_session_tickets on;",
				"proxy_http_version 1.1;",
			}
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("config lacks %q:\n%s", w, got)
				}
			}
			hasUpgrade := strings.Contains(got, "proxy_set_header Upgrade $http_upgrade;") &&
				strings.Contains(got, "proxy_set_header Connection $connection_upgrade;")
			if hasUpgrade != tt.upgradeHeaders {
				t.Errorf("Upgrade/Connection headers set: %v, want %v:\n%s", hasUpgrade, tt.upgradeHeaders, got)
			}
			if strings.Contains(got, "/var/") || strings.Contains(got, "access_log /") {
				t.Errorf("config points outside its folder:\n%s", got)
			}
		})
	}
}

func TestNginxLimits(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 100, 4000, 9000, 9900, 10000, 50000} {
		conns, noFile := extNginxLimits(n)
		if noFile > 20000 || conns >= noFile {
			t.Errorf("MaxConns %d: worker_connections %d, worker_rlimit_nofile %d; want connections < nofile <= 20000", n, conns, noFile)
		}
		if n > 0 && n <= 9900 && conns < 2*n {
			t.Errorf("MaxConns %d: worker_connections %d, want at least %d (client and upstream each)", n, conns, 2*n)
		}
	}
}

func TestGenerateHAProxyConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		maxConns int
		want     string
	}{
		{0, "maxconn 9000"},
		{100, "maxconn 100"},
		{9000, "maxconn 9000"},
		{10000, "maxconn 9000"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.maxConns), func(t *testing.T) {
			t.Parallel()
			got := GenerateHAProxyConfig(Config{Kind: HAProxy, Listen: "127.0.0.1:8443",
				Backend: "127.0.0.1:9000", MaxConns: tt.maxConns}, "/run/dir")
			for _, w := range []string{
				tt.want + "\n",
				"nbthread 1",
				"mode http",
				"timeout tunnel 3600s",
				"bind 127.0.0.1:8443 ssl crt /run/dir/haproxy.pem backlog 4096 ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3 ",
				" ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256 curves X25519:prime256v1:secp384r1:secp521r1 alpn http/1.1",
				"server b1 127.0.0.1:9000",
			} {
				if !strings.Contains(got, w) {
					t.Errorf("config lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestExternalConfigsCarryTLSSettings checks that asked versions, suites,
// groups, ALPN and mutual TLS reach both generated configs in OpenSSL's
// words, and that what OpenSSL 3.0 lacks is left out and reported.
func TestExternalConfigsCarryTLSSettings(t *testing.T) {
	t.Parallel()
	p, err := tlsconf.Settings{Min: "1.2", Max: "1.2",
		Ciphers: []string{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
		Groups:  []string{"P-384", "X25519MLKEM768"}, ALPN: []string{"http/1.1", "x-test"}}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	c := Config{Listen: "127.0.0.1:8443", Backend: "127.0.0.1:9000", CertFile: "/c.pem", KeyFile: "/k.pem",
		TLS: p, ClientCAFile: "/ca.pem"}
	nginx := GenerateNginxConfig(c, "/run/dir")
	for _, w := range []string{
		"ssl_protocols TLSv1.2;",
		"ssl_ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305;",
		"ssl_ecdh_curve secp384r1;",
		"ssl_client_certificate /ca.pem;",
		"ssl_verify_client on;",
	} {
		if !strings.Contains(nginx, w) {
			t.Errorf("nginx config lacks %q:\n%s", w, nginx)
		}
	}
	haproxy := GenerateHAProxyConfig(c, "/run/dir")
	for _, w := range []string{
		"ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.2",
		"ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305",
		"curves secp384r1 ",
		"alpn http/1.1,x-test",
		"ca-file /ca.pem verify required",
	} {
		if !strings.Contains(haproxy, w) {
			t.Errorf("haproxy config lacks %q:\n%s", w, haproxy)
		}
	}
	if strings.Contains(nginx+haproxy, "MLKEM") {
		t.Errorf("a group OpenSSL 3.0 lacks reached a config")
	}
	got := strings.Join(Unsupported(Nginx, p), "; ")
	if !strings.Contains(got, "X25519MLKEM768") || !strings.Contains(got, "ALPN") {
		t.Errorf("Unsupported(nginx) = %q, want the ML-KEM group and the ALPN named", got)
	}
	if got := strings.Join(Unsupported(HAProxy, p), "; "); strings.Contains(got, "ALPN") || !strings.Contains(got, "X25519MLKEM768") {
		t.Errorf("Unsupported(haproxy) = %q, want only the ML-KEM group", got)
	}
}

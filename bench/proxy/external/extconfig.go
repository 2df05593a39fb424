package external

import (
	"crypto/tls"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/wssbench/wssbench/bench/tlsconf"
)

// extNginxLimits returns worker_connections and worker_rlimit_nofile for
// maxConns client connections: each proxied connection uses two nginx
// connections (client and upstream) and two fds, plus a margin for listeners
// and logs, within the fd limit of 20000.
func extNginxLimits(maxConns int) (workerConns, noFile int) {
	if maxConns <= 0 {
		maxConns = extDefaultMaxConns
	}
	noFile = min(2*maxConns+128, extNoFileLimit)
	return noFile - 64, noFile
}

// extTLS is a profile in OpenSSL's words, for both proxies' configs.
type extTLS struct {
	versions    []string // TLSv1.2, TLSv1.3
	ciphers     string   // TLS 1.2 suites, OpenSSL names joined by ':'
	ciphersuite string   // TLS 1.3 suites joined by ':'
	curves      string   // groups joined by ':'
	alpn        []string
}

// extDefaultCurves are the groups the proxies offer when none are asked: Go's
// defaults without the ML-KEM hybrids, which OpenSSL 3.0 lacks.
const extDefaultCurves = "X25519:prime256v1:secp384r1:secp521r1"

// extDefaultCiphers are the TLS 1.2 suites crypto/tls offers by default with
// AEADs, in OpenSSL's names.
const extDefaultCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

// extDefaultSuites13 are all three TLS 1.3 suites, as crypto/tls accepts them.
const extDefaultSuites13 = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

// Unsupported returns the asked settings that OpenSSL 3.0 proxies cannot be
// configured with and that were left out of their configs.
func Unsupported(k Kind, p tlsconf.Profile) []string {
	var out []string
	for _, g := range p.Groups {
		if _, ok := tlsconf.OpenSSLGroup(g); !ok {
			out = append(out, fmt.Sprintf("group %s (OpenSSL 3.0 does not implement it)", tlsconf.GroupName(g)))
		}
	}
	if k == Nginx && slices.ContainsFunc(p.ALPN, func(a string) bool { return a != "http/1.1" }) {
		out = append(out, "ALPN other than http/1.1 (nginx without http2 selects only http/1.1)")
	}
	return out
}

func extTLSOf(p tlsconf.Profile) extTLS {
	var t extTLS
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		if (p.MinVersion == 0 || v >= p.MinVersion) && (p.MaxVersion == 0 || v <= p.MaxVersion) {
			t.versions = append(t.versions, "TLSv1."+string(rune('0'+v-tls.VersionTLS10)))
		}
	}
	t.ciphers = extDefaultCiphers
	if len(p.Suites12) > 0 {
		t.ciphers = strings.Join(tlsconf.OpenSSLCiphers(p.Suites12), ":")
	}
	t.ciphersuite = extDefaultSuites13
	if len(p.Suites13) > 0 {
		var names []string
		for _, id := range p.Suites13 {
			names = append(names, tls.CipherSuiteName(id))
		}
		t.ciphersuite = strings.Join(names, ":")
	}
	var curves []string
	for _, g := range p.Groups {
		if n, ok := tlsconf.OpenSSLGroup(g); ok {
			curves = append(curves, n)
		}
	}
	t.curves = extDefaultCurves
	if len(curves) > 0 {
		t.curves = strings.Join(curves, ":")
	}
	t.alpn = p.ALPN
	if len(t.alpn) == 0 {
		t.alpn = []string{"http/1.1"}
	}
	return t
}

// GenerateNginxConfig returns an nginx.conf that terminates TLS on c.Listen
// and proxies WebSocket connections to c.Backend, keeping its pid file, logs
// and temporary files inside dir. Run as root, it runs its worker as root too.
func GenerateNginxConfig(c Config, dir string) string {
	workerConns, noFile := extNginxLimits(c.MaxConns)
	t := extTLSOf(c.TLS)
	var b strings.Builder
	if os.Geteuid() == 0 {
		// Without it a root master runs its worker as nobody, which cannot
		// enter a 0700 temporary folder; as non-root nginx would warn.
		b.WriteString("user root;\n")
	}
	fmt.Fprintf(&b, `worker_processes 1;
worker_rlimit_nofile %d;
pid %s/nginx.pid;
lock_file %s/nginx.lock;
error_log stderr warn;
events { worker_connections %d; }
http {
    access_log off;
    client_body_temp_path %s/tmp/body;
    proxy_temp_path %s/tmp/proxy;
    fastcgi_temp_path %s/tmp/fastcgi;
    uwsgi_temp_path %s/tmp/uwsgi;
    scgi_temp_path %s/tmp/scgi;
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    upstream ws_backend { server %s; }
    server {
        listen %s ssl backlog=%d;
        ssl_certificate %s;
        ssl_certificate_key %s;
        ssl_protocols %s;
        ssl_ciphers %s;
        ssl_conf_command Ciphersuites %s;
        ssl_ecdh_curve %s;
        ssl_session_cache shared:SSL:10m;
        ssl_session_timeout 1h;
        ssl_session_tickets on;
`, noFile, dir, dir, workerConns, dir, dir, dir, dir, dir, c.Backend, c.Listen, extBacklog, c.CertFile, c.KeyFile,
		strings.Join(t.versions, " "), t.ciphers, t.ciphersuite, t.curves)
	if c.ClientCAFile != "" {
		fmt.Fprintf(&b, "        ssl_client_certificate %s;\n        ssl_verify_client on;\n        ssl_verify_depth %d;\n",
			c.ClientCAFile, tlsconf.MaxIntermediates+2)
	}
	b.WriteString(`        location / {
            proxy_pass http://ws_backend;
            proxy_http_version 1.1;
`)
	if !c.NoUpgradeHeaders {
		b.WriteString("            proxy_set_header Upgrade $http_upgrade;\n")
		b.WriteString("            proxy_set_header Connection $connection_upgrade;\n")
	}
	b.WriteString(`            proxy_set_header Host $host;
            proxy_connect_timeout 5s;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
        }
    }
}
`)
	return b.String()
}

// extBacklog is the listen backlog of both proxies: the kernel's somaxconn
// default, as Go's listeners use, so a connect storm meets the same queue.
const extBacklog = 4096

// GenerateHAProxyConfig returns a haproxy.cfg that terminates TLS on c.Listen
// with dir/haproxy.pem (the certificate chain followed by the key) and
// forwards to c.Backend in http mode, which detects WebSocket upgrades.
func GenerateHAProxyConfig(c Config, dir string) string {
	maxConns := c.MaxConns
	if maxConns <= 0 {
		maxConns = extDefaultMaxConns
	}
	maxConns = min(maxConns, extHAProxyMaxConns)
	t := extTLSOf(c.TLS)
	bind := fmt.Sprintf("bind %s ssl crt %s/haproxy.pem backlog %d ssl-min-ver %s ssl-max-ver %s ciphers %s ciphersuites %s curves %s alpn %s",
		c.Listen, dir, extBacklog, t.versions[0], t.versions[len(t.versions)-1], t.ciphers, t.ciphersuite, t.curves, strings.Join(t.alpn, ","))
	if c.ClientCAFile != "" {
		bind += fmt.Sprintf(" ca-file %s verify required", c.ClientCAFile)
	}
	return fmt.Sprintf(`global
    maxconn %d
    nbthread 1
    tune.ssl.cachesize 20000
    tune.ssl.lifetime 3600

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout tunnel 3600s
    timeout client-fin 5s

frontend wss_in
    %s
    default_backend ws_backend

backend ws_backend
    server b1 %s
`, maxConns, bind, c.Backend)
}

// Package external starts nginx or haproxy as a TLS-terminating proxy in
// front of a ws:// backend, from generated configs, and stops it by its PID.
package external

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wssbench/wssbench/bench/proc"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// Kind is an external TLS-terminating proxy program.
type Kind string

// The external proxies wssbench can start.
const (
	Nginx   Kind = "nginx"
	HAProxy Kind = "haproxy"
)

const (
	// extDefaultMaxConns is Config.MaxConns when it is not set.
	extDefaultMaxConns = 10000
	// extHAProxyMaxConns caps haproxy's maxconn: it needs 2 fds per proxied
	// connection, and the fd limit here (20000) cannot be raised.
	extHAProxyMaxConns = 9000
	// extNoFileLimit is the most open files a process may have here.
	extNoFileLimit = 20000
	// extReadyTimeout bounds the wait for the proxy to accept connections.
	extReadyTimeout = 10 * time.Second
	// extStopGrace is how long a graceful stop may take before the kill.
	extStopGrace = 5 * time.Second
)

// Config describes an external proxy to start.
type Config struct {
	// Kind is the program: Nginx or HAProxy.
	Kind Kind
	// Listen is the TLS address, such as 127.0.0.1:8443; port 0 (or an empty
	// Listen, meaning 127.0.0.1:0) picks a free port.
	Listen string
	// Backend is host:port of the plain ws:// backend.
	Backend string
	// CertFile and KeyFile are the PEM leaf certificate (chain) and its key.
	CertFile, KeyFile string
	// MaxConns is how many client connections to allow (default 10000;
	// haproxy's is capped at 9000, as it needs 2 fds per connection).
	MaxConns int
	// TLS are the server-side TLS settings: versions, TLS 1.2 and 1.3 suites,
	// groups and ALPN. Groups OpenSSL 3.0 lacks (the ML-KEM hybrids) are left
	// out of the config; Unsupported says which.
	TLS tlsconf.Profile
	// ClientCAFile, if set, makes the proxy require a client certificate
	// issued by one of its CAs (mutual TLS).
	ClientCAFile string
	// NoUpgradeHeaders (nginx only) leaves out the Upgrade and Connection
	// headers towards the backend: the classic misconfiguration, for tests.
	NoUpgradeHeaders bool
	// Dir is the folder for the generated config and the proxy's files; empty
	// makes a new temporary folder, removed by Stop.
	Dir string
}

// Proxy is a running proxy process.
type Proxy struct {
	kind    Kind
	addr    string
	dir     string
	tempDir bool
	child   *proc.Child
	once    sync.Once
}

// LookPath finds the program of a proxy kind, or says how to install it.
func LookPath(k Kind) (string, error) {
	if k != Nginx && k != HAProxy {
		return "", fmt.Errorf("unknown proxy kind %q (valid: %s, %s)", k, Nginx, HAProxy)
	}
	p, err := exec.LookPath(string(k))
	if err != nil {
		return "", fmt.Errorf("%s is not installed: apt-get install -y %s", k, k)
	}
	return p, nil
}

// Start writes the proxy's config, starts it as a child process and
// returns once it accepts TCP connections on its listen address. A proxy that
// exits or is not listening within 10 s is an error that quotes its stderr.
func Start(ctx context.Context, c Config) (*Proxy, error) {
	if err := extValidate(&c); err != nil {
		return nil, err
	}
	bin, err := LookPath(c.Kind)
	if err != nil {
		return nil, err
	}
	if c.Listen, err = extPickPort(c.Listen); err != nil {
		return nil, err
	}
	e := &Proxy{kind: c.Kind, addr: c.Listen, dir: c.Dir}
	if e.dir == "" {
		if e.dir, err = os.MkdirTemp("", "wssbench-"+string(c.Kind)+"-"); err != nil {
			return nil, fmt.Errorf("make a folder for the %s config: %w", c.Kind, err)
		}
		e.tempDir = true
	} else if e.dir, err = filepath.Abs(e.dir); err != nil {
		return nil, err
	}
	argv, err := extWriteConfig(bin, c, e.dir)
	if err == nil {
		e.child, _, err = proc.Start(ctx, proc.StartOptions{Name: string(c.Kind), Argv: argv})
	}
	if err == nil {
		err = e.waitListening(ctx)
	}
	if err != nil {
		e.Stop()
		if e.tempDir && e.child != nil {
			err = fmt.Errorf("%w\n(the generated config was in %s, now removed; set Config.Dir to keep it)", err, e.dir)
		}
		return nil, err
	}
	return e, nil
}

// URL returns the wss:// URL clients use.
func (e *Proxy) URL() string { return "wss://" + e.addr + "/" }

// Addr returns the address the proxy listens on, host:port.
func (e *Proxy) Addr() string { return e.addr }

// PID returns the process id of the proxy (nginx's master process).
func (e *Proxy) PID() int { return e.child.PID() }

// Stderr returns the proxy's last stderr output.
func (e *Proxy) Stderr() string { return e.child.Stderr() }

// Stop stops the proxy gracefully by its PID (nginx SIGQUIT, haproxy
// SIGUSR1), kills it if it is still running after 5 s, and removes a
// temporary Dir. It returns once the process has exited; it may be called
// more than once.
func (e *Proxy) Stop() {
	e.once.Do(func() {
		if e.child != nil {
			sig := syscall.SIGQUIT
			if e.kind == HAProxy {
				sig = syscall.SIGUSR1
			}
			e.child.StopWith(sig, extStopGrace)
		}
		if e.tempDir {
			// Best effort: a leftover temporary folder is harmless.
			_ = os.RemoveAll(e.dir)
		}
	})
}

// waitListening polls the listen address until it accepts a TCP connection.
func (e *Proxy) waitListening(ctx context.Context) error {
	deadline := time.Now().Add(extReadyTimeout)
	for {
		if e.child.Exited() {
			return fmt.Errorf("%s exited before it accepted connections on %s; its stderr:\n%s", e.kind, e.addr, extTrim(e.child.Stderr()))
		}
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		conn, err := d.DialContext(ctx, "tcp", e.addr)
		if err == nil {
			conn.Close()
			// A listener that is not the proxy's own (the port was taken
			// after extPickPort) shows as the proxy exiting on a bind error.
			if e.child.Exited() {
				continue
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("start %s: %w", e.kind, ctx.Err())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not accept connections on %s after %v; its stderr:\n%s", e.kind, e.addr, extReadyTimeout, extTrim(e.child.Stderr()))
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// extTrim drops the trailing newline of a program's output.
func extTrim(s string) string { return strings.TrimRight(s, "\n") }

func extValidate(c *Config) error {
	if c.Kind != Nginx && c.Kind != HAProxy {
		return fmt.Errorf("unknown proxy kind %q (valid: %s, %s)", c.Kind, Nginx, HAProxy)
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("proxy listen address %q: %w (want host:port, such as 127.0.0.1:8443)", c.Listen, err)
	}
	if _, _, err := net.SplitHostPort(c.Backend); err != nil {
		return fmt.Errorf("proxy backend address %q: %w (want host:port of the ws:// backend)", c.Backend, err)
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return errors.New("the proxy needs a certificate file and a key file")
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("proxy MaxConns %d is negative", c.MaxConns)
	}
	if c.MaxConns == 0 {
		c.MaxConns = extDefaultMaxConns
	}
	for _, s := range []string{c.Listen, c.Backend, c.CertFile, c.KeyFile, c.Dir} {
		if strings.ContainsAny(s, " \t\r\n\"'`;{}#$\\") {
			return fmt.Errorf("%q cannot go into a %s config: use a path or address without spaces, quotes or any of ;{}#$\\", s, c.Kind)
		}
	}
	for _, p := range []*string{&c.CertFile, &c.KeyFile} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return nil
}

// extPickPort replaces port 0 in addr with a port that is free now.
func extPickPort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port != "0" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer ln.Close()
	_, port, err = net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, port), nil
}

// extWriteConfig writes the config (and, for haproxy, the combined PEM) into
// dir and returns the command line that runs the proxy in the foreground.
func extWriteConfig(bin string, c Config, dir string) ([]string, error) {
	switch c.Kind {
	case Nginx:
		if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
			return nil, err
		}
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, []byte(GenerateNginxConfig(c, dir)), 0o644); err != nil {
			return nil, err
		}
		return []string{bin, "-p", dir + "/", "-c", conf, "-e", "stderr", "-g", "daemon off;"}, nil
	default:
		cert, err := os.ReadFile(c.CertFile)
		if err != nil {
			return nil, fmt.Errorf("read the certificate for haproxy: %w", err)
		}
		key, err := os.ReadFile(c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("read the key for haproxy: %w", err)
		}
		pem := append(extEndLine(cert), extEndLine(key)...)
		if err := os.WriteFile(filepath.Join(dir, "haproxy.pem"), pem, 0o600); err != nil {
			return nil, err
		}
		conf := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(conf, []byte(GenerateHAProxyConfig(c, dir)), 0o644); err != nil {
			return nil, err
		}
		return []string{bin, "-db", "-f", conf}, nil
	}
}

// extEndLine returns b ending with a newline, so PEM files concatenate cleanly.
func extEndLine(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return append(b, '\n')
	}
	return b
}

package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wssbench/wssbench/bench/proc"
	"github.com/wssbench/wssbench/bench/proxy/builtin"
	"github.com/wssbench/wssbench/bench/proxy/external"
	"github.com/wssbench/wssbench/bench/target"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// Topologies: who terminates TLS in front of the built-in echo target.
const (
	TopologyDirect  = "direct"  // the target terminates TLS itself
	TopologyBuiltin = "builtin" // wssbench's own proxy terminates TLS, forwards ws:// to the target
	TopologyNginx   = "nginx"   // nginx terminates TLS
	TopologyHAProxy = "haproxy" // haproxy terminates TLS
)

// Topologies lists the valid topology names.
func Topologies() []string {
	return []string{TopologyDirect, TopologyBuiltin, TopologyNginx, TopologyHAProxy}
}

// builtinProxyWorkers is the cores the built-in proxy may use at once: one,
// as the generated nginx (worker_processes 1) and haproxy (nbthread 1)
// configs get, so the topologies are compared on equal terms.
const builtinProxyWorkers = 1

// ReadyPrefix starts the line `wssbench serve` prints on stdout once it accepts
// connections; the URL follows it.
const ReadyPrefix = "wssbench serve: listening on "

// ProxyReadyPrefix is ReadyPrefix for `wssbench proxy`.
const ProxyReadyPrefix = "wssbench proxy: listening on "

// environment is what one run starts: the built-in echo target, and a proxy
// in front of it for the proxied topologies. Children are stopped by their
// own PID; in-process servers by their context.
type environment struct {
	url       string
	chain     *tlsconf.Chain
	dir       string
	target    *proc.Child
	proxy     *proc.Child
	external  *external.Proxy
	serveCtx  context.Context
	cancel    context.CancelFunc
	done      []chan error
	inProcess bool
	// warnings are settings a server could not be configured with.
	warnings []string
	// server are the TLS settings of every server; clientCA the file of the
	// CA that issues client certificates when mutual TLS is asked.
	server   tlsconf.Profile
	clientCA string
}

// startEnvironment starts the target (and proxy) for one topology on loopback
// with a fresh certificate chain.
func startEnvironment(ctx context.Context, cfg *Config, opt Options, topology string) (_ *environment, err error) {
	mtls := cfg.ClientCert == ClientCertAuto
	chain, err := tlsconf.NewChain(tlsconf.CertOptions{KeyType: tlsconf.KeyType(cfg.CertKey), Intermediates: cfg.ChainLength, ClientCert: mtls})
	if err != nil {
		return nil, err
	}
	env := &environment{chain: chain}
	if env.server, err = cfg.TLSProfile(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			env.stop()
		}
	}()
	if env.dir, err = os.MkdirTemp("", "wssbench-run-"); err != nil {
		return nil, err
	}
	certFile, keyFile, caFile, err := chain.WriteFiles(env.dir)
	if err != nil {
		return nil, err
	}
	if mtls {
		env.clientCA = caFile
	}
	plain := topology != TopologyDirect
	if err := env.startTarget(ctx, opt.TargetArgv, plain, certFile, keyFile); err != nil {
		return nil, err
	}
	if !plain {
		return env, nil
	}
	backend, err := url.Parse(env.url)
	if err != nil {
		return nil, err
	}
	switch topology {
	case TopologyBuiltin:
		err = env.startBuiltinProxy(ctx, opt.ProxyArgv, backend.Host, certFile, keyFile, time.Duration(cfg.ProxyDelay))
	case TopologyNginx, TopologyHAProxy:
		env.external, err = external.Start(ctx, external.Config{
			Kind: external.Kind(topology), Listen: "127.0.0.1:0", Backend: backend.Host,
			CertFile: certFile, KeyFile: keyFile, MaxConns: cfg.Conns + 100,
			TLS: env.server, ClientCAFile: env.clientCA,
		})
		for _, u := range external.Unsupported(external.Kind(topology), env.server) {
			env.warnings = append(env.warnings, fmt.Sprintf("%s was not configured with %s; expect handshakes that need it to fail", topology, u))
		}
		if err == nil {
			env.url = env.external.URL()
		}
	default:
		err = inputErr("topology %q is not one of %s", topology, strings.Join(Topologies(), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("topology %s: %w", topology, err)
	}
	return env, nil
}

func (e *environment) startTarget(ctx context.Context, argv []string, plain bool, certFile, keyFile string) error {
	if len(argv) == 0 {
		tc := e.serverTLS()
		if plain {
			tc = nil
		}
		srv, err := target.Listen(target.Config{Listen: "127.0.0.1:0", TLS: tc})
		if err != nil {
			return err
		}
		e.url, e.inProcess = srv.URL(), true
		e.serveInProcess(ctx, srv.Serve)
		return nil
	}
	full := append(append([]string{}, argv...), "--listen", "127.0.0.1:0")
	if plain {
		full = append(full, "--plain")
	} else {
		full = append(full, "--cert", certFile, "--key", keyFile)
		full = append(full, e.serverTLSArgs()...)
	}
	var err error
	e.target, e.url, err = proc.Start(ctx, proc.StartOptions{Name: "built-in target", Argv: full, ReadyPrefix: ReadyPrefix})
	if err != nil {
		return fmt.Errorf("start the built-in target: %w", err)
	}
	return nil
}

func (e *environment) startBuiltinProxy(ctx context.Context, argv []string, backend, certFile, keyFile string, delay time.Duration) error {
	if len(argv) == 0 {
		srv, err := builtin.Listen(builtin.Config{Listen: "127.0.0.1:0", Backend: backend, TLS: e.serverTLS(), Delay: delay})
		if err != nil {
			return err
		}
		e.url = srv.URL()
		e.serveInProcess(ctx, srv.Serve)
		return nil
	}
	full := append(append([]string{}, argv...), "--listen", "127.0.0.1:0", "--backend", "ws://"+backend+"/",
		"--cert", certFile, "--key", keyFile, "--delay", delay.String(), "--workers", strconv.Itoa(builtinProxyWorkers))
	full = append(full, e.serverTLSArgs()...)
	var err error
	e.proxy, e.url, err = proc.Start(ctx, proc.StartOptions{Name: "built-in proxy", Argv: full, ReadyPrefix: ProxyReadyPrefix})
	if err != nil {
		return fmt.Errorf("start the built-in proxy: %w", err)
	}
	return nil
}

// serverTLS is the config of an in-process Go server.
func (e *environment) serverTLS() *tls.Config {
	tc := &tls.Config{Certificates: []tls.Certificate{e.chain.Leaf}}
	e.server.ApplyServer(tc)
	if e.clientCA != "" {
		tc.ClientCAs, tc.ClientAuth = e.chain.Pool(), tls.RequireAndVerifyClientCert
	}
	return tc
}

// serverTLSArgs are the server TLS flags of wssbench serve and proxy.
func (e *environment) serverTLSArgs() []string {
	n := e.server.Names()
	var args []string
	add := func(flag, v string) {
		if v != "" {
			args = append(args, flag, v)
		}
	}
	add("--tls-min", n.Min)
	add("--tls-max", n.Max)
	var suites12 []string
	for _, c := range n.Ciphers {
		// TLS 1.3 suites cannot be set on a Go server (Profile.Check says when that matters).
		if !strings.HasPrefix(c, "TLS_AES_") && !strings.HasPrefix(c, "TLS_CHACHA20_") {
			suites12 = append(suites12, c)
		}
	}
	add("--ciphers", strings.Join(suites12, ","))
	add("--groups", strings.Join(n.Groups, ","))
	add("--alpn", strings.Join(n.ALPN, ","))
	add("--client-ca", e.clientCA)
	return args
}

// serveInProcess runs an in-process server until stop; the run's ctx does not
// end it, so the driver can still close its connections after a Ctrl-C.
func (e *environment) serveInProcess(ctx context.Context, serve func(context.Context) error) {
	if e.serveCtx == nil {
		e.serveCtx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	}
	done := make(chan error, 1)
	e.done = append(e.done, done)
	go func() { done <- serve(e.serveCtx) }()
}

// targetPID and proxyPID are 0 for servers that are not child processes.
func (e *environment) targetPID() int {
	if e.target == nil {
		return 0
	}
	return e.target.PID()
}

func (e *environment) proxyPID() int {
	switch {
	case e.proxy != nil:
		return e.proxy.PID()
	case e.external != nil:
		return e.external.PID()
	}
	return 0
}

// stop ends everything the environment started, proxy first, and removes its files.
func (e *environment) stop() {
	if e.external != nil {
		e.external.Stop()
	}
	if e.proxy != nil {
		e.proxy.Stop(5 * time.Second)
	}
	if e.target != nil {
		e.target.Stop(5 * time.Second)
	}
	if e.cancel != nil {
		e.cancel()
		for _, d := range e.done {
			<-d
		}
	}
	if e.dir != "" {
		// Best effort: a leftover temp folder is harmless.
		_ = os.RemoveAll(e.dir)
	}
}

// Package env is what a run starts: the built-in echo target (a child process
// or inside this process), the built-in proxy, nginx or haproxy in front of
// it, the certificates they serve in a temporary folder, and the argv and
// stdout protocol between the run and its children. Every child is watched:
// one that exits before Stop is a Failure. Every child dies with the run, even
// a run killed with SIGKILL (see package proc), and the next Start removes the
// folders such a run left.
package env

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wssbench/wssbench/bench/proc"
	"github.com/wssbench/wssbench/bench/proxy/builtin"
	"github.com/wssbench/wssbench/bench/proxy/external"
	"github.com/wssbench/wssbench/bench/target"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// stopGrace is how long a child may take to exit after SIGTERM before it is killed.
const stopGrace = 5 * time.Second

// Spec is what to start for one run.
type Spec struct {
	// Topology is who terminates TLS; empty means Direct.
	Topology Topology
	// TargetArgv starts the built-in target as a child process (the wssbench
	// binary and "serve"); TargetArgs are added. Empty runs it in this process.
	TargetArgv []string
	// ProxyArgv starts the Builtin topology's proxy as a child process (the
	// wssbench binary and "proxy"); ProxyArgs are added. Empty runs it in this process.
	ProxyArgv []string
	// CertKey is the key type of the servers' fresh certificate.
	CertKey tlsconf.KeyType
	// ChainLength is how many intermediate CAs sit between the root and the leaf.
	ChainLength int
	// MutualTLS makes every server require a client certificate from the
	// chain's client CA (Chain issues one).
	MutualTLS bool
	// ServerTLS are the TLS settings of every server.
	ServerTLS tlsconf.Profile
	// ProxyDelay is the one-way delay the built-in proxy adds in each direction.
	ProxyDelay time.Duration
	// MaxConns is how many client connections nginx and haproxy allow (0:
	// their default, see external.Config).
	MaxConns int
	// IdleTimeout is how long the target lets a connection send nothing
	// before it closes it (0: the target's default, 2 minutes). A run sets
	// it beyond its own length: a connection held idle through a long ramp
	// must not be closed by the target.
	IdleTimeout time.Duration
	// Targets is how many target processes to start (0 or 1: one). Several
	// listen on one port with SO_REUSEPORT, so their open files add up
	// (each process may hold about 20,000 here); they need TargetArgv.
	Targets int
	// Rooms makes the target a chat server of rooms of this size (see
	// target.Config.Rooms); 0 echoes.
	Rooms int
	// PushRate makes the target push stamped frames to every connection at
	// this rate, frames/s per connection (see target.Config.PushRate).
	PushRate float64
	// Capacity caps the frames per second the target echoes over all its
	// connections (see target.Config.Capacity), split evenly over its
	// processes; 0 is no cap.
	Capacity float64
}

// Env is a started environment: its URL, the chain its servers present, the
// PIDs of its child processes, and whether all of them are still alive.
type Env struct {
	url    string
	chain  *tlsconf.Chain
	dir    string
	files  Files
	server tlsconf.Profile
	target *proc.Child
	// targets are every target process; target is the first.
	targets  []*proc.Child
	proxy    *proc.Child
	external *external.Proxy
	// master is external's process (nginx's master), watched like the others.
	master   *proc.Child
	serveCtx context.Context
	cancel   context.CancelFunc
	served   []chan error
	inProc   bool
	idle     time.Duration
	warnings []string

	// What the target was started with, to start it again (RestartTarget).
	targetArgv []string
	plain      bool
	nTargets   int
	rooms      int
	pushRate   float64
	capacity   float64
	// abortCounts receive each target process's counts line after
	// AbortSignal (index as targets).
	abortCounts []chan TargetCounts
	// targetAddr is where the target listens (host:port), behind a proxy too.
	targetAddr string
	// inProcSrv is the in-process target; inProcServed its entry in served.
	inProcSrv    *target.Server
	inProcServed int
	// restarting makes an in-process target's Serve returning no failure.
	restarting atomic.Bool
	// restartMu keeps a restart and the stop apart.
	restartMu sync.Mutex
	// earlier is what the target's earlier lives counted; lost is set when
	// one of them gave no counts.
	earlier TargetCounts
	lost    bool

	// inProcCounts returns the counts of an in-process target, exact once
	// its Serve has returned.
	inProcCounts func() TargetCounts

	mu       sync.Mutex
	failure  error
	failed   chan struct{}
	stopping chan struct{}
	stopOnce sync.Once
	counts   TargetCounts
	counted  bool
	stopErr  error
}

// Start starts the target, and the proxy of the topology in front of it, on
// loopback with a fresh certificate chain. It first removes the temporary
// folders of earlier runs whose process has died. A failed Start leaves
// nothing running.
func Start(ctx context.Context, s Spec) (_ *Env, err error) {
	if s.Topology == "" {
		s.Topology = Direct
	}
	if !s.Topology.Valid() {
		return nil, fmt.Errorf("topology %q is not one of %s", s.Topology, topologyList())
	}
	removeStale(os.TempDir())
	chain, err := tlsconf.NewChain(tlsconf.CertOptions{KeyType: s.CertKey, Intermediates: s.ChainLength, ClientCert: s.MutualTLS})
	if err != nil {
		return nil, err
	}
	e := &Env{chain: chain, server: s.ServerTLS, failed: make(chan struct{}), stopping: make(chan struct{})}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()
	if e.dir, err = MakeRunDir(); err != nil {
		return nil, err
	}
	var caFile string
	if e.files.CertFile, e.files.KeyFile, caFile, err = chain.WriteFiles(e.dir); err != nil {
		return nil, err
	}
	if s.MutualTLS {
		e.files.ClientCAFile = caFile
	}
	plain := s.Topology.Proxied()
	if s.Targets > 1 && len(s.TargetArgv) == 0 {
		return nil, fmt.Errorf("%d target processes need TargetArgv: an in-process target is one", s.Targets)
	}
	e.idle = s.IdleTimeout
	e.targetArgv, e.plain, e.nTargets, e.rooms, e.pushRate = s.TargetArgv, plain, max(1, s.Targets), s.Rooms, s.PushRate
	e.capacity = s.Capacity
	if err := e.startTarget(ctx); err != nil {
		return nil, err
	}
	if !plain {
		return e, nil
	}
	backend, err := url.Parse(e.url)
	if err != nil {
		return nil, err
	}
	if kind := s.Topology.ExternalProxy(); kind != "" {
		err = e.startExternal(ctx, kind, backend.Host, s.MaxConns)
	} else {
		err = e.startBuiltinProxy(ctx, s.ProxyArgv, backend.Host, s.ProxyDelay)
	}
	if err != nil {
		return nil, fmt.Errorf("topology %s: %w", s.Topology, err)
	}
	return e, nil
}

func topologyList() string {
	var names []string
	for _, t := range Topologies() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

func (e *Env) startBuiltinProxy(ctx context.Context, argv []string, backend string, delay time.Duration) error {
	if len(argv) == 0 {
		srv, err := builtin.Listen(builtin.Config{Listen: listenAddr, Backend: backend, TLS: e.serverTLS(), Delay: delay})
		if err != nil {
			return err
		}
		e.url = srv.URL()
		e.serveInProcess(ctx, "built-in proxy", srv.Serve, nil)
		return nil
	}
	full := append(append([]string{}, argv...), ProxyArgs(backend, delay, e.files, e.server)...)
	var err error
	e.proxy, e.url, err = proc.Start(ctx, proc.StartOptions{Name: "built-in proxy", Argv: full, ReadyPrefix: ProxyReadyPrefix})
	if err != nil {
		return fmt.Errorf("start the built-in proxy: %w", err)
	}
	e.watch(e.proxy)
	return nil
}

func (e *Env) startExternal(ctx context.Context, kind external.Kind, backend string, maxConns int) error {
	// In the run's folder, so a stale one is removed with it.
	dir := filepath.Join(e.dir, string(kind))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	var err error
	e.external, err = external.Start(ctx, external.Config{
		Kind: kind, Listen: listenAddr, Backend: backend,
		CertFile: e.files.CertFile, KeyFile: e.files.KeyFile, MaxConns: maxConns,
		TLS: e.server, ClientCAFile: e.files.ClientCAFile,
		Dir: dir,
	})
	if err != nil {
		return err
	}
	for _, u := range external.Unsupported(kind, e.server) {
		e.warnings = append(e.warnings, fmt.Sprintf("%s was not configured with %s; expect handshakes that need it to fail", kind, u))
	}
	e.url = e.external.URL()
	// The master is a proc.Child that package proxy started; watch it by its PID.
	if e.master = proc.Lookup(e.external.PID()); e.master == nil {
		return fmt.Errorf("%s (pid %d) exited as it started", kind, e.external.PID())
	}
	e.watch(e.master)
	return nil
}

// serverTLS is the config of an in-process Go server.
func (e *Env) serverTLS() *tls.Config {
	tc := &tls.Config{Certificates: []tls.Certificate{e.chain.Leaf}}
	e.server.ApplyServer(tc)
	if e.files.ClientCAFile != "" {
		tc.ClientCAs, tc.ClientAuth = e.chain.Pool(), tls.RequireAndVerifyClientCert
	}
	return tc
}

// serveInProcess runs an in-process server until Stop; the run's ctx does not
// end it, so the driver can still close its connections after a Ctrl-C. A
// server that returns before Stop is a Failure, unless expected is set then.
// It adds the channel that receives Serve's error to served, and returns it.
func (e *Env) serveInProcess(ctx context.Context, name string, serve func(context.Context) error, expected *atomic.Bool) chan error {
	if e.serveCtx == nil {
		e.serveCtx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	}
	done := make(chan error, 1)
	e.served = append(e.served, done)
	go func() {
		err := serve(e.serveCtx)
		if e.serveCtx.Err() == nil && (expected == nil || !expected.Load()) {
			e.fail(fmt.Errorf("the in-process %s stopped during the run: %v", name, err))
		}
		done <- err
	}()
	return done
}

// watch makes a child's exit before Stop a Failure, as soon as it happens.
func (e *Env) watch(c *proc.Child) {
	go func() {
		select {
		case <-c.Done():
			if err := c.Unexpected(); err != nil {
				e.fail(err)
			}
		case <-e.stopping:
		}
	}()
}

// fail records the first failure and closes Failed.
func (e *Env) fail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failure == nil {
		e.failure = err
		close(e.failed)
	}
}

// URL is where the driver connects: the proxy's wss:// URL, or the target's.
func (e *Env) URL() string { return e.url }

// Chain is the certificate chain every server presents (and the client
// certificate for mutual TLS).
func (e *Env) Chain() *tlsconf.Chain { return e.chain }

// TargetPID is the target's process id; 0 for an in-process target. It
// changes with RestartTarget.
func (e *Env) TargetPID() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.target == nil {
		return 0
	}
	return e.target.PID()
}

// TargetPIDs are the process ids of every target process (none in process).
// They change with RestartTarget.
func (e *Env) TargetPIDs() []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []int
	for _, c := range e.targets {
		out = append(out, c.PID())
	}
	return out
}

// ProxyPID is the proxy's process id (nginx's master); 0 for no proxy or an
// in-process one.
func (e *Env) ProxyPID() int {
	switch {
	case e.proxy != nil:
		return e.proxy.PID()
	case e.external != nil:
		return e.external.PID()
	}
	return 0
}

// InProcess reports whether the target runs inside this process.
func (e *Env) InProcess() bool { return e.inProc }

// Warnings are settings a server could not be configured with.
func (e *Env) Warnings() []string { return e.warnings }

// Failed is closed when a child process (or an in-process server) ends
// before Stop; Failure then says which and how.
func (e *Env) Failed() <-chan struct{} { return e.failed }

// Failure is nil while every child has lived; after one exited before Stop,
// it is an error naming it, its PID and how it ended, such as
// "nginx (pid 1234) exited during the run: signal: killed". A run with a
// Failure measured a broken environment.
func (e *Env) Failure() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failure
}

// Stop ends everything the environment started, proxy first, and removes its
// files. It may be called more than once.
func (e *Env) Stop() { _, _, _ = e.StopAndCount() }

// StopAndCount is Stop that also returns the target's counts: a child target
// gets SIGTERM and prints them as it exits (CountsPrefix); an in-process one
// reports its own. The bool is false when no
// counts came. The error is the Failure, if any, else what went wrong in the
// stop (a child that had to be killed, or exited with an error).
func (e *Env) StopAndCount() (TargetCounts, bool, error) {
	e.stopOnce.Do(func() {
		e.restartMu.Lock()
		defer e.restartMu.Unlock()
		close(e.stopping)
		var errs []error
		if e.external != nil {
			e.external.Stop()
		}
		if e.master != nil {
			errs = append(errs, e.noteExit(e.master, e.master.Stop(stopGrace)))
		}
		if e.proxy != nil {
			errs = append(errs, e.noteExit(e.proxy, e.proxy.Stop(stopGrace)))
		}
		if len(e.targets) > 0 {
			e.counted = true
		}
		for _, t := range e.targets {
			errs = append(errs, e.noteExit(t, t.Stop(stopGrace)))
			c, ok := ParseCounts(t.Stdout())
			e.counts.add(c)
			e.counted = e.counted && ok
		}
		if e.cancel != nil {
			e.cancel()
			for _, d := range e.served {
				<-d
			}
			if e.inProcCounts != nil {
				e.counts, e.counted = e.inProcCounts(), true
			}
		}
		e.counts.add(e.earlier)
		e.counted = e.counted && !e.lost
		if e.dir != "" {
			// Best effort: a leftover folder is removed by the next Start.
			_ = os.RemoveAll(e.dir)
		}
		if e.stopErr = e.Failure(); e.stopErr == nil {
			e.stopErr = errors.Join(errs...)
		}
	})
	return e.counts, e.counted, e.stopErr
}

// noteExit records a child's exit before Stop as the Failure (the watcher may
// not have yet) and returns the stop's error otherwise.
func (e *Env) noteExit(c *proc.Child, stopErr error) error {
	if err := c.Unexpected(); err != nil {
		e.fail(err)
		return nil
	}
	return stopErr
}

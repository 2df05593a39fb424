package env

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"strconv"

	"github.com/wssbench/wssbench/bench/proc"
	"github.com/wssbench/wssbench/bench/target"
)

// startTarget starts the built-in target: in this process, or as
// nTargets child processes.
func (e *Env) startTarget(ctx context.Context) error {
	if len(e.targetArgv) == 0 {
		return e.startInProcessTarget(ctx, listenAddr)
	}
	return e.startTargetProcesses(ctx, listenAddr)
}

// startInProcessTarget serves the target in this process on addr.
func (e *Env) startInProcessTarget(ctx context.Context, addr string) error {
	var tc *tls.Config
	if !e.plain {
		tc = e.serverTLS()
	}
	srv, err := target.Listen(target.Config{Listen: addr, TLS: tc, IdleTimeout: e.idle, Rooms: e.rooms, PushRate: e.pushRate, Capacity: e.capacity})
	if err != nil {
		return err
	}
	again := e.inProcSrv != nil
	if !again {
		e.url, e.targetAddr = srv.URL(), srv.Addr().String()
	}
	e.inProc, e.inProcSrv = true, srv
	e.inProcCounts = func() TargetCounts { return TargetCounts(srv.Counts()) }
	done := e.serveInProcess(ctx, "built-in target", srv.Serve, &e.restarting)
	if !again {
		e.inProcServed = len(e.served) - 1
		return nil
	}
	// A restart: the new life takes the old one's place in served.
	e.served = e.served[:len(e.served)-1]
	e.served[e.inProcServed] = done
	return nil
}

// startTargetProcesses starts nTargets target processes, the first on addr
// and the others on the port it got.
func (e *Env) startTargetProcesses(ctx context.Context, addr string) error {
	n := e.nTargets
	reuse := n > 1
	var started []*proc.Child
	var counts []chan TargetCounts
	var firstURL string
	for i := range n {
		name := "built-in target"
		if n > 1 {
			name = fmt.Sprintf("built-in target %d of %d", i+1, n)
		}
		full := append(append([]string{}, e.targetArgv...), targetArgs(addr, reuse, e.plain, e.files, e.server)...)
		if e.idle > 0 {
			full = append(full, "--idle-timeout", e.idle.String())
		}
		full = append(full, TargetWorkloadArgs(e.rooms, e.pushRate)...)
		if e.capacity > 0 {
			// Each process of several on one port takes its share of the cap.
			full = append(full, "--capacity", strconv.FormatFloat(e.capacity/float64(n), 'g', -1, 64))
		}
		aborted := make(chan TargetCounts, 1)
		onLine := func(line string) {
			if c, ok := ParseCounts(line); ok {
				select {
				case aborted <- c:
				default:
				}
			}
		}
		c, u, err := proc.Start(ctx, proc.StartOptions{Name: name, Argv: full, ReadyPrefix: ReadyPrefix, OnLine: onLine})
		if err != nil {
			e.adoptTargets(started, counts, firstURL)
			return fmt.Errorf("start the %s: %w", name, err)
		}
		started, counts = append(started, c), append(counts, aborted)
		e.watch(c)
		if i == 0 {
			firstURL = u
			// The others join the first one's port.
			pu, err := url.Parse(u)
			if err != nil {
				e.adoptTargets(started, counts, firstURL)
				return fmt.Errorf("the built-in target gave a bad URL %q: %w", u, err)
			}
			if e.targetAddr != "" && pu.Host != e.targetAddr {
				e.adoptTargets(started, counts, firstURL)
				return fmt.Errorf("the built-in target came back on %s, not %s", pu.Host, e.targetAddr)
			}
			addr, e.targetAddr = pu.Host, pu.Host
		}
	}
	e.adoptTargets(started, counts, firstURL)
	return nil
}

// adoptTargets makes these the target processes (for Stop, and the PIDs).
func (e *Env) adoptTargets(started []*proc.Child, counts []chan TargetCounts, u string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.targets, e.abortCounts = started, counts
	if len(started) > 0 {
		e.target = started[0]
		if e.url == "" {
			e.url = u
		}
	}
}

package bench

import (
	"time"

	"github.com/wssbench/wssbench/bench/env"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// Topologies: who terminates TLS in front of the built-in echo target (the
// names of env's topologies).
const (
	TopologyDirect  = string(env.Direct)  // the target terminates TLS itself
	TopologyBuiltin = string(env.Builtin) // wssbench's own proxy terminates TLS, forwards ws:// to the target
	TopologyNginx   = string(env.Nginx)   // nginx terminates TLS
	TopologyHAProxy = string(env.HAProxy) // haproxy terminates TLS
)

// Topologies lists the valid topology names.
func Topologies() []string {
	var out []string
	for _, t := range env.Topologies() {
		out = append(out, string(t))
	}
	return out
}

// ReadyPrefix starts the line `wssbench serve` prints on stdout once it accepts
// connections; the URL follows it.
const ReadyPrefix = env.ReadyPrefix

// ProxyReadyPrefix is ReadyPrefix for `wssbench proxy`.
const ProxyReadyPrefix = env.ProxyReadyPrefix

// TargetAbortSignal makes `wssbench serve` end as a crash would, for a
// restart of the target (see env.AbortSignal).
const TargetAbortSignal = env.AbortSignal

// envSpec is what the cell's run starts: the built-in target and the proxy
// of its topology, with the cell's resolved server TLS settings.
func (cell *Cell) envSpec(opt Options, lay Layout) env.Spec {
	c := &cell.Config
	return env.Spec{
		Topology:    env.Topology(cell.Topology),
		TargetArgv:  opt.TargetArgv,
		ProxyArgv:   opt.ProxyArgv,
		CertKey:     tlsconf.KeyType(c.CertKey),
		ChainLength: c.ChainLength,
		MutualTLS:   c.ClientCert == ClientCertAuto,
		ServerTLS:   cell.TLS,
		ProxyDelay:  time.Duration(c.ProxyDelay),
		MaxConns:    lay.Conns + 100,
		Targets:     lay.Targets,
		IdleTimeout: cell.runLength(lay) + 2*time.Minute,
		Rooms:       c.Rooms,
		PushRate:    c.PushRate,
		Capacity:    c.Capacity,
	}
}

// runLength bounds how long a run of the cell may take: its ramp (10
// minutes when it connects as fast as it can), its window, and its timeouts.
func (cell *Cell) runLength(lay Layout) time.Duration {
	c := &cell.Config
	ramp := 10 * time.Minute
	if c.ConnectRate > 0 {
		ramp = time.Duration(float64(lay.Conns) / c.ConnectRate * float64(time.Second))
	}
	return ramp + time.Duration(c.Duration) + time.Duration(c.ConnectTimeout) + time.Duration(c.FrameTimeout)
}

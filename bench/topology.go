package bench

import (
	"context"
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

// startEnv starts the environment of one run of cfg in one topology.
func startEnv(ctx context.Context, cfg *Config, opt Options, topology string) (*env.Env, error) {
	server, err := cfg.TLSProfile()
	if err != nil {
		return nil, err
	}
	return env.Start(ctx, env.Spec{
		Topology:    env.Topology(topology),
		TargetArgv:  opt.TargetArgv,
		ProxyArgv:   opt.ProxyArgv,
		CertKey:     tlsconf.KeyType(cfg.CertKey),
		ChainLength: cfg.ChainLength,
		MutualTLS:   cfg.ClientCert == ClientCertAuto,
		ServerTLS:   server,
		ProxyDelay:  time.Duration(cfg.ProxyDelay),
		MaxConns:    cfg.Conns + 100,
	})
}

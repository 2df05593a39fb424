package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/proxy/builtin"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

func cmdProxy(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("proxy", pflag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9443", "address to listen on (port 0 picks a free port)")
	backend := fs.String("backend", "", "the ws:// backend, such as ws://127.0.0.1:8080/ (required)")
	certFile := fs.String("cert", "", "PEM certificate (chain) file; without it a fresh self-signed chain is made")
	keyFile := fs.String("key", "", "PEM private key file for --cert")
	certKey := fs.String("cert-key", string(tlsconf.KeyECDSAP256), "key type of a generated certificate")
	delay := fs.Duration("delay", 0, "one-way delay added in each direction, to emulate a network round trip on loopback")
	tlsFlags := addServerTLSFlags(fs)
	mflags := addMetricsFlags(fs, false)
	relay := fs.String("relay", "", "how established connections are relayed: eventloop or goroutines (default: eventloop, with or without --delay)")
	workers := fs.Int("workers", 0, "cores the proxy may use at once (GOMAXPROCS); 0 = all. wssbench run passes 1, as nginx and haproxy get one worker")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `wssbench proxy: the built-in TLS-terminating proxy

It terminates TLS, forwards the upgrade and then the bytes both ways to a ws://
backend, and can add a fixed one-way delay in each direction (the kernel here
has no netem). It prints its URL and runs until SIGINT or SIGTERM.

Usage:
  wssbench proxy --backend ws://HOST:PORT/ [--listen ADDR] [--cert F --key F] [--delay D]

Examples:
  wssbench serve --plain --listen 127.0.0.1:8080 &
  wssbench proxy --listen 127.0.0.1:9443 --backend ws://127.0.0.1:8080/
  wssbench proxy --backend ws://127.0.0.1:8080/ --delay 10ms      a 20 ms round trip

Flags:
%s`, fs.FlagUsages())
	}
	// --relay is for A/B measurements of the proxy itself.
	if err := fs.MarkHidden("relay"); err != nil {
		return errorCode(stderr, "proxy", err)
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	u, err := url.Parse(*backend)
	if err != nil || u.Scheme != "ws" || u.Host == "" {
		return errorCode(stderr, "proxy", &bench.InputError{Err: fmt.Errorf("--backend %q must be a ws:// URL such as ws://127.0.0.1:8080/", *backend)})
	}
	if *delay < 0 || *delay > time.Minute {
		return errorCode(stderr, "proxy", &bench.InputError{Err: fmt.Errorf("--delay must be between 0 and 1m (got %v)", *delay)})
	}
	switch builtin.RelayMode(*relay) {
	case builtin.RelayAuto, builtin.RelayEventLoop, builtin.RelayGoroutines:
	default:
		return errorCode(stderr, "proxy", &bench.InputError{Err: fmt.Errorf("--relay must be %s or %s (got %q)", builtin.RelayEventLoop, builtin.RelayGoroutines, *relay)})
	}
	if *workers < 0 {
		return errorCode(stderr, "proxy", &bench.InputError{Err: fmt.Errorf("--workers must be 0 (all cores) or more (got %d)", *workers)})
	}
	if *workers > 0 {
		runtime.GOMAXPROCS(*workers)
	}
	tc, caNote, dir, err := serverTLS(*certFile, *keyFile, *certKey)
	if err != nil {
		return errorCode(stderr, "proxy", err)
	}
	if dir != "" {
		defer os.RemoveAll(dir)
	}
	if err := tlsFlags.apply(tc); err != nil {
		return errorCode(stderr, "proxy", err)
	}
	srv, err := builtin.Listen(builtin.Config{Listen: *listen, Backend: u.Host, TLS: tc, Delay: *delay, Relay: builtin.RelayMode(*relay)})
	if err != nil {
		return errorCode(stderr, "proxy", &bench.InputError{Err: err})
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The built-in proxy keeps no counts of its own: its endpoint has the
	// process's (CPU, memory, open files) and the Go runtime's metrics.
	if _, err := mflags.serve(ctx, stderr, "proxy"); err != nil {
		return errorCode(stderr, "proxy", err)
	}
	fmt.Fprintf(stdout, "%s%s\n", bench.ProxyReadyPrefix, srv.URL())
	if caNote != "" {
		fmt.Fprintln(stdout, caNote)
	}
	if err := srv.Serve(ctx); err != nil {
		return errorCode(stderr, "proxy", err)
	}
	return ExitOK
}

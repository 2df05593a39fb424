package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/target"
	"github.com/wssbench/wssbench/bench/telemetry"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8443", "address to listen on (port 0 picks a free port)")
	reuse := fs.Bool("reuseport", false, "share the port with other serve processes (SO_REUSEPORT): the kernel spreads connections over them")
	plain := fs.Bool("plain", false, "serve plain ws:// instead of wss://")
	certFile := fs.String("cert", "", "PEM certificate (chain) file; without it a fresh self-signed chain is made")
	keyFile := fs.String("key", "", "PEM private key file for --cert")
	certKey := fs.String("cert-key", string(tlsconf.KeyECDSAP256), "key type of a generated certificate: "+strings.Join(tlsconf.KeyTypes(), ", "))
	maxFrame := fs.Int64("max-frame", 1<<20, "largest frame payload accepted, in bytes; larger frames close the connection with 1009")
	idle := fs.Duration("idle-timeout", 2*time.Minute, "close a connection that sends nothing for this long")
	tlsFlags := addServerTLSFlags(fs)
	mflags := addMetricsFlags(fs, false)
	echoDelay := fs.Duration("echo-delay", 0, "fault injection: wait this long before echoing each frame, to make a slower server (for testing regression gates)")
	stalls := fs.StringArray("stall", nil, "fault injection: FOR@AT, echo nothing for FOR starting AT after the first connection is upgraded, such as 1s@5s (repeatable)")
	rooms := fs.Int("rooms", 0, "be a chat server with rooms of `SIZE` members: each message goes to the other members of its sender's room, not back; rooms fill in connection order, or a URL path other than / names the room")
	push := fs.Float64("push", 0, "push text frames {\"seq\":N,\"ts\":UNIX_NANOS} to every connection at `RATE` frames/s without being asked (client frames are still echoed; a connection that sends nothing is still closed after --idle-timeout)")
	capacity := fs.Float64("capacity", 0, "echo at most `N` frames/s over all connections (a token bucket: frames beyond wait their turn, so latency grows past the knee); a target of known capacity, to check wssbench search")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `wssbench serve: the built-in echo target

It echoes text and binary frames, answers pings, completes the close handshake
and bounds frame size and idle time. It prints its URL, then serves until
SIGINT or SIGTERM, when it closes every connection with a close frame and
prints one line of what it saw:
  wssbench serve: counts {"accepted":N,"upgraded":N,"frames_echoed":N,"closes":N}
(closes counts completed close handshakes).

With --rooms SIZE it is a chat server instead: every whole message a
connection sends goes, unchanged, to every other connection of its room
(not back to the sender). Rooms fill in connection order, SIZE each; a
connection whose URL path is other than / joins the room that path names
(any size). A member too slow to read has deliveries dropped, never the room
held up. The counts line adds frames_received, deliveries_owed (for each
message, the other members then), deliveries_written and deliveries_dropped.

With --push RATE every connection receives text frames
{"seq":N,"ts":UNIX_NANOS} at RATE frames/s without asking, ts the wall-clock
time the frame was written (a client on the same machine measures one-way
latency), the connections spread over the interval; frames a client sends
are still echoed. The counts line adds pushed (owed by the schedule) and
push_written. --rooms and --push do not go together.

With --capacity N it echoes at most N frames/s over all its connections:
a frame beyond the rate waits its turn (nothing is dropped), so past N the
latency grows without bound, as a saturated server's does. wssbench search
against it must find N.

On SIGUSR1 it ends as a crash would, for reconnect storms: it stops
accepting, cuts every connection without a close frame, prints the counts
line and waits to be killed (a run that restarts its target uses it).

Usage:
  wssbench serve [--listen ADDR] [--plain] [--cert FILE --key FILE]

Examples:
  wssbench serve --listen 127.0.0.1:8443                  wss:// with a fresh self-signed certificate
  wssbench serve --listen 127.0.0.1:8080 --plain          ws://, for a TLS-terminating proxy in front
  wssbench serve --cert cert.pem --key key.pem
  wssbench serve --tls-max 1.2 --ciphers TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 --groups P-256
  wssbench serve --client-ca clients-ca.pem                 mutual TLS
  wssbench serve --capacity 3000                            a server that holds 3000 frames/s
  wssbench serve --listen 127.0.0.1:8444 --echo-delay 5ms   a deliberately slower server
  wssbench serve --stall 1s@5s                             no echo for 1 s, 5 s into the load
  wssbench serve --rooms 100                               chat rooms of 100 members
  wssbench serve --push 10                                 10 stamped frames/s to every connection

Flags:
%s`, fs.FlagUsages())
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if *echoDelay < 0 {
		return errorCode(stderr, "serve", &bench.InputError{Err: fmt.Errorf("--echo-delay must not be negative")})
	}
	switch {
	case *rooms < 0:
		return errorCode(stderr, "serve", &bench.InputError{Err: fmt.Errorf("--rooms %d: give the members per room, such as --rooms 100, or leave it out to echo", *rooms)})
	case *push < 0 || math.IsNaN(*push) || math.IsInf(*push, 0):
		return errorCode(stderr, "serve", &bench.InputError{Err: fmt.Errorf("--push %v: give frames per second per connection, such as --push 10, or leave it out", *push)})
	case *rooms > 0 && *push > 0:
		return errorCode(stderr, "serve", &bench.InputError{Err: fmt.Errorf("--rooms and --push do not go together: the target is a chat server or a push stream; drop one")})
	}
	cfg := target.Config{Listen: *listen, ReusePort: *reuse, MaxFrameBytes: *maxFrame, IdleTimeout: *idle, EchoDelay: *echoDelay, Rooms: *rooms, PushRate: *push, Capacity: *capacity}
	if err := cfg.Validate(); err != nil {
		return errorCode(stderr, "serve", &bench.InputError{Err: err})
	}
	for _, v := range *stalls {
		st, err := target.ParseStall(v)
		if err != nil {
			return errorCode(stderr, "serve", &bench.InputError{Err: fmt.Errorf("--stall: %w", err)})
		}
		cfg.Stalls = append(cfg.Stalls, st)
	}
	var caNote string
	if !*plain {
		tc, note, dir, err := serverTLS(*certFile, *keyFile, *certKey)
		if err != nil {
			return errorCode(stderr, "serve", err)
		}
		if dir != "" {
			// The generated key goes when the server does.
			defer os.RemoveAll(dir)
		}
		if err := tlsFlags.apply(tc); err != nil {
			return errorCode(stderr, "serve", err)
		}
		cfg.TLS, caNote = tc, note
	} else if *certFile != "" || *keyFile != "" || fs.Changed("tls-min") || fs.Changed("tls-max") || fs.Changed("ciphers") || fs.Changed("groups") || fs.Changed("alpn") || fs.Changed("client-ca") {
		return errorCode(stderr, "serve", &bench.InputError{Err: fmt.Errorf("--cert, --key and the TLS settings make no sense with --plain; drop one or the other")})
	}
	srv, err := target.Listen(cfg)
	if err != nil {
		return errorCode(stderr, "serve", &bench.InputError{Err: err})
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := mflags.serve(ctx, stderr, "serve", telemetry.TargetCollector(srv.Counts)); err != nil {
		return errorCode(stderr, "serve", err)
	}
	// Before the ready line: a parent may send it as soon as it reads that.
	abort := make(chan os.Signal, 1)
	signal.Notify(abort, bench.TargetAbortSignal)
	defer signal.Stop(abort)
	aborted := make(chan struct{})
	go func() {
		select {
		case <-abort:
			close(aborted)
			srv.Abort()
		case <-ctx.Done():
		}
	}()
	if srv.EveryInterface() {
		fmt.Fprintf(stderr, "wssbench serve: warning: listening on every interface (%s), reachable from other machines; the URL below names 127.0.0.1. %s\n",
			srv.Addr(), certNames(cfg.TLS))
	}
	fmt.Fprintf(stdout, "%s%s\n", bench.ReadyPrefix, srv.URL())
	if caNote != "" {
		fmt.Fprintln(stdout, caNote)
	}
	err = srv.Serve(ctx)
	// Every connection is closed now: the counts are final.
	counts, jerr := json.Marshal(srv.Counts())
	if jerr == nil {
		fmt.Fprintf(stdout, "%s%s\n", ServeCountsPrefix, counts)
	}
	select {
	case <-aborted:
		// A crash: the parent kills it now; SIGINT or SIGTERM also end it.
		<-ctx.Done()
		return ExitOK
	default:
	}
	if err != nil {
		return errorCode(stderr, "serve", err)
	}
	return ExitOK
}

// ServeCountsPrefix starts the one line `wssbench serve` prints on stdout
// when it ends: the prefix, then target.Counts as JSON.
const ServeCountsPrefix = "wssbench serve: counts "

// certNames says which names a client may verify the server's certificate
// for, from another machine.
func certNames(tc *tls.Config) string {
	if tc == nil || len(tc.Certificates) == 0 || len(tc.Certificates[0].Certificate) == 0 {
		return "It serves plain ws://."
	}
	leaf := tc.Certificates[0].Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(tc.Certificates[0].Certificate[0]); err != nil {
			return "Its certificate could not be read for its names."
		}
	}
	var names []string
	names = append(names, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "Its certificate names no host (no subject alternative names): clients will fail to verify it."
	}
	return "Clients verify the certificate only for: " + strings.Join(names, ", ") + " (use one of them in the URL, or a certificate for the machine's name)."
}

// serverTLS loads --cert/--key, or generates a chain and writes its files
// into a temporary folder (returned, for removal) where a driver can read the CA.
func serverTLS(certFile, keyFile, keyType string) (*tls.Config, string, string, error) {
	if (certFile == "") != (keyFile == "") {
		return nil, "", "", &bench.InputError{Err: fmt.Errorf("--cert and --key go together: give both or neither")}
	}
	if certFile != "" {
		c, err := tlsconf.LoadKeyPair(certFile, keyFile)
		if err != nil {
			return nil, "", "", &bench.InputError{Err: err}
		}
		return &tls.Config{Certificates: []tls.Certificate{c}}, "", "", nil
	}
	chain, err := tlsconf.NewChain(tlsconf.CertOptions{KeyType: tlsconf.KeyType(keyType)})
	if err != nil {
		return nil, "", "", &bench.InputError{Err: err}
	}
	dir, err := os.MkdirTemp("", "wssbench-serve-")
	if err != nil {
		return nil, "", "", err
	}
	_, _, caFile, err := chain.WriteFiles(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", "", err
	}
	return &tls.Config{Certificates: []tls.Certificate{chain.Leaf}},
		"wssbench serve: self-signed certificate for localhost, 127.0.0.1, ::1; trust it with --ca " + caFile, dir, nil
}

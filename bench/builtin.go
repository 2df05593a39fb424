package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"time"

	"github.com/wssbench/wssbench/bench/proc"
	"github.com/wssbench/wssbench/bench/target"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// ReadyPrefix starts the line `wssbench serve` prints on stdout once it accepts
// connections; the URL follows it.
const ReadyPrefix = "wssbench serve: listening on "

// builtin is the built-in echo target of one run: a child process of the
// wssbench binary, or a server in this process when no argv is given.
type builtin struct {
	url    string
	chain  *tlsconf.Chain
	child  *proc.Child
	dir    string
	cancel context.CancelFunc
	done   chan error
}

// startBuiltin generates a fresh certificate chain and starts the echo target on loopback.
func startBuiltin(ctx context.Context, argv []string, keyType string) (*builtin, error) {
	chain, err := tlsconf.NewChain(tlsconf.CertOptions{KeyType: tlsconf.KeyType(keyType)})
	if err != nil {
		return nil, err
	}
	b := &builtin{chain: chain}
	if len(argv) == 0 {
		srv, err := target.Listen(target.Config{Listen: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{chain.Leaf}}})
		if err != nil {
			return nil, err
		}
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		b.cancel, b.done, b.url = cancel, make(chan error, 1), srv.URL()
		go func() { b.done <- srv.Serve(sctx) }()
		return b, nil
	}
	b.dir, err = os.MkdirTemp("", "wssbench-target-")
	if err != nil {
		return nil, err
	}
	certFile, keyFile, _, err := chain.WriteFiles(b.dir)
	if err != nil {
		b.stop()
		return nil, err
	}
	full := append(append([]string{}, argv...), "--listen", "127.0.0.1:0", "--cert", certFile, "--key", keyFile)
	b.child, b.url, err = proc.Start(ctx, proc.StartOptions{Name: "built-in target", Argv: full, ReadyPrefix: ReadyPrefix})
	if err != nil {
		b.stop()
		return nil, fmt.Errorf("start the built-in target: %w", err)
	}
	return b, nil
}

// pid returns the child's PID, or 0 when the target runs in this process.
func (b *builtin) pid() int {
	if b.child == nil {
		return 0
	}
	return b.child.PID()
}

// stop ends the target (by its own PID when it is a child) and removes its files.
func (b *builtin) stop() {
	if b.child != nil {
		b.child.Stop(5 * time.Second)
	}
	if b.cancel != nil {
		b.cancel()
		<-b.done
	}
	if b.dir != "" {
		// Best effort: a leftover temp folder is harmless.
		_ = os.RemoveAll(b.dir)
	}
}

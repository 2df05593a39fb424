package external

import (
	"context"
	"crypto/tls"
	"net/url"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/target"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// TestMisconfiguredNginxIsAClassifiedUpgradeError: nginx without the Upgrade
// headers (the classic misconfiguration) must show up in a run as the
// upgrade error class with nginx's HTTP status, not as a crash or a timeout.
func TestMisconfiguredNginxIsAClassifiedUpgradeError(t *testing.T) {
	if _, err := LookPath(Nginx); err != nil {
		t.Skip(err)
	}
	t.Parallel()
	chain, err := tlsconf.NewChain(tlsconf.CertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile, _, err := chain.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := target.Listen(target.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Serve(ctx) }()
	ext, err := Start(ctx, Config{Kind: Nginx, Listen: "127.0.0.1:0", Backend: srv.Addr().String(),
		CertFile: certFile, KeyFile: keyFile, MaxConns: 100, NoUpgradeHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Stop()
	u, _ := url.Parse(ext.URL())
	d, err := driver.New(&driver.Config{URL: u, TLS: &tls.Config{RootCAs: chain.Pool(), ServerName: "localhost"},
		Mode: driver.ModeSteady, Conns: 3, Duration: 200 * time.Millisecond, PayloadBytes: 64, ConnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st := d.Run(ctx)
	if st.Failed != 3 || st.Errors["upgrade_status_400"] != 3 || len(st.Errors) != 1 {
		t.Fatalf("failed %d, errors %v, want 3 × upgrade_status_400", st.Failed, st.Errors)
	}
}

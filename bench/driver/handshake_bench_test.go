package driver

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/target"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// The handshake benchmarks run the echo target in a child process (this test
// binary, re-executed with benchTargetEnv set), so this process's CPU time is
// the client's alone: the figure "client-cpu-µs/op" is what one connection
// costs the dialing side.
const benchTargetEnv = "WSSBENCH_BENCH_TARGET_CA"

func TestMain(m *testing.M) {
	if caFile := os.Getenv(benchTargetEnv); caFile != "" {
		os.Exit(serveBenchTarget(caFile))
	}
	os.Exit(m.Run())
}

func serveBenchTarget(caFile string) int {
	chain, err := tlsconf.NewChain(tlsconf.CertOptions{})
	if err != nil {
		return 1
	}
	if err := os.WriteFile(caFile, chain.CAPEM, 0o644); err != nil {
		return 1
	}
	srv, err := target.Listen(target.Config{Listen: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{chain.Leaf}}})
	if err != nil {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // bounded even if the parent dies
	defer cancel()
	go func() {
		// The parent closes our stdin when it is done.
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		cancel()
	}()
	println("URL", srv.URL())
	if err := srv.Serve(ctx); err != nil {
		return 1
	}
	return 0
}

// childTarget starts the benchmark target process and returns its URL and a TLS config trusting it.
func childTarget(b *testing.B) (*url.URL, *tls.Config) {
	b.Helper()
	caFile := b.TempDir() + "/ca.pem"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchTargetEnv+"="+caFile)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stderr)
	var raw string
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
			raw = s
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		b.Fatalf("benchmark target gave no URL (%q): %v", raw, err)
	}
	pool, err := tlsconf.LoadCAPool(caFile)
	if err != nil {
		b.Fatal(err)
	}
	return u, &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportClientCPU(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(selfCPU()-cpu0)/1e3/float64(b.N), "client-cpu-µs/op")
}

// BenchmarkBareTLSHandshake is the floor: net.Dial, crypto/tls handshake, close.
func BenchmarkBareTLSHandshake(b *testing.B) {
	u, tc := childTarget(b)
	b.ReportAllocs()
	cpu0 := selfCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw, err := net.Dial("tcp", u.Host)
		if err != nil {
			b.Fatal(err)
		}
		c := tls.Client(raw, tc)
		if err := c.HandshakeContext(context.Background()); err != nil {
			b.Fatal(err)
		}
		raw.Close()
	}
	b.StopTimer()
	reportClientCPU(b, cpu0)
}

// BenchmarkBareTLSUpgrade adds a plain gobwas upgrade to the floor: what the
// driver does, without its timing, counting and classification.
func BenchmarkBareTLSUpgrade(b *testing.B) {
	u, tc := childTarget(b)
	b.ReportAllocs()
	cpu0 := selfCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw, err := net.Dial("tcp", u.Host)
		if err != nil {
			b.Fatal(err)
		}
		c := tls.Client(raw, tc)
		if err := c.HandshakeContext(context.Background()); err != nil {
			b.Fatal(err)
		}
		if _, _, err := (ws.Dialer{}).Upgrade(c, u); err != nil {
			b.Fatal(err)
		}
		raw.Close()
	}
	b.StopTimer()
	reportClientCPU(b, cpu0)
}

// BenchmarkDriverConnect is the driver's own connect: phase-timed TCP, TLS
// (with byte counting and negotiated-parameter tallies) and upgrade.
func BenchmarkDriverConnect(b *testing.B) {
	u, tc := childTarget(b)
	cfg := &Config{URL: u, TLS: tc, Conns: 1, PayloadBytes: 64, ConnectTimeout: 5 * time.Second}
	d, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := selfCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, ok := d.open1(context.Background(), i)
		if !ok {
			b.Fatalf("connect failed: %v", d.t.s.ErrorSamples)
		}
		// Close the socket under TLS, as the bare loops do (no close_notify).
		s.ws.NetConn().(*tls.Conn).NetConn().Close()
		d.open.Add(-1)
	}
	b.StopTimer()
	reportClientCPU(b, cpu0)
}

package cli

import (
	"bytes"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench/env"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// TestEnvArgvParsesWithTheRealFlags checks the parent/child protocol from the
// parent's side: every argv env passes to `wssbench serve` and `wssbench
// proxy` parses with those commands' own flag sets, so renaming a flag on
// either side fails here. --help at the end stops each command after its
// flags are parsed, before it listens.
func TestEnvArgvParsesWithTheRealFlags(t *testing.T) {
	t.Parallel()
	files := env.Files{CertFile: "/tmp/cert.pem", KeyFile: "/tmp/key.pem", ClientCAFile: "/tmp/ca.pem"}
	full := tlsconf.Profile{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13,
		Suites12: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, Suites13: []uint16{tls.TLS_AES_128_GCM_SHA256},
		Groups: []tls.CurveID{tls.X25519, tls.CurveP256}, ALPN: []string{"http/1.1"}}
	cases := []struct {
		name string
		cmd  func([]string, *bytes.Buffer, *bytes.Buffer) int
		args []string
	}{
		{"serve plain", serveCmd, env.TargetArgs(true, files, full)},
		{"serve tls", serveCmd, env.TargetArgs(false, files, full)},
		{"serve defaults", serveCmd, env.TargetArgs(false, env.Files{CertFile: "c", KeyFile: "k"}, tlsconf.Profile{})},
		{"serve rooms", serveCmd, append(env.TargetArgs(true, files, full), env.TargetWorkloadArgs(50, 0)...)},
		{"serve push", serveCmd, append(env.TargetArgs(true, files, full), env.TargetWorkloadArgs(0, 12.5)...)},
		{"proxy", proxyCmd, env.ProxyArgs("127.0.0.1:8080", 5*time.Millisecond, files, full)},
		{"proxy defaults", proxyCmd, env.ProxyArgs("127.0.0.1:8080", 0, env.Files{CertFile: "c", KeyFile: "k"}, tlsconf.Profile{})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := c.cmd(append(c.args, "--help"), &out, &errOut); code != ExitOK || errOut.Len() > 0 {
				t.Fatalf("%v: exit %d\n%s", c.args, code, errOut.String())
			}
		})
	}
	// The check can fail: a flag the command lacks stops the parse before --help.
	var out, errOut bytes.Buffer
	if code := serveCmd([]string{"--listen", "127.0.0.1:0", "--no-such-flag", "--help"}, &out, &errOut); code != ExitBadInput || !strings.Contains(errOut.String(), "no-such-flag") {
		t.Fatalf("an unknown flag: exit %d\n%s", code, errOut.String())
	}
	// The TLS settings reach the argv: none is dropped on the way.
	args := strings.Join(env.TargetArgs(false, files, full), " ")
	for _, want := range []string{"--tls-min 1.2", "--tls-max 1.3", "--ciphers TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "--groups X25519,P-256", "--alpn http/1.1", "--client-ca /tmp/ca.pem"} {
		if !strings.Contains(args, want) {
			t.Errorf("serve argv %q lacks %q", args, want)
		}
	}
}

func serveCmd(args []string, stdout, stderr *bytes.Buffer) int { return cmdServe(args, stdout, stderr) }
func proxyCmd(args []string, stdout, stderr *bytes.Buffer) int { return cmdProxy(args, stdout, stderr) }

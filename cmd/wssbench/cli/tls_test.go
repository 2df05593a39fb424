package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTLSSettingsBadInputExitsTwo: names that do not exist and settings that
// cannot work together are refused before any load, with what to do.
func TestTLSSettingsBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown suite", []string{"--ciphers", "TLS_FOO"}, "valid names: TLS_AES_128_GCM_SHA256"},
		{"insecure suite", []string{"--ciphers", "TLS_RSA_WITH_AES_128_CBC_SHA"}, "will not offer"},
		{"unknown group", []string{"--groups", "X448"}, "valid names: X25519MLKEM768"},
		{"bad version", []string{"--tls-max", "1.1"}, "insecure"},
		{"min above max", []string{"--tls-min", "1.3", "--tls-max", "1.2"}, "no version is left"},
		{"1.2 suite with 1.3 only", []string{"--tls-min", "1.3", "--ciphers", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}, "--tls-min is 1.3"},
		{"1.3 suite with 1.2 only", []string{"--tls-max", "1.2", "--ciphers", "TLS_AES_128_GCM_SHA256"}, "--tls-max is 1.2"},
		{"1.2 suites while 1.3 may win", []string{"--ciphers", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}, "--tls-max 1.2"},
		{"ML-KEM only with TLS 1.2", []string{"--tls-max", "1.2", "--groups", "X25519MLKEM768"}, "only TLS 1.3"},
		{"AES-256 on a Go server", []string{"--ciphers", "TLS_AES_256_GCM_SHA384"}, "nginx or haproxy"},
		{"RSA suite with ECDSA cert", []string{"--tls-max", "1.2", "--ciphers", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, "ecdsa-p256 certificate"},
		{"resume share", []string{"--resume", "150%"}, "--resume"},
		{"client key alone", []string{"--client-key", "k.pem"}, "go together"},
		{"client cert file on built-in", []string{"--client-cert", "c.pem", "--client-key", "k.pem"}, "--client-cert auto"},
		{"chain too long", []string{"--chain-length", "9"}, "--chain-length"},
		{"TLS on ws://", []string{"--target", "ws://127.0.0.1:1/", "--tls-max", "1.2"}, "need a wss:// target"},
		{"auto cert with target", []string{"--target", "wss://127.0.0.1:1/", "--client-cert", "auto"}, "built-in target's CA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runMain(append([]string{"run", "--conns", "2", "--duration", "100ms"}, tc.args...)...)
			if code != ExitBadInput {
				t.Fatalf("exit %d, want %d; stderr: %s", code, ExitBadInput, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Fatalf("stderr %q does not say %q", stderr, tc.want)
			}
		})
	}
}

// TestNegotiatedParametersAsserted drives real servers that do not do what
// the run asks, and checks that each run fails its verdict and says why.
func TestNegotiatedParametersAsserted(t *testing.T) {
	t.Parallel()
	url, ca := startServe(t)
	noTickets, noTicketsCA := startServe(t, "--no-tickets")
	tests := []struct {
		name     string
		url, ca  string
		args     []string
		want     string
		wantCode int
	}{
		// A Go server always picks AES-128-GCM in TLS 1.3.
		{"suite", url, ca, []string{"--ciphers", "TLS_AES_256_GCM_SHA384"},
			"asked for cipher suites TLS_AES_256_GCM_SHA384, negotiated TLS_AES_128_GCM_SHA256", ExitRunFailed},
		// serve offers no ALPN unless told to.
		{"alpn", url, ca, []string{"--alpn", "x-wssbench"}, "asked for ALPN x-wssbench, negotiated none", ExitRunFailed},
		{"resumption", noTickets, noTicketsCA, []string{"--resume", "on"}, "none of 6 handshakes resumed", ExitRunFailed},
		// The control: what was asked is what was negotiated.
		{"as asked", url, ca, []string{"--tls-max", "1.2", "--groups", "P-256", "--resume", "on"}, "verdict      ok", ExitOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runMain(append([]string{"run", "--target", tc.url, "--ca", tc.ca, "--conns", "6",
				"--connect-rate", "0", "--duration", "300ms", "--msg-rate", "5", "-q"}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d (want %d), summary lacks %q:\n%s\n%s", code, tc.wantCode, tc.want, out, errOut)
			}
		})
	}
}

// TestMatrixScenario expands a small matrix, reports the cell that cannot
// work without running it, and runs the others with what they asked.
func TestMatrixScenario(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sc := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(sc, []byte(`mode: steady
conns: 8
connect_rate: 0
duration: 300ms
msg_rate: 5
matrix:
  tls_max: ["1.3", "1.2"]
  groups: [X25519, X25519MLKEM768]
  resume: ["off", "on"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "m.json")
	code, stdout, stderr := runMain("run", "--scenario", sc, "-q", "--out", out)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rep struct {
		Comparison struct {
			Matrix   bool `json:"matrix"`
			Baseline string
			Cells    []struct {
				Cell       string
				NotRun     string `json:"not_run"`
				Negotiated struct{ Version, Group string }
				Metrics    map[string]struct{ Median float64 }
			}
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	c := rep.Comparison
	if !c.Matrix || len(c.Cells) != 8 || c.Baseline != "direct tls_max=1.3 groups=X25519 resume=off" {
		t.Fatalf("matrix %v, %d cells, baseline %q; want 8 cells and the first as baseline\n%s", c.Matrix, len(c.Cells), c.Baseline, stdout)
	}
	for _, cell := range c.Cells {
		cannot := strings.Contains(cell.Cell, "tls_max=1.2") && strings.Contains(cell.Cell, "MLKEM")
		if cannot != (cell.NotRun != "") {
			t.Errorf("%s: not_run %q", cell.Cell, cell.NotRun)
			continue
		}
		if cannot {
			continue
		}
		wantV := "TLS 1.3"
		if strings.Contains(cell.Cell, "tls_max=1.2") {
			wantV = "TLS 1.2"
		}
		wantG := strings.TrimPrefix(strings.Fields(cell.Cell)[2], "groups=")
		resumed := cell.Metrics["resumed_share"].Median
		if cell.Negotiated.Version != wantV || cell.Negotiated.Group != wantG && !(resumed == 1 && wantV == "TLS 1.2") {
			t.Errorf("%s negotiated %+v", cell.Cell, cell.Negotiated)
		}
		if wantResume := strings.HasSuffix(cell.Cell, "resume=on"); wantResume != (resumed == 1) {
			t.Errorf("%s: resumed share %v", cell.Cell, resumed)
		}
	}
	if !strings.Contains(stdout, "TLS matrix: 8 cells") || !strings.Contains(stdout, "cannot work") {
		t.Errorf("matrix table:\n%s", stdout)
	}
}

package tlsconf

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"
)

func TestResolveNames(t *testing.T) {
	t.Parallel()
	p, err := Settings{Min: "1.2", Max: "TLS1.3",
		Ciphers: []string{"tls_aes_256_gcm_sha384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		Groups:  []string{"prime256v1", "x25519", "P-256"}, ALPN: []string{"http/1.1"}}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if p.MinVersion != tls.VersionTLS12 || p.MaxVersion != tls.VersionTLS13 {
		t.Errorf("versions %x..%x", p.MinVersion, p.MaxVersion)
	}
	if !slices.Equal(p.Suites13, []uint16{tls.TLS_AES_256_GCM_SHA384}) || !slices.Equal(p.Suites12, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}) {
		t.Errorf("suites 1.3 %v, 1.2 %v", p.Suites13, p.Suites12)
	}
	if !slices.Equal(p.Groups, []tls.CurveID{tls.CurveP256, tls.X25519}) {
		t.Errorf("groups %v: want aliases folded and duplicates dropped", p.Groups)
	}
	if n := p.Names(); n.Min != "1.2" || n.Max != "1.3" || strings.Join(n.Groups, ",") != "P-256,X25519" {
		t.Errorf("Names() = %+v", n)
	}
}

func TestResolveRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    Settings
		want string
	}{
		{Settings{Max: "1.1"}, "insecure"},
		{Settings{Min: "2"}, "not one of 1.2, 1.3"},
		{Settings{Ciphers: []string{"TLS_RSA_WITH_AES_128_GCM_SHA256"}}, "will not offer"},
		{Settings{Ciphers: []string{"AES128-GCM"}}, "valid names"},
		{Settings{Groups: []string{"X448"}}, "valid names"},
		{Settings{ALPN: []string{" "}}, "1 to 255 bytes"},
	} {
		if _, err := tc.s.Resolve(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one that says %q", tc.s, err, tc.want)
		}
	}
}

func TestCheckCombinations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		s        Settings
		goServer bool
		key      KeyType
		want     string // "" = works
	}{
		{"defaults", Settings{}, true, KeyECDSAP256, ""},
		{"min above max", Settings{Min: "1.3", Max: "1.2"}, true, "", "no version is left"},
		{"only 1.3 suites, 1.2 max", Settings{Max: "1.2", Ciphers: []string{"TLS_AES_128_GCM_SHA256"}}, true, "", "--tls-max is 1.2"},
		{"only 1.2 suites, 1.3 min", Settings{Min: "1.3", Ciphers: []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}}, true, "", "--tls-min is 1.3"},
		{"only 1.2 suites, 1.3 may win", Settings{Ciphers: []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}}, false, "", "--tls-max 1.2"},
		{"a family of both versions", Settings{Max: "1.2", Ciphers: []string{"TLS_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}}, true, KeyECDSAP256, ""},
		{"PQ only with 1.2", Settings{Max: "1.2", Groups: []string{"X25519MLKEM768"}}, false, "", "only TLS 1.3"},
		{"PQ and classical with 1.2", Settings{Max: "1.2", Groups: []string{"X25519MLKEM768", "X25519"}}, false, "", ""},
		{"AES-256 on a Go server", Settings{Ciphers: []string{"TLS_AES_256_GCM_SHA384"}}, true, "", "nginx or haproxy"},
		{"AES-256 on nginx", Settings{Ciphers: []string{"TLS_AES_256_GCM_SHA384"}}, false, "", ""},
		{"ChaCha on a Go server", Settings{Ciphers: []string{"TLS_CHACHA20_POLY1305_SHA256"}}, true, "", ""},
		{"ChaCha with a GCM 1.2 suite on a Go server", Settings{Ciphers: []string{"TLS_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}}, true, "", "AES-GCM"},
		{"RSA suite, ECDSA cert", Settings{Max: "1.2", Ciphers: []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}}, true, KeyECDSAP256, "ecdsa-p256 certificate"},
		{"RSA suite, RSA cert", Settings{Max: "1.2", Ciphers: []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}}, true, KeyRSA2048, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.s.Resolve()
			if err != nil {
				t.Fatal(err)
			}
			err = p.Check(tc.goServer, tc.key)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Check: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestChaChaSteering: asking a Go server for ChaCha20 in TLS 1.3 makes the
// client lead with ChaCha20 suites, which is what crypto/tls's server follows.
func TestChaChaSteering(t *testing.T) {
	t.Parallel()
	p, err := Settings{Ciphers: []string{"TLS_CHACHA20_POLY1305_SHA256"}}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	var c tls.Config
	p.ApplyClient(&c)
	for _, id := range c.CipherSuites {
		if !strings.Contains(tls.CipherSuiteName(id), "CHACHA20") {
			t.Fatalf("client offers %s ahead of ChaCha20", tls.CipherSuiteName(id))
		}
	}
	if len(c.CipherSuites) == 0 {
		t.Fatal("client offers the default suites: a Go server would pick AES-128-GCM")
	}
}

func TestGroupNamesAndOpenSSL(t *testing.T) {
	t.Parallel()
	if GroupName(tls.CurveP256) != "P-256" || GroupName(0) != "none" || GroupName(tls.X25519MLKEM768) != "X25519MLKEM768" {
		t.Errorf("names: %s %s %s", GroupName(tls.CurveP256), GroupName(0), GroupName(tls.X25519MLKEM768))
	}
	if n, ok := OpenSSLGroup(tls.CurveP384); !ok || n != "secp384r1" {
		t.Errorf("OpenSSLGroup(P-384) = %q, %v", n, ok)
	}
	if _, ok := OpenSSLGroup(tls.X25519MLKEM768); ok {
		t.Error("OpenSSL 3.0 has no ML-KEM")
	}
	if got := OpenSSLCiphers([]uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}); len(got) != 1 || got[0] != "ECDHE-ECDSA-CHACHA20-POLY1305" {
		t.Errorf("OpenSSLCiphers = %v", got)
	}
}

// TestEverySuiteHasAnOpenSSLName: a TLS 1.2 suite the Go client accepts must
// reach the proxies' configs, or a proxy would run with another list.
func TestEverySuiteHasAnOpenSSLName(t *testing.T) {
	t.Parallel()
	for _, s := range tls.CipherSuites() {
		if slices.Contains(s.SupportedVersions, tls.VersionTLS12) && len(OpenSSLCiphers([]uint16{s.ID})) != 1 {
			t.Errorf("%s has no OpenSSL name", s.Name)
		}
	}
}

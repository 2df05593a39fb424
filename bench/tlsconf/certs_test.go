package tlsconf

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewChainEveryKeyType(t *testing.T) {
	t.Parallel()
	for _, kt := range KeyTypes() {
		t.Run(kt, func(t *testing.T) {
			t.Parallel()
			if testing.Short() && strings.HasPrefix(kt, "rsa4096") {
				t.Skip("slow key generation")
			}
			c, err := NewChain(CertOptions{KeyType: KeyType(kt)})
			if err != nil {
				t.Fatal(err)
			}
			leaf, err := x509.ParseCertificate(c.Leaf.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: c.Pool(), DNSName: host}); err != nil {
					t.Errorf("leaf does not verify for %s: %v", host, err)
				}
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: c.Pool(), DNSName: "example.com"}); err == nil {
				t.Error("leaf verifies for a host it was not made for")
			}
		})
	}
}

func TestExpiredChain(t *testing.T) {
	t.Parallel()
	c, err := NewChain(CertOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(c.Leaf.Certificate[0])
	var inv x509.CertificateInvalidError
	_, err = leaf.Verify(x509.VerifyOptions{Roots: c.Pool(), DNSName: "localhost"})
	if !asInvalid(err, &inv) || inv.Reason != x509.Expired {
		t.Fatalf("err = %v, want an expired certificate", err)
	}
}

func asInvalid(err error, inv *x509.CertificateInvalidError) bool {
	e, ok := err.(x509.CertificateInvalidError)
	if ok {
		*inv = e
	}
	return ok
}

func TestFilesRoundTripAndErrors(t *testing.T) {
	t.Parallel()
	c, err := NewChain(CertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile, caFile, err := c.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if _, err := LoadKeyPair(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCAPool(caFile); err != nil {
		t.Fatal(err)
	}
	other, _ := NewChain(CertOptions{})
	otherKey := filepath.Join(dir, "other.pem")
	if err := os.WriteFile(otherKey, other.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyPair(certFile, otherKey); err == nil || !strings.Contains(err.Error(), "must match") {
		t.Fatalf("mismatched key: err = %v", err)
	}
	if _, err := LoadCAPool(keyFile); err == nil {
		t.Fatal("a key file was accepted as a CA file")
	}
	if _, err := NewChain(CertOptions{KeyType: "dsa1024"}); err == nil || !strings.Contains(err.Error(), "ecdsa-p256") {
		t.Fatalf("unknown key type: err = %v", err)
	}
}

// Package tlsconf builds the TLS configurations wssbench uses: self-signed
// certificate authorities and leaf certificates made in memory, server and
// client configs, and the names of TLS versions, suites and groups.
package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// KeyType names a certificate key algorithm and size.
type KeyType string

// Supported certificate key types.
const (
	KeyECDSAP256 KeyType = "ecdsa-p256"
	KeyECDSAP384 KeyType = "ecdsa-p384"
	KeyRSA2048   KeyType = "rsa2048"
	KeyRSA3072   KeyType = "rsa3072"
	KeyRSA4096   KeyType = "rsa4096"
	KeyEd25519   KeyType = "ed25519"
)

// KeyTypes lists every supported key type, for help and error messages.
func KeyTypes() []string {
	return []string{string(KeyECDSAP256), string(KeyECDSAP384), string(KeyRSA2048),
		string(KeyRSA3072), string(KeyRSA4096), string(KeyEd25519)}
}

func newKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case KeyECDSAP256, "":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case KeyRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case KeyEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unknown certificate key type %q (valid: %v)", kt, KeyTypes())
}

// CertOptions describes a self-signed chain to generate.
type CertOptions struct {
	// KeyType is the key algorithm of the CA and the leaf (default ecdsa-p256).
	KeyType KeyType
	// Hosts are the DNS names and IP addresses the leaf is valid for
	// (default localhost, 127.0.0.1 and ::1).
	Hosts []string
	// NotBefore and NotAfter bound the leaf's validity (default: an hour ago
	// to a day from now). A NotAfter in the past makes an expired certificate.
	NotBefore, NotAfter time.Time
	// Intermediates is the number of intermediate CAs between the root and
	// the leaf (0: the root signs the leaf). The server sends them with the leaf.
	Intermediates int
	// ClientCert also issues a client certificate from the same root, for mutual TLS.
	ClientCert bool
}

// MaxIntermediates bounds CertOptions.Intermediates.
const MaxIntermediates = 4

// Chain is a generated CA and a leaf signed by it, in memory.
type Chain struct {
	// CA is the self-signed root certificate.
	CA *x509.Certificate
	// CAPEM is CA in PEM form.
	CAPEM []byte
	// Leaf is the server certificate with its private key, ready for tls.Config.
	Leaf tls.Certificate
	// CertPEM is the leaf certificate followed by the intermediates, in PEM
	// form; KeyPEM is the leaf's PKCS#8 private key.
	CertPEM, KeyPEM []byte
	// Client is a client certificate issued by the same root (with
	// CertOptions.ClientCert); ClientCertPEM and ClientKeyPEM are its PEM forms.
	Client                      tls.Certificate
	ClientCertPEM, ClientKeyPEM []byte
}

// Pool returns a certificate pool that trusts only the chain's CA.
func (c *Chain) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.CA)
	return p
}

// WriteFiles writes the leaf certificate, its key and the CA certificate as
// PEM files into dir and returns their paths. Keys are written 0600.
func (c *Chain) WriteFiles(dir string) (certFile, keyFile, caFile string, err error) {
	certFile, keyFile, caFile = dir+"/cert.pem", dir+"/key.pem", dir+"/ca.pem"
	if err = os.WriteFile(certFile, c.CertPEM, 0o644); err != nil {
		return
	}
	if err = os.WriteFile(keyFile, c.KeyPEM, 0o600); err != nil {
		return
	}
	err = os.WriteFile(caFile, c.CAPEM, 0o644)
	return
}

// WriteClientFiles writes the client certificate (with its chain) and key as
// PEM files into dir and returns their paths.
func (c *Chain) WriteClientFiles(dir string) (certFile, keyFile string, err error) {
	if c.ClientCertPEM == nil {
		return "", "", fmt.Errorf("the chain has no client certificate")
	}
	certFile, keyFile = dir+"/client-cert.pem", dir+"/client-key.pem"
	if err = os.WriteFile(certFile, c.ClientCertPEM, 0o644); err != nil {
		return
	}
	err = os.WriteFile(keyFile, c.ClientKeyPEM, 0o600)
	return
}

// NewChain generates a fresh CA and a leaf certificate signed by it.
func NewChain(o CertOptions) (*Chain, error) {
	if len(o.Hosts) == 0 {
		o.Hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	now := time.Now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.Add(24 * time.Hour)
	}
	caKey, err := newKey(o.KeyType)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "wssbench test CA", Organization: []string{"wssbench"}},
		NotBefore:             now.Add(-2 * time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	if o.Intermediates < 0 || o.Intermediates > MaxIntermediates {
		return nil, fmt.Errorf("chain length: %d intermediates is outside 0..%d", o.Intermediates, MaxIntermediates)
	}
	issuer, issuerKey := ca, caKey
	var chainPEM []byte
	var chainDER [][]byte
	for i := 0; i < o.Intermediates; i++ {
		k, err := newKey(o.KeyType)
		if err != nil {
			return nil, err
		}
		tmpl := *caTmpl
		tmpl.SerialNumber = serial()
		tmpl.Subject = pkix.Name{CommonName: fmt.Sprintf("wssbench intermediate CA %d", i+1), Organization: []string{"wssbench"}}
		der, err := x509.CreateCertificate(rand.Reader, &tmpl, issuer, k.Public(), issuerKey)
		if err != nil {
			return nil, fmt.Errorf("create intermediate certificate: %w", err)
		}
		if issuer, err = x509.ParseCertificate(der); err != nil {
			return nil, err
		}
		issuerKey = k
		// The server sends the chain leaf first, then each issuer up to the root.
		chainDER = append([][]byte{der}, chainDER...)
	}
	for _, der := range chainDER {
		chainPEM = append(chainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	c := &Chain{CA: ca, CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	c.CertPEM, c.KeyPEM, err = issueLeaf(o, o.Hosts[0], x509.ExtKeyUsageServerAuth, issuer, issuerKey)
	if err != nil {
		return nil, err
	}
	c.CertPEM = append(c.CertPEM, chainPEM...)
	if c.Leaf, err = tls.X509KeyPair(c.CertPEM, c.KeyPEM); err != nil {
		return nil, err
	}
	if o.ClientCert {
		c.ClientCertPEM, c.ClientKeyPEM, err = issueLeaf(CertOptions{KeyType: o.KeyType, NotBefore: o.NotBefore, NotAfter: o.NotAfter},
			"wssbench client", x509.ExtKeyUsageClientAuth, issuer, issuerKey)
		if err != nil {
			return nil, err
		}
		c.ClientCertPEM = append(c.ClientCertPEM, chainPEM...)
		if c.Client, err = tls.X509KeyPair(c.ClientCertPEM, c.ClientKeyPEM); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// issueLeaf makes a leaf certificate for name (and o.Hosts) signed by issuer,
// returning its certificate and PKCS#8 key in PEM form.
func issueLeaf(o CertOptions, name string, usage x509.ExtKeyUsage, issuer *x509.Certificate, issuerKey crypto.Signer) (certPEM, keyPEM []byte, err error) {
	key, err := newKey(o.KeyType)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"wssbench"}},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if _, isRSA := key.(*rsa.PrivateKey); isRSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), issuerKey)
	if err != nil {
		return nil, nil, fmt.Errorf("create %s certificate: %w", name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// LoadKeyPair loads a PEM certificate (chain) and key, with an error that names
// both files and says what to check.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return c, fmt.Errorf("load certificate %s with key %s: %w (both must be PEM files, and the key must match the certificate)", certFile, keyFile, err)
	}
	return c, nil
}

// LoadCAPool reads a PEM file of one or more CA certificates.
func LoadCAPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", file)
	}
	return p, nil
}

// VersionName returns "TLS 1.2"-style names for a TLS version number.
func VersionName(v uint16) string { return tls.VersionName(v) }

// SuiteName returns the IANA name of a cipher suite.
func SuiteName(id uint16) string { return tls.CipherSuiteName(id) }

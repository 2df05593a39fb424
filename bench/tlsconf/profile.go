package tlsconf

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// Settings are the TLS settings a user asks for, by name, as flags and
// scenario files spell them. Empty fields keep crypto/tls's defaults.
type Settings struct {
	// Min and Max bound the TLS version: "1.2" or "1.3".
	Min, Max string
	// Ciphers are IANA cipher suite names. TLS 1.2 names restrict what the
	// client offers and the server accepts; TLS 1.3 names (which a Go client
	// cannot restrict) restrict the server.
	Ciphers []string
	// Groups are key exchange groups: X25519, P-256, P-384, P-521,
	// X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024.
	Groups []string
	// ALPN are the application protocols the client offers and the server accepts.
	ALPN []string
}

// Profile is Settings resolved to crypto/tls values; both sides of a run are
// configured from one Profile.
type Profile struct {
	// MinVersion and MaxVersion are 0 for crypto/tls's defaults (TLS 1.2 to 1.3).
	MinVersion, MaxVersion uint16
	// Suites12 and Suites13 are the asked TLS 1.2 and TLS 1.3 suites; empty is the default.
	Suites12, Suites13 []uint16
	// Groups are the asked key exchange groups; empty is the default.
	Groups []tls.CurveID
	// ALPN are the asked application protocols.
	ALPN []string
}

// groupNames are the canonical names of the groups crypto/tls implements, in
// its own order, with the other spellings people use.
var groupNames = []struct {
	id      tls.CurveID
	name    string
	aliases []string
	openssl string // the OpenSSL 3.0 name; empty where OpenSSL 3.0 lacks it
}{
	{tls.X25519MLKEM768, "X25519MLKEM768", nil, ""},
	{tls.SecP256r1MLKEM768, "SecP256r1MLKEM768", nil, ""},
	{tls.SecP384r1MLKEM1024, "SecP384r1MLKEM1024", nil, ""},
	{tls.X25519, "X25519", nil, "X25519"},
	{tls.CurveP256, "P-256", []string{"P256", "CurveP256", "prime256v1", "secp256r1"}, "prime256v1"},
	{tls.CurveP384, "P-384", []string{"P384", "CurveP384", "secp384r1"}, "secp384r1"},
	{tls.CurveP521, "P-521", []string{"P521", "CurveP521", "secp521r1"}, "secp521r1"},
}

// GroupNames lists the key exchange group names Settings accepts.
func GroupNames() []string {
	out := make([]string, len(groupNames))
	for i, g := range groupNames {
		out[i] = g.name
	}
	return out
}

// GroupName returns the canonical name of a key exchange group ("X25519",
// "P-256", "X25519MLKEM768"), or "none" for a handshake without one (a
// resumed TLS 1.2 session).
func GroupName(id tls.CurveID) string {
	if id == 0 {
		return "none"
	}
	for _, g := range groupNames {
		if g.id == id {
			return g.name
		}
	}
	return id.String()
}

// OpenSSLGroup returns the OpenSSL 3.0 name of a group, or false where
// OpenSSL 3.0 (nginx and haproxy on Debian 12) does not implement it.
func OpenSSLGroup(id tls.CurveID) (string, bool) {
	for _, g := range groupNames {
		if g.id == id && g.openssl != "" {
			return g.openssl, true
		}
	}
	return "", false
}

// IsHybridPQ reports whether a group is a post-quantum hybrid, which only TLS 1.3 can use.
func IsHybridPQ(id tls.CurveID) bool {
	return id == tls.X25519MLKEM768 || id == tls.SecP256r1MLKEM768 || id == tls.SecP384r1MLKEM1024
}

// SuiteNames lists the cipher suite names Settings accepts: every suite
// crypto/tls implements and does not call insecure.
func SuiteNames() []string {
	var out []string
	for _, s := range tls.CipherSuites() {
		out = append(out, s.Name)
	}
	return out
}

// ParseVersion parses "1.2" or "1.3" (also "TLS1.3", "tls13"); "" is 0.
func ParseVersion(s string) (uint16, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	v = strings.TrimPrefix(strings.TrimPrefix(v, "tls"), "v")
	v = strings.TrimSpace(v)
	switch v {
	case "":
		return 0, nil
	case "1.2", "12":
		return tls.VersionTLS12, nil
	case "1.3", "13":
		return tls.VersionTLS13, nil
	case "1.0", "10", "1.1", "11":
		return 0, fmt.Errorf("TLS version %q is not supported: TLS 1.0 and 1.1 are insecure and off in crypto/tls; use 1.2 or 1.3", s)
	}
	return 0, fmt.Errorf("TLS version %q is not one of 1.2, 1.3", s)
}

// Resolve turns names into crypto/tls values. An unknown name is an error that
// lists the valid ones.
func (s Settings) Resolve() (Profile, error) {
	var p Profile
	var err error
	if p.MinVersion, err = ParseVersion(s.Min); err != nil {
		return p, fmt.Errorf("--tls-min: %w", err)
	}
	if p.MaxVersion, err = ParseVersion(s.Max); err != nil {
		return p, fmt.Errorf("--tls-max: %w", err)
	}
	for _, name := range s.Ciphers {
		id, v13, err := parseSuite(name)
		if err != nil {
			return p, err
		}
		if v13 {
			p.Suites13 = appendNew(p.Suites13, id)
		} else {
			p.Suites12 = appendNew(p.Suites12, id)
		}
	}
	for _, name := range s.Groups {
		id, err := parseGroup(name)
		if err != nil {
			return p, err
		}
		if !slices.Contains(p.Groups, id) {
			p.Groups = append(p.Groups, id)
		}
	}
	for _, a := range s.ALPN {
		if a = strings.TrimSpace(a); a == "" || len(a) > 255 {
			return p, fmt.Errorf("--alpn: protocol names must be 1 to 255 bytes (got %q)", a)
		}
		p.ALPN = append(p.ALPN, a)
	}
	return p, nil
}

func appendNew(list []uint16, id uint16) []uint16 {
	if slices.Contains(list, id) {
		return list
	}
	return append(list, id)
}

// parseSuite finds a suite by IANA name and says whether it is a TLS 1.3 one.
func parseSuite(name string) (uint16, bool, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	for _, s := range tls.CipherSuites() {
		if s.Name == n {
			return s.ID, slices.Equal(s.SupportedVersions, []uint16{tls.VersionTLS13}), nil
		}
	}
	for _, s := range tls.InsecureCipherSuites() {
		if s.Name == n {
			return 0, false, fmt.Errorf("--ciphers: %s is a suite the Go client will not offer (crypto/tls lists it as insecure); valid names: %s",
				s.Name, strings.Join(SuiteNames(), ", "))
		}
	}
	return 0, false, fmt.Errorf("--ciphers: unknown cipher suite %q; valid names: %s", name, strings.Join(SuiteNames(), ", "))
}

func parseGroup(name string) (tls.CurveID, error) {
	n := strings.TrimSpace(name)
	for _, g := range groupNames {
		if strings.EqualFold(n, g.name) {
			return g.id, nil
		}
		for _, a := range g.aliases {
			if strings.EqualFold(n, a) {
				return g.id, nil
			}
		}
	}
	return 0, fmt.Errorf("--groups: unknown key exchange group %q; valid names: %s", name, strings.Join(GroupNames(), ", "))
}

// max13 reports whether TLS 1.3 may be negotiated; min12 whether TLS 1.2 may.
func (p Profile) may13() bool { return p.MaxVersion == 0 || p.MaxVersion >= tls.VersionTLS13 }
func (p Profile) may12() bool { return p.MinVersion == 0 || p.MinVersion <= tls.VersionTLS12 }

// Check returns an error for settings that cannot work together: no version
// left, suites of a version that cannot be negotiated, groups no version can
// use. goServer says a Go (crypto/tls) server terminates TLS, which cannot
// restrict TLS 1.3 suites except by the client's order; certKey is the server
// certificate's key type when wssbench makes it ("" when unknown).
func (p Profile) Check(goServer bool, certKey KeyType) error {
	if p.MinVersion != 0 && p.MaxVersion != 0 && p.MinVersion > p.MaxVersion {
		return fmt.Errorf("--tls-min %s is above --tls-max %s: no version is left", VersionName(p.MinVersion), VersionName(p.MaxVersion))
	}
	// A list may name suites of both versions (a family, such as AES-256-GCM
	// in 1.2 and 1.3); it must name some of a version that can be negotiated.
	if len(p.Suites13) > 0 && len(p.Suites12) == 0 && !p.may13() {
		return fmt.Errorf("--ciphers names only TLS 1.3 suites (%s) but --tls-max is 1.2; name TLS 1.2 suites or raise --tls-max", suiteList(p.Suites13))
	}
	if len(p.Suites12) > 0 && len(p.Suites13) == 0 && !p.may12() {
		return fmt.Errorf("--ciphers names only TLS 1.2 suites (%s) but --tls-min is 1.3; name TLS 1.3 suites or lower --tls-min", suiteList(p.Suites12))
	}
	if len(p.Suites12) > 0 && len(p.Suites13) == 0 && p.may13() {
		return fmt.Errorf("--ciphers names only TLS 1.2 suites, which do not apply when TLS 1.3 is negotiated; add --tls-max 1.2, or name the TLS 1.3 suites too")
	}
	if len(p.Groups) > 0 && !p.may13() {
		classical := false
		for _, g := range p.Groups {
			classical = classical || !IsHybridPQ(g)
		}
		if !classical {
			return fmt.Errorf("--groups %s are post-quantum hybrids, which only TLS 1.3 can use, but --tls-max is 1.2; add a classical group such as X25519", groupList(p.Groups))
		}
	}
	if goServer && p.may13() && len(p.Suites13) > 0 && !slices.Contains(p.Suites13, tls.TLS_AES_128_GCM_SHA256) && !slices.Contains(p.Suites13, tls.TLS_CHACHA20_POLY1305_SHA256) {
		return fmt.Errorf("--ciphers %s: a Go server (topology direct or builtin) cannot be restricted to it: crypto/tls picks TLS_AES_128_GCM_SHA256, or TLS_CHACHA20_POLY1305_SHA256 when the client leads with ChaCha20; use --topology nginx or haproxy", suiteList(p.Suites13))
	}
	if goServer && p.may13() && p.chachaFirst() {
		for _, id := range p.Suites12 {
			if strings.Contains(tls.CipherSuiteName(id), "_GCM_") {
				return fmt.Errorf("--ciphers: TLS_CHACHA20_POLY1305_SHA256 without TLS_AES_128_GCM_SHA256 is chosen by a Go server only when the client offers no AES-GCM suite first, but %s is one; drop it or use --topology nginx or haproxy", tls.CipherSuiteName(id))
			}
		}
	}
	if certKey != "" && len(p.Suites12) > 0 && p.may12() && !p.may13() {
		if err := checkSuiteAuth(p.Suites12, certKey); err != nil {
			return err
		}
	}
	return nil
}

// chachaFirst reports whether TLS 1.3 is restricted to ChaCha20 without
// AES-128-GCM: a Go server then picks ChaCha20 only if the client leads with it.
func (p Profile) chachaFirst() bool {
	return slices.Contains(p.Suites13, tls.TLS_CHACHA20_POLY1305_SHA256) && !slices.Contains(p.Suites13, tls.TLS_AES_128_GCM_SHA256)
}

// checkSuiteAuth refuses TLS 1.2 suites that none can use with the certificate's key.
func checkSuiteAuth(suites []uint16, kt KeyType) error {
	want := "_ECDSA_"
	if strings.HasPrefix(string(kt), "rsa") {
		want = "_RSA_"
	}
	for _, id := range suites {
		if strings.Contains(tls.CipherSuiteName(id), want) {
			return nil
		}
	}
	return fmt.Errorf("--ciphers %s cannot be used with a %s certificate (TLS 1.2 suites name the key type: pick ...%sWITH... ones, or another --cert-key)", suiteList(suites), kt, want)
}

func suiteList(ids []uint16) string {
	var names []string
	for _, id := range ids {
		names = append(names, tls.CipherSuiteName(id))
	}
	return strings.Join(names, ",")
}

func groupList(ids []tls.CurveID) string {
	var names []string
	for _, id := range ids {
		names = append(names, GroupName(id))
	}
	return strings.Join(names, ",")
}

// clientSuites12 is what the client offers for TLS 1.2: the asked suites; or,
// to make a Go server pick ChaCha20 in TLS 1.3, the ChaCha20 ones only.
func (p Profile) clientSuites12() []uint16 {
	if len(p.Suites12) > 0 || !p.chachaFirst() {
		return p.Suites12
	}
	return []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}
}

// ApplyClient sets the profile's versions, suites, groups and ALPN on a client config.
func (p Profile) ApplyClient(c *tls.Config) {
	c.MinVersion, c.MaxVersion = p.MinVersion, p.MaxVersion
	c.CipherSuites = p.clientSuites12()
	c.CurvePreferences = p.Groups
	c.NextProtos = p.ALPN
}

// ApplyServer sets the profile on a Go server config. TLS 1.3 suites cannot be
// set on a Go server; Check refuses the profiles where that matters.
func (p Profile) ApplyServer(c *tls.Config) {
	c.MinVersion, c.MaxVersion = p.MinVersion, p.MaxVersion
	c.CipherSuites = p.Suites12
	c.CurvePreferences = p.Groups
	c.NextProtos = p.ALPN
}

// Names returns the profile as Settings with canonical names, for passing
// it on to another process.
func (p Profile) Names() Settings {
	var s Settings
	if p.MinVersion != 0 {
		s.Min = versionNumber(p.MinVersion)
	}
	if p.MaxVersion != 0 {
		s.Max = versionNumber(p.MaxVersion)
	}
	for _, id := range append(append([]uint16{}, p.Suites12...), p.Suites13...) {
		s.Ciphers = append(s.Ciphers, tls.CipherSuiteName(id))
	}
	for _, g := range p.Groups {
		s.Groups = append(s.Groups, GroupName(g))
	}
	s.ALPN = p.ALPN
	return s
}

func versionNumber(v uint16) string {
	if v == tls.VersionTLS12 {
		return "1.2"
	}
	return "1.3"
}

// OpenSSLCiphers returns the OpenSSL names of the TLS 1.2 suites (for nginx's
// ssl_ciphers and haproxy's ciphers), in order.
func OpenSSLCiphers(ids []uint16) []string {
	var out []string
	for _, id := range ids {
		if n, ok := opensslSuites[id]; ok {
			out = append(out, n)
		}
	}
	return out
}

// opensslSuites maps the TLS 1.2 suites crypto/tls implements to OpenSSL names.
var opensslSuites = map[uint16]string{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA:          "ECDHE-ECDSA-AES128-SHA",
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA:          "ECDHE-ECDSA-AES256-SHA",
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA:            "ECDHE-RSA-AES128-SHA",
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:            "ECDHE-RSA-AES256-SHA",
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       "ECDHE-ECDSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       "ECDHE-ECDSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         "ECDHE-RSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         "ECDHE-RSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   "ECDHE-RSA-CHACHA20-POLY1305",
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
}

package bench

import (
	"crypto/tls"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/wssbench/wssbench/bench/tlsconf"
)

// resumeTolerance is how far below the asked share the resumed share may
// fall before the run fails: TLS 1.3 tickets that arrive late make a few
// connections of a ramp miss them.
const resumeTolerance = 0.9

// TLSMismatches compares what the handshakes negotiated with what the config
// asked for, and returns one reason per difference: a version outside
// --tls-min/--tls-max, a suite, group or ALPN protocol that was not asked,
// too few resumed sessions, or a server that never asked for the client
// certificate. A run with any of them has not measured what it names.
func (r *Result) TLSMismatches() []string {
	st := r.Stats
	if st == nil || st.Handshakes == 0 {
		return nil
	}
	p := r.Cell.TLS
	var out []string
	allowed := func(v uint16) bool {
		return (p.MinVersion == 0 || v >= p.MinVersion) && (p.MaxVersion == 0 || v <= p.MaxVersion)
	}
	var versions []string
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		if allowed(v) {
			versions = append(versions, tls.VersionName(v))
		}
	}
	if bad := notIn(st.TLSVersions, versions); bad != "" {
		out = append(out, fmt.Sprintf("asked for %s, negotiated %s", strings.Join(versions, " or "), bad))
	}
	if len(p.Suites12)+len(p.Suites13) > 0 {
		var want []string
		for _, id := range append(append([]uint16{}, p.Suites12...), p.Suites13...) {
			want = append(want, tls.CipherSuiteName(id))
		}
		// Suites of a version the user left unrestricted are not a mismatch.
		for name, n := range st.CipherSuites {
			v13 := strings.HasPrefix(name, "TLS_AES_") || strings.HasPrefix(name, "TLS_CHACHA20_")
			restricted := (v13 && len(p.Suites13) > 0) || (!v13 && len(p.Suites12) > 0)
			if restricted && !slices.Contains(want, name) {
				out = append(out, fmt.Sprintf("asked for cipher suites %s, negotiated %s in %d handshakes", strings.Join(want, ","), name, n))
			}
		}
	}
	if len(p.Groups) > 0 {
		var want []string
		for _, g := range p.Groups {
			want = append(want, tlsconf.GroupName(g))
		}
		// A resumed TLS 1.2 session does no key exchange: "none".
		if bad := notIn(st.Groups, append(want, "none")); bad != "" {
			out = append(out, fmt.Sprintf("asked for groups %s, negotiated %s", strings.Join(want, ","), bad))
		}
	}
	if len(p.ALPN) > 0 {
		if bad := notIn(st.ALPN, p.ALPN); bad != "" {
			out = append(out, fmt.Sprintf("asked for ALPN %s, negotiated %s", strings.Join(p.ALPN, ","), bad))
		}
	}
	asked := r.Config.ResumeShare()
	got := float64(st.Resumed) / float64(st.Handshakes)
	switch {
	case asked > 0 && st.Resumed == 0:
		out = append(out, fmt.Sprintf("asked for resumption on %.0f%% of connections, and none of %d handshakes resumed", 100*asked, st.Handshakes))
	case asked > 0 && got < resumeTolerance*asked:
		out = append(out, fmt.Sprintf("asked for resumption on %.0f%% of connections, resumed %.1f%% (%d of %d)", 100*asked, 100*got, st.Resumed, st.Handshakes))
	case asked == 0 && st.Resumed > 0:
		out = append(out, fmt.Sprintf("asked for no resumption, and %d handshakes resumed", st.Resumed))
	}
	if r.Config.ClientCert != "" {
		if full := st.Handshakes - st.Resumed; st.ClientCertRequested < full {
			out = append(out, fmt.Sprintf("asked for mutual TLS, but the server asked for the client certificate in %d of %d full handshakes", st.ClientCertRequested, full))
		}
	}
	return out
}

// notIn lists the names counted in m that want lacks, with their counts.
func notIn(m map[string]int64, want []string) string {
	var bad []string
	for name, n := range m {
		if n > 0 && !slices.Contains(want, name) {
			bad = append(bad, fmt.Sprintf("%s (%d handshakes)", name, n))
		}
	}
	sort.Strings(bad)
	return strings.Join(bad, ", ")
}

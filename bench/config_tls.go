package bench

import (
	"slices"
	"strconv"
	"strings"

	"github.com/wssbench/wssbench/bench/tlsconf"
)

// ClientCertAuto is the ClientCert value that issues a client certificate
// from the built-in target's CA.
const ClientCertAuto = "auto"

// TLSSettings returns the config's TLS settings by name.
func (c *Config) TLSSettings() tlsconf.Settings {
	return tlsconf.Settings{Min: c.TLSMin, Max: c.TLSMax, Ciphers: c.Ciphers, Groups: c.Groups, ALPN: c.ALPN}
}

// TLSProfile resolves the config's TLS settings.
func (c *Config) TLSProfile() (tlsconf.Profile, error) {
	p, err := c.TLSSettings().Resolve()
	if err != nil {
		return p, &InputError{Err: err}
	}
	return p, nil
}

// ResumeShare is the share of connections asked to resume, 0..1.
func (c *Config) ResumeShare() float64 {
	s, _ := ParseShare(c.Resume)
	return s
}

// ParseShare parses a resumption share: "off" or "" (0), "on" (1), "50%" or 0.5.
func ParseShare(s string) (float64, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	switch v {
	case "", "off", "no", "false", "0", "0%":
		return 0, nil
	case "on", "yes", "true", "all", "1", "100%":
		return 1, nil
	}
	scale := 1.0
	if strings.HasSuffix(v, "%") {
		v, scale = strings.TrimSuffix(v, "%"), 100
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f/scale < 0 || f/scale > 1 {
		return 0, inputErr("--resume %q must be off, on, or a share of connections such as 50%% or 0.5", s)
	}
	return f / scale, nil
}

// goServers reports whether a Go server (the built-in target or proxy)
// terminates TLS in one of the config's topologies.
func (c *Config) goServers() bool {
	if c.Target != "" {
		return false
	}
	t := c.topologies()
	return slices.Contains(t, TopologyDirect) || slices.Contains(t, TopologyBuiltin)
}

// checkTLS resolves the TLS settings and checks them: names, combinations
// that cannot work, and what goes with the target.
func (c *Config) checkTLS() (tlsconf.Profile, error) {
	p, err := c.TLSProfile()
	if err != nil {
		return p, err
	}
	fail := func(err error) (tlsconf.Profile, error) { return p, err }
	builtin := c.Target == ""
	plain := !builtin && strings.HasPrefix(c.Target, "ws://")
	asked := c.TLSMin != "" || c.TLSMax != "" || len(c.Ciphers) > 0 || len(c.Groups) > 0 || len(c.ALPN) > 0 ||
		c.Resume != "" && c.ResumeShare() > 0 || c.ClientCert != ""
	if plain && asked {
		return fail(inputErr("TLS settings (--tls-min/max, --ciphers, --groups, --alpn, --resume, --client-cert) need a wss:// target, but --target is %s", c.Target))
	}
	certKey := tlsconf.KeyType("")
	if builtin {
		certKey = tlsconf.KeyType(c.CertKey)
	}
	if err := p.Check(c.goServers(), certKey); err != nil {
		return fail(&InputError{Err: err})
	}
	if _, err := ParseShare(c.Resume); err != nil {
		return fail(err)
	}
	if c.ChainLength < 0 || c.ChainLength > tlsconf.MaxIntermediates {
		return fail(inputErr("--chain-length must be between 0 and %d intermediate CAs (got %d)", tlsconf.MaxIntermediates, c.ChainLength))
	}
	if c.ChainLength > 0 && !builtin {
		return fail(inputErr("--chain-length applies only to the built-in target's certificate; leave it out with --target"))
	}
	switch {
	case c.ClientCert == ClientCertAuto:
		if !builtin {
			return fail(inputErr("--client-cert auto issues a certificate from the built-in target's CA; with --target give --client-cert FILE --client-key FILE"))
		}
		if c.ClientKey != "" {
			return fail(inputErr("--client-key goes with a --client-cert file, not with --client-cert auto"))
		}
	case c.ClientCert != "" || c.ClientKey != "":
		if c.ClientCert == "" || c.ClientKey == "" {
			return fail(inputErr("--client-cert and --client-key go together: give both (or --client-cert auto)"))
		}
		if builtin {
			return fail(inputErr("--client-cert FILE is for a --target of your own; the built-in target trusts only --client-cert auto, which it issues"))
		}
	}
	return p, nil
}

package cli

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// serverTLSFlags are the server-side TLS settings of serve and proxy; wssbench
// run passes the same settings to the servers it starts.
type serverTLSFlags struct {
	settings  tlsconf.Settings
	clientCA  string
	noTickets bool
}

func addServerTLSFlags(fs *pflag.FlagSet) *serverTLSFlags {
	f := &serverTLSFlags{}
	fs.StringVar(&f.settings.Min, "tls-min", "", "lowest TLS version accepted: 1.2 or 1.3")
	fs.StringVar(&f.settings.Max, "tls-max", "", "highest TLS version accepted: 1.2 or 1.3")
	fs.StringSliceVar(&f.settings.Ciphers, "ciphers", nil, "TLS 1.2 cipher suites accepted (IANA names; TLS 1.3 suites cannot be set on a Go server)")
	fs.StringSliceVar(&f.settings.Groups, "groups", nil, "key exchange groups accepted: "+strings.Join(tlsconf.GroupNames(), ", "))
	fs.StringSliceVar(&f.settings.ALPN, "alpn", nil, "application protocols accepted (ALPN)")
	fs.StringVar(&f.clientCA, "client-ca", "", "PEM file of CAs: require a client certificate issued by one of them (mutual TLS)")
	fs.BoolVar(&f.noTickets, "no-tickets", false, "issue no session tickets, so no client can resume")
	return f
}

// apply sets the flags on a server config.
func (f *serverTLSFlags) apply(tc *tls.Config) error {
	p, err := f.settings.Resolve()
	if err != nil {
		return &bench.InputError{Err: err}
	}
	if err := p.Check(true, ""); err != nil {
		return &bench.InputError{Err: err}
	}
	p.ApplyServer(tc)
	tc.SessionTicketsDisabled = f.noTickets
	if f.clientCA != "" {
		pool, err := tlsconf.LoadCAPool(f.clientCA)
		if err != nil {
			return &bench.InputError{Err: fmt.Errorf("--client-ca: %w", err)}
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return nil
}

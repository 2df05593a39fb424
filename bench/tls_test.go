package bench

import (
	"strings"
	"testing"

	"github.com/wssbench/wssbench/bench/driver"
)

func TestCellsExpandTheMatrix(t *testing.T) {
	t.Parallel()
	cfg := Default()
	cfg.Label = "m"
	cfg.Matrix = &Matrix{Topology: []string{"direct", "builtin"}, TLSMax: []string{"1.3", "1.2"},
		Groups: []string{"X25519", "X25519MLKEM768,X25519"}, Size: []int{64, 1024}}
	p, err := cfg.Plan()
	if err != nil {
		t.Fatal(err)
	}
	cells := p.Cells
	if len(cells) != 16 {
		t.Fatalf("%d cells, want 2×2×2×2", len(cells))
	}
	first := cells[0]
	if first.Name != "direct tls_max=1.3 groups=X25519 size=64" || first.Config.Label != "m/"+first.Name {
		t.Errorf("first cell %q label %q", first.Name, first.Config.Label)
	}
	for _, c := range cells {
		if c.Config.Matrix != nil || c.Config.Repeat != 1 || len(c.Config.Topology) != 1 {
			t.Errorf("%s: a cell must be one plain run: %+v", c.Name, c.Config)
		}
		if c.Invalid != nil {
			t.Errorf("%s: %v", c.Name, c.Invalid)
		}
	}
	if g := cells[3].Config.Groups; strings.Join(g, "+") != "X25519MLKEM768+X25519" {
		t.Errorf("a comma list value is one cell's list: %v", g)
	}
	// A value that cannot work with the others marks its cell, not the matrix.
	cfg.Matrix = &Matrix{TLSMax: []string{"1.3", "1.2"}, Groups: []string{"X25519MLKEM768"}}
	if p, err = cfg.Plan(); err != nil {
		t.Fatal(err)
	}
	cells = p.Cells
	if cells[0].Invalid != nil || cells[1].Invalid == nil || !strings.Contains(cells[1].Invalid.Error(), "only TLS 1.3") {
		t.Errorf("invalid marks: %v, %v", cells[0].Invalid, cells[1].Invalid)
	}
	cfg.Matrix = &Matrix{}
	if err := cfg.Validate(); err == nil {
		t.Error("an empty matrix must be refused")
	}
	cfg.Matrix = &Matrix{CertKey: []string{"nope"}}
	if p, err := cfg.Plan(); err != nil || p.Cells[0].Invalid == nil {
		t.Error("an unknown cert key must mark the cell")
	}
}

func TestTLSMismatches(t *testing.T) {
	t.Parallel()
	stats := func(v, suite, group, alpn string, n, resumed, certReq int64) *driver.Stats {
		return &driver.Stats{Handshakes: n, Resumed: resumed, ClientCertRequested: certReq,
			TLSVersions: map[string]int64{v: n}, CipherSuites: map[string]int64{suite: n},
			Groups: map[string]int64{group: n}, ALPN: map[string]int64{alpn: n}}
	}
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		st   *driver.Stats
		want string // "" = none
	}{
		{"as asked", func(c *Config) { c.TLSMax = "1.2"; c.Groups = []string{"P-256"} },
			stats("TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "P-256", "none", 10, 0, 0), ""},
		{"version", func(c *Config) { c.TLSMax = "1.2" },
			stats("TLS 1.3", "TLS_AES_128_GCM_SHA256", "X25519", "none", 10, 0, 0), "asked for TLS 1.2, negotiated TLS 1.3 (10 handshakes)"},
		{"suite", func(c *Config) { c.Ciphers = []string{"TLS_AES_256_GCM_SHA384"} },
			stats("TLS 1.3", "TLS_AES_128_GCM_SHA256", "X25519", "none", 10, 0, 0), "negotiated TLS_AES_128_GCM_SHA256"},
		{"unrestricted version's suite", func(c *Config) { c.Ciphers = []string{"TLS_AES_256_GCM_SHA384"} },
			stats("TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "X25519", "none", 10, 0, 0), ""},
		{"group", func(c *Config) { c.Groups = []string{"X25519"} },
			stats("TLS 1.3", "TLS_AES_128_GCM_SHA256", "P-256", "none", 10, 0, 0), "asked for groups X25519, negotiated P-256"},
		{"resumed TLS 1.2 has no group", func(c *Config) { c.Groups = []string{"X25519"}; c.Resume = "on" },
			stats("TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "none", "none", 10, 10, 0), ""},
		{"nothing resumed", func(c *Config) { c.Resume = "on" },
			stats("TLS 1.3", "TLS_AES_128_GCM_SHA256", "X25519", "none", 10, 0, 0), "none of 10 handshakes resumed"},
		{"too few resumed", func(c *Config) { c.Resume = "50%" },
			stats("TLS 1.3", "TLS_AES_128_GCM_SHA256", "X25519", "none", 10, 2, 0), "resumed 20.0%"},
		{"resumed unasked", func(c *Config) {},
			stats("TLS 1.3", "TLS_AES_128_GCM_SHA256", "X25519", "none", 10, 3, 0), "asked for no resumption"},
		{"alpn", func(c *Config) { c.ALPN = []string{"http/1.1"} },
			stats("TLS 1.3", "TLS_AES_128_GCM_SHA256", "X25519", "none", 10, 0, 0), "asked for ALPN http/1.1, negotiated none"},
		{"mtls not asked by server", func(c *Config) { c.ClientCert = ClientCertAuto },
			stats("TLS 1.3", "TLS_AES_128_GCM_SHA256", "X25519", "none", 10, 0, 4), "in 4 of 10 full handshakes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Default()
			tc.cfg(&cfg)
			// Some of these settings cannot be planned (a Go server cannot be
			// restricted so): the check compares what was asked with the profile.
			cell := &Cell{Config: cfg, Topology: TopologyDirect}
			var err error
			if cell.TLS, err = cfg.TLSProfile(); err != nil {
				t.Fatal(err)
			}
			got := strings.Join((&Result{Config: cfg, Cell: cell, Stats: tc.st}).TLSMismatches(), "; ")
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("mismatches %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseShare(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"": 0, "off": 0, "on": 1, "50%": 0.5, "0.25": 0.25, "100%": 1} {
		if got, err := ParseShare(in); err != nil || got != want {
			t.Errorf("ParseShare(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"150%", "-1", "half", "2"} {
		if _, err := ParseShare(in); err == nil || !IsInputError(err) {
			t.Errorf("ParseShare(%q) = %v, want an input error", in, err)
		}
	}
}

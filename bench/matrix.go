package bench

import (
	"strconv"
	"strings"
)

// Matrix lists values to try for some settings; a run of a config with a
// Matrix runs every combination (a cell), interleaved over Repeat. A value of
// a list setting (ciphers, groups, alpn) is one comma-separated list, so
// `groups: [X25519, "X25519,P-256"]` makes two cells.
type Matrix struct {
	Topology    []string `yaml:"topology,omitempty" json:"topology,omitempty"`
	TLSMax      []string `yaml:"tls_max,omitempty" json:"tls_max,omitempty"`
	TLSMin      []string `yaml:"tls_min,omitempty" json:"tls_min,omitempty"`
	Ciphers     []string `yaml:"ciphers,omitempty" json:"ciphers,omitempty"`
	Groups      []string `yaml:"groups,omitempty" json:"groups,omitempty"`
	CertKey     []string `yaml:"cert_key,omitempty" json:"cert_key,omitempty"`
	ChainLength []int    `yaml:"chain_length,omitempty" json:"chain_length,omitempty"`
	Resume      []string `yaml:"resume,omitempty" json:"resume,omitempty"`
	ALPN        []string `yaml:"alpn,omitempty" json:"alpn,omitempty"`
	Size        []int    `yaml:"size,omitempty" json:"size,omitempty"`
}

// MaxCells bounds how many cells one matrix may expand into.
const MaxCells = 256

// axis is one setting a matrix varies.
type axis struct {
	name   string
	values []string
	set    func(c *Config, v string)
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func ints(v []int) []string {
	out := make([]string, len(v))
	for i, n := range v {
		out[i] = strconv.Itoa(n)
	}
	return out
}

// axes returns the matrix's settings in a fixed order, leaving out empty ones.
func (m *Matrix) axes() []axis {
	if m == nil {
		return nil
	}
	all := []axis{
		{"tls_max", m.TLSMax, func(c *Config, v string) { c.TLSMax = v }},
		{"tls_min", m.TLSMin, func(c *Config, v string) { c.TLSMin = v }},
		{"ciphers", m.Ciphers, func(c *Config, v string) { c.Ciphers = splitList(v) }},
		{"groups", m.Groups, func(c *Config, v string) { c.Groups = splitList(v) }},
		{"cert_key", m.CertKey, func(c *Config, v string) { c.CertKey = v }},
		{"chain_length", ints(m.ChainLength), func(c *Config, v string) { c.ChainLength, _ = strconv.Atoi(v) }},
		{"resume", m.Resume, func(c *Config, v string) { c.Resume = v }},
		{"alpn", m.ALPN, func(c *Config, v string) { c.ALPN = splitList(v) }},
		{"size", ints(m.Size), func(c *Config, v string) { c.PayloadBytes, _ = strconv.Atoi(v) }},
	}
	var out []axis
	for _, a := range all {
		if len(a.values) > 0 {
			out = append(out, a)
		}
	}
	return out
}

// validate checks the matrix's shape; each cell is checked on its own by Plan.
func (m *Matrix) validate() error {
	if m != nil && len(m.axes()) == 0 && len(m.Topology) == 0 {
		return inputErr("matrix has no values: give at least one setting a list, such as `tls_max: [\"1.2\", \"1.3\"]`")
	}
	return nil
}

// topologies returns the topologies a config runs: the matrix's, else its own, else direct.
func (c *Config) topologies() []string {
	if c.Matrix != nil && len(c.Matrix.Topology) > 0 {
		return c.Matrix.Topology
	}
	if len(c.Topology) > 0 {
		return c.Topology
	}
	return []string{TopologyDirect}
}

// expand expands the config into the cells of a series, unresolved: one per
// topology for a comparison, times every combination of the matrix's values.
// The first cell (the first value of every setting) is the baseline.
func (c *Config) expand() []*Cell {
	base := *c
	base.Matrix, base.Repeat = nil, 1
	axes := c.Matrix.axes()
	type partial struct {
		cfg   Config
		parts []string
	}
	cells := []partial{{cfg: base}}
	for _, a := range axes {
		var next []partial
		for _, p := range cells {
			for _, v := range a.values {
				cfg := p.cfg
				a.set(&cfg, v)
				next = append(next, partial{cfg: cfg, parts: append(append([]string{}, p.parts...), a.name+"="+v)})
			}
		}
		cells = next
	}
	var out []*Cell
	for _, t := range c.topologies() {
		for _, p := range cells {
			cfg := p.cfg
			cfg.Topology = []string{t}
			name := t
			if len(p.parts) > 0 {
				name = strings.Join(append([]string{t}, p.parts...), " ")
			}
			cfg.Label = name
			if c.Label != "" {
				cfg.Label = c.Label + "/" + name
			}
			out = append(out, &Cell{Name: name, Config: cfg, Topology: t})
		}
	}
	return out
}

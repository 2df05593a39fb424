// Package workload compiles what a connection says and expects beyond an
// echo: frame templates, expect tests, the numbers a reply or a delivery
// carries (its request's sequence, its publisher's send time), the split of
// a run's connections into roles, and the piecewise-linear shape of a staged
// run. It does no I/O: bench/driver runs what it compiles.
package workload

import (
	"fmt"
	"strconv"
	"strings"
)

// The template variables, as written between {{ and }}.
const (
	// VarConn is the connection's id (0-based, unique in the run).
	VarConn = "conn"
	// VarSeq is the frame's sequence on its connection (0, 1, ...).
	VarSeq = "seq"
	// VarNowNs is the send time, in Unix nanoseconds.
	VarNowNs = "now_ns"
	// VarRandom N is N random letters and digits.
	VarRandom = "random"
	// VarRole is the connection's role name.
	VarRole = "role"
	// VarIndex is the connection's index within its role (0-based).
	VarIndex = "index"
)

// Variables lists the template variables, as their help says them.
func Variables() []string {
	return []string{VarConn, VarSeq, VarNowNs, VarRandom + " N", VarRole, VarIndex}
}

type varKind uint8

const (
	lit varKind = iota
	vConn
	vSeq
	vNowNs
	vRandom
	vRole
	vIndex
)

type part struct {
	kind varKind
	lit  string
	n    int // random's length
}

// Template is a compiled frame template: literal text and variables, rendered
// by appending to a buffer without allocating.
type Template struct {
	src   string
	parts []part
	// hasNow and hasSeq say whether the template carries the send time and
	// the sequence.
	hasNow, hasSeq bool
}

// Source is the template as written.
func (t *Template) Source() string { return t.src }

// HasVar reports whether the template uses variable name.
func (t *Template) HasVar(name string) bool {
	for _, p := range t.parts {
		if p.kind != lit && kindName(p.kind) == name {
			return true
		}
	}
	return false
}

func kindName(k varKind) string {
	switch k {
	case vConn:
		return VarConn
	case vSeq:
		return VarSeq
	case vNowNs:
		return VarNowNs
	case vRandom:
		return VarRandom
	case vRole:
		return VarRole
	case vIndex:
		return VarIndex
	}
	return ""
}

// maxRandom bounds {{random N}}.
const maxRandom = 1 << 20

// ParseTemplate compiles src. A variable it does not know, or one written
// wrongly, is an error that lists the variables.
func ParseTemplate(src string) (*Template, error) {
	t := &Template{src: src}
	rest := src
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if strings.Contains(rest, "}}") {
				return nil, fmt.Errorf("template %q has a }} without its {{", src)
			}
			t.addLit(rest)
			return t, nil
		}
		t.addLit(rest[:i])
		rest = rest[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return nil, fmt.Errorf("template %q has a {{ without its }}", src)
		}
		p, err := parseVar(strings.TrimSpace(rest[:j]))
		if err != nil {
			return nil, fmt.Errorf("template %q: %v", src, err)
		}
		t.parts = append(t.parts, p)
		t.hasNow = t.hasNow || p.kind == vNowNs
		t.hasSeq = t.hasSeq || p.kind == vSeq
		rest = rest[j+2:]
	}
}

func (t *Template) addLit(s string) {
	if s != "" {
		t.parts = append(t.parts, part{kind: lit, lit: s})
	}
}

func parseVar(s string) (part, error) {
	f := strings.Fields(s)
	known := "the variables are " + strings.Join(Variables(), ", ")
	if len(f) == 0 {
		return part{}, fmt.Errorf("{{}} names no variable; %s", known)
	}
	name := f[0]
	kinds := map[string]varKind{VarConn: vConn, VarSeq: vSeq, VarNowNs: vNowNs, VarRole: vRole, VarIndex: vIndex, VarRandom: vRandom}
	k, ok := kinds[name]
	if !ok {
		return part{}, fmt.Errorf("unknown variable {{%s}}; %s", s, known)
	}
	if k == vRandom {
		if len(f) != 2 {
			return part{}, fmt.Errorf("{{%s}} needs one size, such as {{random 32}}", s)
		}
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 1 || n > maxRandom {
			return part{}, fmt.Errorf("{{%s}}: the size must be a whole number from 1 to %d", s, maxRandom)
		}
		return part{kind: vRandom, n: n}, nil
	}
	if len(f) != 1 {
		return part{}, fmt.Errorf("{{%s}}: %s takes no argument", s, name)
	}
	return part{kind: k}, nil
}

// Vars are the values a template is rendered with.
type Vars struct {
	Conn, Index int
	Seq         uint32
	NowNs       int64
	Role        string
	// Rand fills random variables; nil renders them as 'x'.
	Rand *Rand
}

// Append renders t with v onto dst.
func (t *Template) Append(dst []byte, v *Vars) []byte {
	for _, p := range t.parts {
		switch p.kind {
		case lit:
			dst = append(dst, p.lit...)
		case vConn:
			dst = strconv.AppendInt(dst, int64(v.Conn), 10)
		case vSeq:
			dst = strconv.AppendUint(dst, uint64(v.Seq), 10)
		case vNowNs:
			dst = strconv.AppendInt(dst, v.NowNs, 10)
		case vRole:
			dst = append(dst, v.Role...)
		case vIndex:
			dst = strconv.AppendInt(dst, int64(v.Index), 10)
		case vRandom:
			dst = v.Rand.append(dst, p.n)
		}
	}
	return dst
}

// Rand is a small per-connection generator of random letters and digits
// (xorshift: not for secrets, only for payload bytes).
type Rand struct{ s uint64 }

// NewRand returns a generator seeded from seed.
func NewRand(seed uint64) *Rand { return &Rand{s: seed*0x9E3779B97F4A7C15 + 1} }

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func (r *Rand) append(dst []byte, n int) []byte {
	if r == nil {
		for range n {
			dst = append(dst, 'x')
		}
		return dst
	}
	for range n {
		r.s ^= r.s << 13
		r.s ^= r.s >> 7
		r.s ^= r.s << 17
		dst = append(dst, alnum[r.s%uint64(len(alnum))])
	}
	return dst
}

// Uint64 returns a random number.
func (r *Rand) Uint64() uint64 {
	r.s ^= r.s << 13
	r.s ^= r.s >> 7
	r.s ^= r.s << 17
	return r.s
}

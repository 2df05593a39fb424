package workload

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Latency modes: how a frame's latency is taken.
type LatencyMode uint8

// The latency modes.
const (
	// Echo: the frame comes back as sent; latency from its scheduled send.
	Echo LatencyMode = iota
	// Reply: an answer carries its request's sequence; latency from the
	// request's scheduled send.
	Reply
	// Stamp: frames carry their publisher's send time (Unix ns); latency is
	// one-way, from that time to the frame's arrival.
	Stamp
)

// Plan is a compiled workload: how latency is taken and what each role does.
type Plan struct {
	Mode LatencyMode
	// Extract finds the number a reply (its request's seq) or a delivery
	// (its send time) carries; nil for Echo.
	Extract *Extractor
	// Roles are the roles in config order; a run without roles has one,
	// unnamed ("").
	Roles []*Role
	// role and index give each connection id its role and its index in it.
	role  []uint8
	index []int32
}

// Role is what the connections of one role do.
type Role struct {
	// Name is "" for the one role of a run without roles.
	Name string
	// Planned is how many connections the role has.
	Planned int
	// Steps run as each connection comes up.
	Steps []Step
	// Send is the steady frames' template; nil: receive only, unless
	// EchoPayload.
	Send *Template
	// EchoPayload sends the stamped echo payload (no template: today's echo).
	EchoPayload bool
	// Rate is frames per second per connection (0 with Send: closed loop).
	Rate   float64
	Binary bool
}

// Sends reports whether the role sends in the steady window.
func (r *Role) Sends() bool { return r.Send != nil || r.EchoPayload }

// Step is one compiled step: a send, or an expect with its timeout.
type Step struct {
	Send    *Template
	Binary  bool
	Expect  *Matcher
	Timeout time.Duration
}

// Share is a role's claim on the connections: a count, a fraction, or the rest.
type Share struct {
	Count    int
	Fraction float64
	Rest     bool
}

// ParseShare reads "1%", "0.5%", "rest" (a count is given separately).
func ParseShare(s string) (Share, error) {
	s = strings.TrimSpace(s)
	if s == "rest" {
		return Share{Rest: true}, nil
	}
	num, ok := strings.CutSuffix(s, "%")
	if !ok {
		return Share{}, fmt.Errorf("share %q must be a percentage such as 1%% or \"rest\" (or give count: N instead)", s)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v <= 0 || v > 100 {
		return Share{}, fmt.Errorf("share %q must be a percentage above 0%% and at most 100%%", s)
	}
	return Share{Fraction: v / 100}, nil
}

// Split gives each share its number of conns: counts as given, fractions
// rounded to the nearest (at least 1), the rest what is left. Shares that
// add up to more than conns, two rests, or a rest left with nothing are errors.
func Split(conns int, shares []Share) ([]int, error) {
	out := make([]int, len(shares))
	used, rest := 0, -1
	for i, s := range shares {
		switch {
		case s.Rest:
			if rest >= 0 {
				return nil, fmt.Errorf("roles %d and %d both take the rest; one role may", rest+1, i+1)
			}
			rest = i
			continue
		case s.Count > 0:
			out[i] = s.Count
		default:
			out[i] = max(1, int(s.Fraction*float64(conns)+0.5))
		}
		used += out[i]
	}
	if used > conns {
		return nil, fmt.Errorf("the roles take %d connections, more than the %d of the run", used, conns)
	}
	if rest >= 0 {
		out[rest] = conns - used
		if out[rest] == 0 {
			return nil, fmt.Errorf("role %d takes the rest, but the others take all %d connections", rest+1, conns)
		}
	} else if used < conns {
		return nil, fmt.Errorf("the roles take %d of the %d connections; give one role share: rest, or make them add up", used, conns)
	}
	return out, nil
}

// NewPlan assigns conns connection ids to roles (counts from Split, in the
// order of roles), interleaved so that every stretch of ids holds each role
// in proportion: 1% publishers are spread over the rooms a server fills in
// connection order, not packed into the first.
func NewPlan(mode LatencyMode, ex *Extractor, roles []*Role, counts []int) *Plan {
	p := &Plan{Mode: mode, Extract: ex, Roles: roles}
	n := 0
	for i, r := range roles {
		r.Planned = counts[i]
		n += counts[i]
	}
	p.role = make([]uint8, n)
	p.index = make([]int32, n)
	given := make([]int, len(roles))
	for id := range n {
		// The role furthest behind its share of the ids so far goes next.
		best, bestLag := 0, -1.0
		for r, c := range counts {
			if given[r] >= c {
				continue
			}
			lag := float64(id+1)*float64(c)/float64(n) - float64(given[r])
			if lag > bestLag {
				best, bestLag = r, lag
			}
		}
		p.role[id] = uint8(best)
		p.index[id] = int32(given[best])
		given[best]++
	}
	return p
}

// RoleOf returns connection id's role (its index in Roles) and its index
// within the role. Ids past the plan wrap around.
func (p *Plan) RoleOf(id int) (role, index int) {
	if len(p.role) == 0 {
		return 0, id
	}
	id %= len(p.role)
	return int(p.role[id]), int(p.index[id])
}

// Resize returns the plan for n connections (one process's share of a
// split run): each role's count scaled to n by the largest remainder, every
// role keeping at least one connection where n allows.
func (p *Plan) Resize(n int) *Plan {
	total := len(p.role)
	if n == total || total == 0 {
		return p
	}
	counts := make([]int, len(p.Roles))
	rems := make([]float64, len(p.Roles))
	used := 0
	for i, r := range p.Roles {
		exact := float64(r.Planned) * float64(n) / float64(total)
		counts[i] = int(exact)
		rems[i] = exact - float64(counts[i])
		used += counts[i]
	}
	for ; used < n; used++ {
		best := 0
		for i := range rems {
			if rems[i] > rems[best] {
				best = i
			}
		}
		counts[best]++
		rems[best] = -1
	}
	roles := make([]*Role, len(p.Roles))
	for i, r := range p.Roles {
		c := *r
		roles[i] = &c
	}
	return NewPlan(p.Mode, p.Extract, roles, counts)
}

package env

import "github.com/wssbench/wssbench/bench/proxy/external"

// Topology is who terminates TLS in front of the built-in echo target.
type Topology string

// The topologies a run can start.
const (
	// Direct: the target terminates TLS itself.
	Direct Topology = "direct"
	// Builtin: wssbench's own proxy terminates TLS and forwards ws:// to the target.
	Builtin Topology = "builtin"
	// Nginx: nginx terminates TLS.
	Nginx Topology = "nginx"
	// HAProxy: haproxy terminates TLS.
	HAProxy Topology = "haproxy"
)

// layout is what a topology starts in front of the target. A topology with a
// proxy runs the target plain (ws://).
type layout struct {
	name Topology
	// builtin: the built-in proxy terminates TLS.
	builtin bool
	// external is the program that terminates TLS; "" for none.
	external external.Kind
}

// topologies is the one table of topologies, in the order Topologies lists them.
var topologies = []layout{
	{Direct, false, ""},
	{Builtin, true, ""},
	{Nginx, false, external.Nginx},
	{HAProxy, false, external.HAProxy},
}

// Topologies lists the valid topologies.
func Topologies() []Topology {
	out := make([]Topology, len(topologies))
	for i, t := range topologies {
		out[i] = t.name
	}
	return out
}

// Valid reports whether t is one of Topologies.
func (t Topology) Valid() bool {
	_, ok := t.row()
	return ok
}

// Proxied reports whether a proxy terminates TLS, so the target serves plain ws://.
func (t Topology) Proxied() bool {
	r, _ := t.row()
	return r.builtin || r.external != ""
}

// ExternalProxy is the program that terminates TLS (nginx, haproxy), or "" where
// the target or the built-in proxy does.
func (t Topology) ExternalProxy() external.Kind {
	r, _ := t.row()
	return r.external
}

func (t Topology) row() (layout, bool) {
	for _, r := range topologies {
		if r.name == t {
			return r, true
		}
	}
	return layout{name: t}, false
}

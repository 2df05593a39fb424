// Package threshold parses and checks threshold expressions such as
// "ws_rtt.p99 < 5ms" or "errors.rate < 0.1%" against the catalogue of metric
// names a wssbench report carries. It knows names, units and directions, not
// reports: the engine validates expressions with it before any load is sent,
// and reports looks the measured figures up by the same names.
package threshold

import "strings"

// Kind is what a metric measures, which fixes the units its values take.
type Kind int

// The kinds of metric.
const (
	// Latency is a duration, held in microseconds; values need a unit (ns, us, µs, ms, s).
	Latency Kind = iota
	// CostUs is CPU microseconds per operation; values are plain microseconds or carry a time unit.
	CostUs
	// Ratio is a fraction of 1; values are a percentage (0.1%): a bare number other than 0 is refused (see ParsePercent).
	Ratio
	// Count is a number of things; values are plain numbers.
	Count
	// PerSecond is a rate; values are plain numbers, optionally written with /s.
	PerSecond
)

// Unit names the unit a kind's values are held in, as written in reports.
func (k Kind) Unit() string {
	switch k {
	case Latency, CostUs:
		return "us"
	case Ratio:
		return "ratio"
	case PerSecond:
		return "per_s"
	}
	return "count"
}

// Info describes one metric a threshold or a comparison can name.
type Info struct {
	// Name is the full name, such as "ws_rtt.p99" or "errors.rate".
	Name string
	// Kind fixes the units of its values.
	Kind Kind
	// HigherIsBetter is set for rates and counts of successes; latency, cost
	// and errors are better lower.
	HigherIsBetter bool
	// Doc says what it is, in a few words.
	Doc string
	// ByStage and ByRole are set for a metric a selector may narrow to one
	// stage ([stage=NAME]) or one role ([role=NAME]) of the run.
	ByStage, ByRole bool
}

// Histograms are the latency distributions of a report, by metric name.
// delivery is the one-way delivery latency of stamped frames (their
// publisher's send time to their arrival).
var Histograms = []string{"tcp_connect", "tls_handshake", "ws_upgrade", "connect_total", "ws_rtt", "ws_rtt_uncorrected", "delivery"}

// StormHistograms are the handshakes of the connections that reconnected
// after a reconnect storm, from the drop until full strength.
var StormHistograms = []string{"storm.tls_handshake", "storm.connect_total"}

// roleHistograms are the histograms a role has: ws_rtt is the role's
// request-to-answer latency (echo or reply), delivery its stamped frames'.
var roleHistograms = map[string]bool{"ws_rtt": true, "delivery": true}

// Stats are the statistics of every histogram.
var Stats = []string{"p50", "p90", "p99", "p999", "max", "mean", "min"}

// scalars are the metrics that are one figure each.
var scalars = []Info{
	{Name: "send_lag.p99", Kind: Latency, Doc: "99th percentile of how late frames left against their schedule (driver health)"},
	{Name: "errors.rate", Kind: Ratio, Doc: "errors over connection attempts plus frames sent"},
	{Name: "errors.count", Kind: Count, Doc: "errors of every class", ByStage: true, ByRole: true},
	{Name: "connections.attempted", Kind: Count, HigherIsBetter: true, Doc: "connection attempts"},
	{Name: "connections.established", Kind: Count, HigherIsBetter: true, Doc: "connections that completed TCP, TLS and upgrade", ByStage: true, ByRole: true},
	{Name: "connections.failed", Kind: Count, Doc: "connection attempts that failed"},
	{Name: "frames.sent", Kind: Count, HigherIsBetter: true, Doc: "data frames sent", ByStage: true, ByRole: true},
	{Name: "frames.received", Kind: Count, HigherIsBetter: true, Doc: "data frames received (echoes, replies, deliveries)", ByStage: true, ByRole: true},
	{Name: "frames.lost", Kind: Count, Doc: "frames sent and never echoed"},
	{Name: "frames.rate", Kind: PerSecond, HigherIsBetter: true, Doc: "frames received per second of the steady phase (of the stage, with [stage=NAME])", ByStage: true},
	{Name: "connect_rate", Kind: PerSecond, HigherIsBetter: true, Doc: "connections established per second of the connect phase (handshakes/s in a storm)"},
	{Name: "driver_us_per_handshake", Kind: CostUs, Doc: "driver CPU per connection established"},
	{Name: "driver_us_per_frame", Kind: CostUs, Doc: "driver CPU per echoed frame"},
	{Name: "target_us_per_handshake", Kind: CostUs, Doc: "built-in target's CPU per connection established"},
	{Name: "target_us_per_frame", Kind: CostUs, Doc: "built-in target's CPU per echoed frame"},
	{Name: "proxy_us_per_handshake", Kind: CostUs, Doc: "proxy's CPU per connection established"},
	{Name: "proxy_us_per_frame", Kind: CostUs, Doc: "proxy's CPU per echoed frame"},
	{Name: "server_us_per_handshake", Kind: CostUs, Doc: "target plus proxy CPU per connection established"},
	{Name: "server_us_per_frame", Kind: CostUs, Doc: "target plus proxy CPU per echoed frame"},
	{Name: "reach", Kind: Ratio, HigherIsBetter: true, Doc: "stamped frames received over the frames the server owed (delivery runs)"},
	{Name: "storm.back_to_full", Kind: Latency, Doc: "time from a reconnect storm's drop until the run was back to full strength"},
	{Name: "storm.dropped", Kind: Count, Doc: "connections a reconnect storm dropped"},
	{Name: "storm.reconnected", Kind: Count, HigherIsBetter: true, Doc: "dropped connections that came back"},
	{Name: "storm.failed", Kind: Count, Doc: "reconnect attempts that failed"},
}

var catalogue = build()

func build() map[string]Info {
	m := map[string]Info{}
	for _, h := range Histograms {
		for _, s := range Stats {
			n := h + "." + s
			m[n] = Info{Name: n, Kind: Latency, Doc: s + " of " + h, ByStage: true, ByRole: roleHistograms[h]}
		}
	}
	for _, h := range StormHistograms {
		for _, s := range Stats {
			n := h + "." + s
			m[n] = Info{Name: n, Kind: Latency, Doc: s + " of the reconnect storm's " + strings.TrimPrefix(h, "storm.")}
		}
	}
	for _, s := range scalars {
		m[s.Name] = s
	}
	return m
}

// Lookup returns the metric called name.
func Lookup(name string) (Info, bool) {
	i, ok := catalogue[name]
	return i, ok
}

// Names returns every metric name: each histogram (the run's, then the
// storm's) with each statistic, then the single figures, in a stable order.
func Names() []string {
	var out []string
	for _, h := range append(append([]string{}, Histograms...), StormHistograms...) {
		for _, s := range Stats {
			out = append(out, h+"."+s)
		}
	}
	for _, s := range scalars {
		out = append(out, s.Name)
	}
	return out
}

// Summary lists the valid names compactly, for error messages.
func Summary() string {
	var sc []string
	for _, s := range scalars {
		sc = append(sc, s.Name)
	}
	return "histograms " + strings.Join(append(append([]string{}, Histograms...), StormHistograms...), ", ") +
		" with ." + strings.Join(Stats, " .") + "; and " + strings.Join(sc, ", ") +
		"; narrow one to a stage or a role with [stage=NAME] or [role=NAME]"
}

// Selectable returns the metrics a selector key ("stage" or "role") may
// narrow, compactly: "ws_rtt.*, delivery.*, frames.sent, ...".
func Selectable(key string) string {
	var out []string
	for _, h := range Histograms {
		if key == SelectStage || roleHistograms[h] {
			out = append(out, h+".*")
		}
	}
	for _, s := range scalars {
		if (key == SelectStage && s.ByStage) || (key == SelectRole && s.ByRole) {
			out = append(out, s.Name)
		}
	}
	return strings.Join(out, ", ")
}

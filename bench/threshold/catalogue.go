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
}

// Histograms are the latency distributions of a report, by metric name.
var Histograms = []string{"tcp_connect", "tls_handshake", "ws_upgrade", "connect_total", "ws_rtt", "ws_rtt_uncorrected"}

// Stats are the statistics of every histogram.
var Stats = []string{"p50", "p90", "p99", "p999", "max", "mean", "min"}

// scalars are the metrics that are one figure each.
var scalars = []Info{
	{Name: "send_lag.p99", Kind: Latency, Doc: "99th percentile of how late frames left against their schedule (driver health)"},
	{Name: "errors.rate", Kind: Ratio, Doc: "errors over connection attempts plus frames sent"},
	{Name: "errors.count", Kind: Count, Doc: "errors of every class"},
	{Name: "connections.attempted", Kind: Count, HigherIsBetter: true, Doc: "connection attempts"},
	{Name: "connections.established", Kind: Count, HigherIsBetter: true, Doc: "connections that completed TCP, TLS and upgrade"},
	{Name: "connections.failed", Kind: Count, Doc: "connection attempts that failed"},
	{Name: "frames.sent", Kind: Count, HigherIsBetter: true, Doc: "echo frames sent"},
	{Name: "frames.received", Kind: Count, HigherIsBetter: true, Doc: "echo frames received back"},
	{Name: "frames.lost", Kind: Count, Doc: "frames sent and never echoed"},
	{Name: "frames.rate", Kind: PerSecond, HigherIsBetter: true, Doc: "frames echoed per second of the steady phase"},
	{Name: "connect_rate", Kind: PerSecond, HigherIsBetter: true, Doc: "connections established per second of the connect phase (handshakes/s in a storm)"},
	{Name: "driver_us_per_handshake", Kind: CostUs, Doc: "driver CPU per connection established"},
	{Name: "driver_us_per_frame", Kind: CostUs, Doc: "driver CPU per echoed frame"},
	{Name: "target_us_per_handshake", Kind: CostUs, Doc: "built-in target's CPU per connection established"},
	{Name: "target_us_per_frame", Kind: CostUs, Doc: "built-in target's CPU per echoed frame"},
	{Name: "proxy_us_per_handshake", Kind: CostUs, Doc: "proxy's CPU per connection established"},
	{Name: "proxy_us_per_frame", Kind: CostUs, Doc: "proxy's CPU per echoed frame"},
	{Name: "server_us_per_handshake", Kind: CostUs, Doc: "target plus proxy CPU per connection established"},
	{Name: "server_us_per_frame", Kind: CostUs, Doc: "target plus proxy CPU per echoed frame"},
}

var catalogue = build()

func build() map[string]Info {
	m := map[string]Info{}
	for _, h := range Histograms {
		for _, s := range Stats {
			n := h + "." + s
			m[n] = Info{Name: n, Kind: Latency, Doc: s + " of " + h}
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

// Names returns every metric name: each histogram with each statistic, then
// the single figures, in a stable order.
func Names() []string {
	var out []string
	for _, h := range Histograms {
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
	return "histograms " + strings.Join(Histograms, ", ") + " with ." + strings.Join(Stats, " .") +
		"; and " + strings.Join(sc, ", ")
}

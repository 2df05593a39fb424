package telemetry

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wssbench/wssbench/bench/metrics"
)

// Metric names, beside the latency histograms wssbench_NAME_seconds.
const (
	ConnectionsTotal  = "wssbench_connections_total"             // {outcome="attempted|established|failed"}
	FramesTotal       = "wssbench_frames_total"                  // {direction="sent|received|lost|delivered"}
	ErrorsTotal       = "wssbench_errors_total"                  // {class}
	HandshakesTotal   = "wssbench_handshakes_total"              // {version}: completed TLS handshakes by version
	HandshakeSuites   = "wssbench_handshake_cipher_suites_total" // {cipher_suite}
	HandshakeGroups   = "wssbench_handshake_groups_total"        // {group}
	HandshakesResumed = "wssbench_handshakes_resumed_total"
	OpenConnections   = "wssbench_open_connections"
	TargetConnections = "wssbench_target_connections"
	Phase             = "wssbench_phase" // {phase}: 1 for the current cell's phase
)

// LatencyName is the name of metric m's histogram.
func LatencyName(m metrics.Metric) string { return "wssbench_" + m.Name() + "_seconds" }

type descs struct {
	conns, frames, errors, versions, suites, groups, resumed, open, target, phase *prometheus.Desc
	hist                                                                          [metrics.NumMetrics]*prometheus.Desc
}

func newDescs(l Labels) descs {
	c := prometheus.Labels{"run": l.Run, "topology": l.Topology, "shard": l.Shard}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append([]string{"cell"}, labels...), c)
	}
	ds := descs{
		conns:    d(ConnectionsTotal, "Connections attempted, established and failed.", "outcome"),
		frames:   d(FramesTotal, "Frames sent, echoes received, frames lost and stamped frames delivered.", "direction"),
		errors:   d(ErrorsTotal, "Errors by class.", "class"),
		versions: d(HandshakesTotal, "TLS handshakes completed, by negotiated version.", "version"),
		suites:   d(HandshakeSuites, "TLS handshakes completed, by negotiated cipher suite.", "cipher_suite"),
		groups:   d(HandshakeGroups, "TLS handshakes completed, by negotiated key exchange group.", "group"),
		resumed:  d(HandshakesResumed, "TLS handshakes that resumed a session."),
		open:     d(OpenConnections, "Connections open now."),
		target:   d(TargetConnections, "Connections the run aims for."),
		phase:    d(Phase, "1 for the phase the current run is in.", "phase"),
	}
	for _, m := range Latency {
		ds.hist[m] = d(LatencyName(m), "Latency of "+m.Name()+" in seconds (native and classic buckets, from the run's HdrHistograms).")
	}
	return ds
}

// Describe sends every descriptor the Exporter may expose.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	d := e.desc
	for _, x := range []*prometheus.Desc{d.conns, d.frames, d.errors, d.versions, d.suites, d.groups, d.resumed, d.open, d.target, d.phase} {
		ch <- x
	}
	for _, m := range Latency {
		ch <- d.hist[m]
	}
}

// Collect sends what every cell has counted so far.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	d := &e.desc
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.cells {
		n := c.base.plus(c.last)
		counter := func(desc *prometheus.Desc, v int64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), append([]string{c.name}, labels...)...)
		}
		counter(d.conns, n.attempted, "attempted")
		counter(d.conns, n.established, "established")
		counter(d.conns, n.failed, "failed")
		counter(d.frames, n.sent, "sent")
		counter(d.frames, n.received, "received")
		counter(d.frames, n.lost, "lost")
		counter(d.frames, n.delivered, "delivered")
		counter(d.resumed, n.resumed)
		for _, t := range []struct {
			desc *prometheus.Desc
			m    map[string]int64
		}{{d.errors, n.errors}, {d.versions, n.versions}, {d.suites, n.suites}, {d.groups, n.groups}} {
			for _, k := range sortedKeys(t.m) {
				counter(t.desc, t.m[k], k)
			}
		}
		ch <- prometheus.MustNewConstMetric(d.open, prometheus.GaugeValue, float64(c.open), c.name)
		ch <- prometheus.MustNewConstMetric(d.target, prometheus.GaugeValue, float64(c.target), c.name)
		if c == e.current {
			for _, p := range Phases {
				v := 0.0
				if p == c.phase {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(d.phase, prometheus.GaugeValue, v, c.name, p)
			}
		}
		for _, m := range Latency {
			h, err := c.hist[m].metric(d.hist[m], c.created, c.name)
			if err != nil {
				ch <- prometheus.NewInvalidMetric(d.hist[m], err)
				continue
			}
			ch <- h
		}
	}
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/wssbench/wssbench/bench/target"
)

// TargetCollector exposes the built-in target's counts (read from counts at
// each scrape) as counters wssbench_target_*_total.
func TargetCollector(counts func() target.Counts) prometheus.Collector {
	return &targetCollector{counts: counts, descs: targetDescs()}
}

type targetField struct {
	desc *prometheus.Desc
	get  func(target.Counts) int64
}

type targetCollector struct {
	counts func() target.Counts
	descs  []targetField
}

func targetDescs() []targetField {
	f := func(name, help string, get func(target.Counts) int64) targetField {
		return targetField{prometheus.NewDesc("wssbench_target_"+name+"_total", help, nil, nil), get}
	}
	return []targetField{
		f("accepted", "TCP connections accepted.", func(c target.Counts) int64 { return c.Accepted }),
		f("upgraded", "Connections that completed TLS and the WebSocket upgrade.", func(c target.Counts) int64 { return c.Upgraded }),
		f("frames_echoed", "Data frames echoed.", func(c target.Counts) int64 { return c.FramesEchoed }),
		f("closes", "Close handshakes completed.", func(c target.Counts) int64 { return c.Closes }),
		f("frames_received", "Rooms: whole messages received.", func(c target.Counts) int64 { return c.FramesReceived }),
		f("deliveries_owed", "Rooms: deliveries owed to the other members.", func(c target.Counts) int64 { return c.DeliveriesOwed }),
		f("deliveries_written", "Rooms: deliveries written.", func(c target.Counts) int64 { return c.DeliveriesWritten }),
		f("deliveries_dropped", "Rooms: deliveries dropped (slow reader, member gone).", func(c target.Counts) int64 { return c.DeliveriesDropped }),
		f("pushed", "Push: frames owed by the schedules.", func(c target.Counts) int64 { return c.Pushed }),
		f("push_written", "Push: pushed frames written.", func(c target.Counts) int64 { return c.PushWritten }),
	}
}

func (t *targetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range t.descs {
		ch <- f.desc
	}
}

func (t *targetCollector) Collect(ch chan<- prometheus.Metric) {
	c := t.counts()
	for _, f := range t.descs {
		ch <- prometheus.MustNewConstMetric(f.desc, prometheus.CounterValue, float64(f.get(c)))
	}
}

package reports

import (
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/threshold"
)

// Value returns the figure a threshold or a comparison calls name (a name from
// threshold.Names), in the metric's unit: microseconds for latency and CPU
// cost, a fraction for errors.rate. measured is false when this run could
// not measure it (no samples, or a process it did not start); ok is false
// for an unknown name.
func Value(r *Report, name string) (v float64, measured, ok bool) {
	if h, stat, isHist := histogramOf(r, name); isHist {
		return stat(h), h.Count > 0, true
	}
	g, ok := scalarGetters[name]
	if !ok {
		return 0, false, false
	}
	v, measured = g(r)
	return v, measured, true
}

func histogramOf(r *Report, name string) (H, func(H) float64, bool) {
	hists := map[string]H{
		"tcp_connect": r.Phases.TCPConnect, "tls_handshake": r.Phases.TLSHandshake, "ws_upgrade": r.Phases.WSUpgrade,
		"connect_total": r.Phases.ConnectTotal, "ws_rtt": r.Frames.RTT, "ws_rtt_uncorrected": r.Frames.RTTUncorrected,
	}
	stats := map[string]func(H) float64{
		"p50": func(h H) float64 { return h.P50Us }, "p90": func(h H) float64 { return h.P90Us },
		"p99": func(h H) float64 { return h.P99Us }, "p999": func(h H) float64 { return h.P999Us },
		"max": func(h H) float64 { return h.MaxUs }, "mean": func(h H) float64 { return h.MeanUs },
		"min": func(h H) float64 { return h.MinUs },
	}
	for i := len(name) - 1; i > 0; i-- {
		if name[i] == '.' {
			h, okH := hists[name[:i]]
			s, okS := stats[name[i+1:]]
			return h, s, okH && okS
		}
	}
	return H{}, nil, false
}

// ErrorCount is the number of errors of every class.
func ErrorCount(r *Report) int64 {
	var n int64
	for _, c := range r.Connections.Errors {
		n += c
	}
	return n
}

func steadyFrames(r *Report) bool { return r.Config.RunMode().Streams() && r.Frames.Received > 0 }

func targetMeasured(r *Report) bool { return r.Target.Builtin && !r.Target.InProcess }

func proxyMeasured(r *Report) bool {
	return r.Target.Topology != "" && r.Target.Topology != bench.TopologyDirect
}

// scalarGetters read the single figures of threshold's catalogue.
var scalarGetters = map[string]func(*Report) (float64, bool){
	"send_lag.p99": func(r *Report) (float64, bool) {
		return r.Health.SendLagP99Us, r.Config.RunMode().Streams() && r.Config.MsgRate > 0 && r.Frames.Sent > 0
	},
	"errors.rate": func(r *Report) (float64, bool) {
		ops := r.Connections.Attempted + r.Frames.Sent
		if ops == 0 {
			return 0, false
		}
		return float64(ErrorCount(r)) / float64(ops), true
	},
	"errors.count":            func(r *Report) (float64, bool) { return float64(ErrorCount(r)), true },
	"connections.attempted":   func(r *Report) (float64, bool) { return float64(r.Connections.Attempted), true },
	"connections.established": func(r *Report) (float64, bool) { return float64(r.Connections.Established), true },
	"connections.failed":      func(r *Report) (float64, bool) { return float64(r.Connections.Failed), true },
	"frames.sent":             func(r *Report) (float64, bool) { return float64(r.Frames.Sent), true },
	"frames.received":         func(r *Report) (float64, bool) { return float64(r.Frames.Received), true },
	"frames.lost":             func(r *Report) (float64, bool) { return float64(r.Frames.Lost), true },
	"frames.rate":             func(r *Report) (float64, bool) { return r.Frames.PerSec, r.Config.RunMode().SendsFrames() },
	"connect_rate": func(r *Report) (float64, bool) {
		return r.Connections.ConnectPerSec, r.Connections.Attempted > 0
	},
	"driver_us_per_handshake": func(r *Report) (float64, bool) {
		return r.CPU.DriverUsPerHandshake, r.Connections.Established > 0
	},
	"driver_us_per_frame": func(r *Report) (float64, bool) { return r.CPU.DriverUsPerFrame, steadyFrames(r) },
	"target_us_per_handshake": func(r *Report) (float64, bool) {
		return r.CPU.TargetUsPerHandshake, targetMeasured(r) && r.Connections.Established > 0
	},
	"target_us_per_frame": func(r *Report) (float64, bool) {
		return r.CPU.TargetUsPerFrame, targetMeasured(r) && steadyFrames(r)
	},
	"proxy_us_per_handshake": func(r *Report) (float64, bool) {
		return r.CPU.ProxyUsPerHandshake, proxyMeasured(r) && r.Connections.Established > 0
	},
	"proxy_us_per_frame": func(r *Report) (float64, bool) {
		return r.CPU.ProxyUsPerFrame, proxyMeasured(r) && steadyFrames(r)
	},
	"server_us_per_handshake": func(r *Report) (float64, bool) {
		return r.CPU.TargetUsPerHandshake + r.CPU.ProxyUsPerHandshake, targetMeasured(r) && r.Connections.Established > 0
	},
	"server_us_per_frame": func(r *Report) (float64, bool) {
		return r.CPU.TargetUsPerFrame + r.CPU.ProxyUsPerFrame, targetMeasured(r) && steadyFrames(r)
	},
}

// info returns the catalogue entry of a name Value knows.
func info(name string) threshold.Info {
	i, _ := threshold.Lookup(name)
	return i
}

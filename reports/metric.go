package reports

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/threshold"
)

// Value returns the figure a threshold or a comparison calls name (a name from
// threshold.Names), in the metric's unit: microseconds for latency and CPU
// cost, a fraction for errors.rate. measured is false when this run could
// not measure it (no samples, or a process it did not start); ok is false
// for an unknown name.
func Value(r *Report, name string) (v float64, measured, ok bool) {
	v, why, ok := measure(r, name, threshold.Selector{})
	return v, ok && why == "", ok
}

// notMeasured is the why of a figure the run did not measure, when there is
// nothing more to say.
const notMeasured = "not measured in this run"

// measure returns the figure name narrowed by sel (the whole run when sel
// is zero) and why the run has none ("" when it has one); ok is false for
// an unknown name.
func measure(r *Report, name string, sel threshold.Selector) (v float64, why string, ok bool) {
	switch sel.Key {
	case threshold.SelectStage:
		return stageMeasure(r, name, sel.Value)
	case threshold.SelectRole:
		return roleMeasure(r, name, sel.Value)
	}
	if hist, stat, ok := splitStat(name); ok {
		if h, why, known := runHistogram(r, hist); known {
			if why == "" && h.Count == 0 {
				why = noSamples(hist, "the run")
			}
			return stat(h), why, true
		}
	}
	g, ok := scalarGetters[name]
	if !ok {
		return 0, "", false
	}
	v, measured := g(r)
	if measured {
		return v, "", true
	}
	if w, ok := scalarWhy[name]; ok {
		return v, w(r), true
	}
	return v, notMeasured, true
}

// stats are the statistics of a histogram summary, by name.
var stats = map[string]func(H) float64{
	"p50": func(h H) float64 { return h.P50Us }, "p90": func(h H) float64 { return h.P90Us },
	"p99": func(h H) float64 { return h.P99Us }, "p999": func(h H) float64 { return h.P999Us },
	"max": func(h H) float64 { return h.MaxUs }, "mean": func(h H) float64 { return h.MeanUs },
	"min": func(h H) float64 { return h.MinUs },
}

// splitStat splits "ws_rtt.p99" into the histogram and its statistic.
func splitStat(name string) (string, func(H) float64, bool) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return "", nil, false
	}
	s, ok := stats[name[i+1:]]
	return name[:i], s, ok
}

// runHistogram is the whole run's histogram summary called hist, and why
// the run has none; known is false for a name that is no histogram.
func runHistogram(r *Report, hist string) (h H, why string, known bool) {
	switch hist {
	case "tcp_connect":
		return r.Phases.TCPConnect, "", true
	case "tls_handshake":
		return r.Phases.TLSHandshake, "", true
	case "ws_upgrade":
		return r.Phases.WSUpgrade, "", true
	case "connect_total":
		return r.Phases.ConnectTotal, "", true
	case "ws_rtt":
		return r.Frames.RTT, "", true
	case "ws_rtt_uncorrected":
		return r.Frames.RTTUncorrected, "", true
	case "delivery":
		if r.Frames.Delivery == nil {
			return H{}, noSamples(hist, "the run"), true
		}
		return *r.Frames.Delivery, "", true
	case "storm.tls_handshake", "storm.connect_total":
		if r.Storm == nil {
			return H{}, "the run had no reconnect storm", true
		}
		if hist == "storm.tls_handshake" {
			return r.Storm.TLSHandshake, "", true
		}
		return r.Storm.ConnectTotal, "", true
	}
	return H{}, "", false
}

// noSamples says that where recorded no samples of hist.
func noSamples(hist, where string) string {
	why := fmt.Sprintf("%s recorded no %s samples", where, hist)
	if hist == "delivery" {
		why += " (delivery latency is taken from stamped frames: latency mode stamp, rooms or push)"
	}
	return why
}

// stageMeasure is the figure name of the stage called stage.
func stageMeasure(r *Report, name, stage string) (float64, string, bool) {
	var s *Stage
	var names []string
	for i := range r.Stages {
		names = append(names, r.Stages[i].Name)
		if r.Stages[i].Name == stage {
			s = &r.Stages[i]
		}
	}
	if hist, stat, ok := splitStat(name); ok && slices.Contains(threshold.Histograms, hist) {
		if s == nil {
			return 0, stageMissing(stage, names), true
		}
		h, err := stageHistogram(s, hist)
		if err != nil {
			return 0, err.Error(), true
		}
		if h.Count == 0 {
			return 0, noSamples(hist, "stage "+stage), true
		}
		return stat(h), "", true
	}
	get, ok := map[string]func(*Stage) float64{
		"connections.established": func(s *Stage) float64 { return float64(s.Established) },
		"frames.sent":             func(s *Stage) float64 { return float64(s.FramesSent) },
		"frames.received":         func(s *Stage) float64 { return float64(s.FramesReceived) },
		"errors.count":            func(s *Stage) float64 { return float64(s.Errors) },
		"frames.rate":             func(s *Stage) float64 { return s.FramesPerS },
	}[name]
	switch {
	case !ok:
		return 0, "", false
	case s == nil:
		return 0, stageMissing(stage, names), true
	case name == "frames.rate" && s.EndS <= s.StartS:
		return 0, "stage " + stage + " has no duration to take a rate over", true
	}
	return get(s), "", true
}

func stageMissing(stage string, names []string) string {
	if len(names) == 0 {
		return "stage " + stage + " did not run: the report has no stages"
	}
	return fmt.Sprintf("stage %s did not run: the report has stages %s", stage, strings.Join(names, ", "))
}

// stageHistogram summarises the stage's histogram hist, from the full
// histogram the report keeps (or its summary, for the four it writes out).
func stageHistogram(s *Stage, hist string) (H, error) {
	if enc, ok := s.Histograms[hist]; ok {
		h, err := decodeNamed(s.Histograms, hist, "stage "+s.Name)
		if err != nil || enc == "" {
			return H{}, err
		}
		return summarize(h), nil
	}
	switch hist {
	case "tls_handshake":
		return s.TLSHandshake, nil
	case "connect_total":
		return s.ConnectTotal, nil
	case "ws_rtt":
		return s.RTT, nil
	case "delivery":
		return s.Delivery, nil
	}
	return H{}, nil
}

// roleMeasure is the figure name of the role called role.
func roleMeasure(r *Report, name, role string) (float64, string, bool) {
	ro, found := r.Roles[role]
	missing := fmt.Sprintf("role %s has no figures in this report (it has %s)", role, strings.Join(r.RoleNames(), ", "))
	if len(r.Roles) == 0 {
		missing = "role " + role + " has no figures: the report has no roles"
	}
	if hist, stat, ok := splitStat(name); ok {
		var h H
		switch hist {
		case "ws_rtt":
			h = ro.Latency
		case "delivery":
			h = ro.Delivery
		default:
			return 0, "", false
		}
		switch {
		case !found:
			return 0, missing, true
		case h.Count == 0:
			return 0, noSamples(hist, "role "+role), true
		}
		return stat(h), "", true
	}
	get, ok := map[string]func(Role) float64{
		"connections.established": func(ro Role) float64 { return float64(ro.Connections) },
		"frames.sent":             func(ro Role) float64 { return float64(ro.Frames.Sent) },
		"frames.received":         func(ro Role) float64 { return float64(ro.Frames.Received) },
		"errors.count": func(ro Role) float64 {
			var n int64
			for _, c := range ro.Errors {
				n += c
			}
			return float64(n)
		},
	}[name]
	switch {
	case !ok:
		return 0, "", false
	case !found:
		return 0, missing, true
	}
	return get(ro), "", true
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
	"reach": func(r *Report) (float64, bool) {
		if r.Reach == nil {
			return 0, false
		}
		return *r.Reach, true
	},
	"storm.back_to_full": func(r *Report) (float64, bool) {
		if r.Storm == nil {
			return 0, false
		}
		return r.Storm.BackToFullS * 1e6, r.Storm.Recovered
	},
	"storm.dropped":     stormCount(func(s *Storm) int64 { return s.Dropped }),
	"storm.reconnected": stormCount(func(s *Storm) int64 { return s.Reconnected }),
	"storm.failed":      stormCount(func(s *Storm) int64 { return s.Failed }),
}

func stormCount(get func(*Storm) int64) func(*Report) (float64, bool) {
	return func(r *Report) (float64, bool) {
		if r.Storm == nil {
			return 0, false
		}
		return float64(get(r.Storm)), true
	}
}

// noStorm is why a storm figure is missing from a run without one.
func noStorm(*Report) string { return "the run had no reconnect storm" }

// scalarWhy say why a single figure was not measured, where there is more
// to say than notMeasured.
var scalarWhy = map[string]func(*Report) string{
	"reach": func(*Report) string {
		return "the run has no reach figure: it needs stamped deliveries and what the server owed (the built-in target's count, or latency.fanout)"
	},
	"storm.back_to_full": func(r *Report) string {
		if r.Storm == nil {
			return noStorm(r)
		}
		return "the run never got back to full strength after the storm"
	},
	"storm.dropped": noStorm, "storm.reconnected": noStorm, "storm.failed": noStorm,
}

// info returns the catalogue entry of a name Value knows.
func info(name string) threshold.Info {
	i, _ := threshold.Lookup(name)
	return i
}

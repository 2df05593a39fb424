package bench

import (
	"strings"

	"github.com/wssbench/wssbench/bench/env"
)

// Measures says whether a run of this (one-cell) config measures the named
// metric (a name from package threshold): "" when it does, otherwise why not,
// in words that say what to change. It is the one table of which figures
// apply to which runs, read by the planner (a threshold no cell measures is
// bad input) and by the reports (a threshold on a figure a cell does not
// measure does not apply to that cell).
func (c *Config) Measures(metric string) string {
	mode := c.RunMode()
	perFrame := strings.HasSuffix(metric, "_us_per_frame")
	frames := perFrame || strings.HasPrefix(metric, "ws_rtt") || metric == "frames.rate" || strings.HasPrefix(metric, "send_lag")
	switch {
	case frames && !mode.SendsFrames():
		return mode.String() + " sends no frames, so " + metric + " is not measured"
	case perFrame && !mode.Streams():
		return "CPU per frame is measured in steady mode only"
	case strings.HasPrefix(metric, "send_lag") && (!mode.Streams() || c.MsgRate == 0):
		return "send lag is measured in open-loop steady mode only (--msg-rate above 0)"
	case (strings.HasPrefix(metric, "target_") || strings.HasPrefix(metric, "server_")) && c.Target != "":
		return "the target's CPU is measured only for the built-in target (leave out --target)"
	case strings.HasPrefix(metric, "proxy_") && !env.Topology(c.topology()).Proxied():
		return "no proxy runs with --topology direct; add builtin, nginx or haproxy"
	}
	return ""
}

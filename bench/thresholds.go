package bench

import (
	"strings"

	"github.com/wssbench/wssbench/bench/threshold"
)

// validateThresholds parses every threshold expression and refuses, before any
// load is sent, those that name a figure this run cannot measure.
func validateThresholds(c *Config) error {
	ts, err := threshold.ParseAll(c.Thresholds)
	if err != nil {
		return &InputError{Err: err}
	}
	proxied := false
	for _, t := range c.Topology {
		if t != TopologyDirect {
			proxied = true
		}
	}
	for _, t := range ts {
		m := t.Metric
		perFrame := strings.HasSuffix(m, "_us_per_frame")
		frames := perFrame || strings.HasPrefix(m, "ws_rtt") || m == "frames.rate" || strings.HasPrefix(m, "send_lag")
		switch {
		case frames && c.Mode == ModeHold:
			return inputErr("threshold %q: connect-hold sends no frames, so %s is not measured", t.Expr, m)
		case perFrame && c.Mode != ModeSteady:
			return inputErr("threshold %q: CPU per frame is measured in steady mode only", t.Expr)
		case strings.HasPrefix(m, "send_lag") && (c.Mode != ModeSteady || c.MsgRate == 0):
			return inputErr("threshold %q: send lag is measured in open-loop steady mode only (--msg-rate above 0)", t.Expr)
		case (strings.HasPrefix(m, "target_") || strings.HasPrefix(m, "server_")) && c.Target != "":
			return inputErr("threshold %q: the target's CPU is measured only for the built-in target (leave out --target)", t.Expr)
		case strings.HasPrefix(m, "proxy_") && !proxied:
			return inputErr("threshold %q: no proxy runs with --topology direct; add builtin, nginx or haproxy", t.Expr)
		}
	}
	return nil
}

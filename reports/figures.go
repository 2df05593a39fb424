package reports

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wssbench/wssbench/bench"
)

// figure is one labelled value of a report, shared by the HTML and Markdown pages.
type figure struct {
	Name, Value string
}

// latencyRow is one row of the latency table.
type latencyRow struct {
	Name string
	H    H
}

// latencyRows are the non-empty latency summaries in report order.
func latencyRows(r *Report) []latencyRow {
	all := []latencyRow{
		{"tcp_connect", r.Phases.TCPConnect}, {"tls_handshake", r.Phases.TLSHandshake},
		{"ws_upgrade", r.Phases.WSUpgrade}, {"connect_total", r.Phases.ConnectTotal},
		{"ws_rtt", r.Frames.RTT}, {"ws_rtt_uncorrected", r.Frames.RTTUncorrected},
	}
	if d := r.Frames.Delivery; d != nil {
		all = append(all, latencyRow{"delivery", *d})
	}
	var out []latencyRow
	for _, row := range all {
		if row.H.Count > 0 {
			out = append(out, row)
		}
	}
	return out
}

// headlineFigures are the figures a reader looks at first.
func headlineFigures(r *Report) []figure {
	cn, f, cpu := r.Connections, r.Frames, r.CPU
	out := []figure{
		{"connections", fmt.Sprintf("%d attempted, %d established, %d failed; peak %d open; %.0f/s connect rate",
			cn.Attempted, cn.Established, cn.Failed, cn.PeakConcurrent, cn.ConnectPerSec)},
	}
	if len(cn.Errors) > 0 {
		out = append(out, figure{"errors", counts(cn.Errors)})
	}
	if h := r.Phases.TLSHandshake; h.Count > 0 {
		out = append(out, figure{"TLS handshake", fmt.Sprintf("p50 %s, p99 %s", fmtUs(h.P50Us), fmtUs(h.P99Us))})
	}
	if f.Sent > 0 || f.Received > 0 {
		out = append(out, figure{"frames", framesWords(r, false)})
	}
	if h := f.RTT; h.Count > 0 {
		out = append(out, figure{"frame round trip", fmt.Sprintf("p50 %s, p99 %s, p99.9 %s (uncorrected p99 %s)",
			fmtUs(h.P50Us), fmtUs(h.P99Us), fmtUs(h.P999Us), fmtUs(f.RTTUncorrected.P99Us))})
	}
	if h := f.Delivery; h != nil && h.Count > 0 {
		out = append(out, figure{"delivery", fmt.Sprintf("p50 %s, p99 %s, p99.9 %s (one way, from the publisher's stamp)",
			fmtUs(h.P50Us), fmtUs(h.P99Us), fmtUs(h.P999Us))})
	}
	if line := reachLine(r); line != "" {
		out = append(out, figure{"reach", line})
	}
	if lines := stormLines(r); len(lines) > 0 {
		out = append(out, figure{"storm", strings.Join(lines, "; ")})
	}
	if cpu.DriverUsPerHandshake > 0 {
		s := "driver " + perCost(cpu.DriverUsPerHandshake, cpu.DriverUsPerFrame)
		if cpu.TargetUsPerHandshake > 0 {
			s += "; target " + perCost(cpu.TargetUsPerHandshake, cpu.TargetUsPerFrame)
		}
		if cpu.ProxyUsPerHandshake > 0 {
			s += "; proxy " + perCost(cpu.ProxyUsPerHandshake, cpu.ProxyUsPerFrame)
		}
		out = append(out, figure{"CPU", s})
	}
	if cpu.HandshakeFrames > 0 {
		s := fmt.Sprintf("one handshake costs the driver as much CPU as %.0f frames", cpu.HandshakeFrames)
		if cpu.TargetHandshakeFrames > 0 {
			s += fmt.Sprintf(" (the target: %.0f frames)", cpu.TargetHandshakeFrames)
		}
		out = append(out, figure{"headline", s})
	}
	if r.Memory.DriverPerConn > 0 {
		out = append(out, figure{"memory", fmt.Sprintf("driver peak RSS %.1f MiB, %.1f KiB per connection",
			float64(r.Memory.DriverPeakRSS)/(1<<20), r.Memory.DriverPerConn/1024)})
	}
	if t := r.TLS; t.Handshakes > 0 {
		out = append(out, figure{"TLS negotiated", fmt.Sprintf("%s; %s; groups %s; %d resumed, %d HelloRetryRequest",
			counts(t.Versions), counts(t.CipherSuites), counts(t.Groups), t.Resumed, t.HelloRetry)})
	}
	h := r.Health
	out = append(out, figure{"generator", fmt.Sprintf("driver used %.2f of %d cores; %d GC cycles; p99 send lag %s",
		h.CPUUtilCores, h.Cores, h.GCCycles, fmtUs(h.SendLagP99Us))})
	return out
}

// configFigures lists the config's JSON keys and values in the order the
// report writes them, so settings added to bench.Config show up by themselves.
func configFigures(cfg any) []figure {
	b, err := json.Marshal(cfg)
	if err != nil {
		return []figure{{"config", err.Error()}}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		return nil
	}
	var out []figure
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			break
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			break
		}
		val := string(v)
		var s string
		if json.Unmarshal(v, &s) == nil {
			val = s
		}
		out = append(out, figure{fmt.Sprint(k), val})
	}
	return out
}

// buildFigures say what produced the report, where and when.
func buildFigures(b Build, startedAt time.Time, durationS float64) []figure {
	out := []figure{
		{"wssbench", strings.TrimSpace(b.Version + " (" + b.Commit + ")")},
		{"Go", b.GoVersion},
		{"CPU", fmt.Sprintf("%s, %d cores", b.CPUModel, b.Cores)},
		{"OS", strings.TrimSpace(strings.Join([]string{b.OSRelease, b.OS + "/" + b.Arch, kernel(b.Kernel)}, " "))},
	}
	if !startedAt.IsZero() {
		out = append(out, figure{"started", fmt.Sprintf("%s, ran %.1f s", startedAt.Format(time.RFC3339), durationS)})
	}
	return out
}

func kernel(k string) string {
	if k == "" {
		return ""
	}
	return "kernel " + k
}

// framesWords says what frames went each way: for an echo run, sent, echoed
// and lost against the schedule (with the share of it achieved when long);
// for a workload, what was sent and what was received, which a server that
// does not echo makes different.
func framesWords(r *Report, long bool) string {
	f := r.Frames
	if !r.Config.HasWorkload() {
		s := fmt.Sprintf("%d sent, %d echoed, %d lost, %.0f/s", f.Sent, f.Received, f.Lost, f.PerSec)
		switch {
		case f.RequestedPerSec > 0 && long:
			s += fmt.Sprintf(" (requested %.0f/s, %.2f%%)", f.RequestedPerSec, 100*f.PerSec/f.RequestedPerSec)
		case f.RequestedPerSec > 0:
			s += fmt.Sprintf(" (requested %.0f/s)", f.RequestedPerSec)
		}
		return s
	}
	s := fmt.Sprintf("%d sent", f.Sent)
	if f.RequestedPerSec > 0 {
		s += fmt.Sprintf(" (schedule %.0f/s)", f.RequestedPerSec)
	}
	s += fmt.Sprintf(", %d received, %.0f/s", f.Received, f.PerSec)
	if f.Lost > 0 || r.Config.Latency == nil || r.Config.Latency.Mode != bench.LatencyStamp {
		s += fmt.Sprintf(", %d lost", f.Lost)
	}
	return s
}

// workloadWords describes a workload in a few words for a summary's header.
func workloadWords(c bench.Config) string {
	var parts []string
	switch {
	case c.Rooms > 0:
		parts = append(parts, fmt.Sprintf("rooms of %d", c.Rooms))
	case c.PushRate > 0:
		parts = append(parts, fmt.Sprintf("the target pushes %s/s per conn", strconv.FormatFloat(c.PushRate, 'g', -1, 64)))
	}
	lat := bench.LatencyEcho
	if c.Latency != nil && c.Latency.Mode != "" {
		lat = c.Latency.Mode
		if c.Latency.Field != "" {
			lat += " (" + c.Latency.Field + ")"
		}
	}
	parts = append(parts, "latency "+lat)
	for _, ro := range c.Roles {
		share := ro.Share
		if ro.Count > 0 {
			share = strconv.Itoa(ro.Count)
		}
		what := "receive"
		if ro.Send != "" {
			what = msgRate(cmp.Or(ro.Rate, c.MsgRate))
		}
		parts = append(parts, fmt.Sprintf("%s %s %s", ro.Name, share, what))
	}
	if len(c.Roles) == 0 {
		switch {
		case c.Receive:
			parts = append(parts, "receive only")
		case c.Send != "":
			parts = append(parts, "send "+msgRate(c.MsgRate))
		}
	}
	return strings.Join(parts, ", ")
}

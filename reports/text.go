package reports

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

func fmtUs(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2fms", us/1e3)
	default:
		return fmt.Sprintf("%.0fµs", us)
	}
}

func counts(m map[string]int64) string {
	if len(m) == 0 {
		return "-"
	}
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// runText writes the human summary of one run.
func runText(w io.Writer, r *Report) error {
	p := &printer{w: w}
	c := r.Config
	title := "wssbench " + c.Mode
	if r.Label != "" {
		title += " — " + r.Label
	}
	p.f("%s: %s\n", title, r.Target.URL)
	p.f("  %d conns, connect rate %s, %s", c.Conns, rate(c.ConnectRate, "/s"), c.Duration)
	switch {
	case c.HasWorkload():
		p.f(", %s", workloadWords(c))
	case c.RunMode().SendsFrames():
		p.f(", msg rate %s, %d B %s frames", msgRate(c.MsgRate), c.PayloadBytes, map[bool]string{true: "binary", false: "text"}[c.Binary])
	}
	p.f("\n")
	if r.Partial {
		p.f("  PARTIAL: the run was interrupted; figures cover what ran\n")
	}
	for _, wn := range r.Warnings {
		p.f("  WARNING: %s\n", wn)
	}
	cn := r.Connections
	p.f("\nconnections  %d attempted, %d established, %d failed, peak %d open, %d closed cleanly, %.0f/s connect rate\n",
		cn.Attempted, cn.Established, cn.Failed, cn.PeakConcurrent, cn.ClosedClean, cn.ConnectPerSec)
	if len(cn.Errors) > 0 {
		p.f("errors       %s\n", counts(cn.Errors))
		for _, k := range sortedKeys(cn.ErrorSamples) {
			p.f("             %s: %s\n", k, cn.ErrorSamples[k])
		}
	}
	if r.Phases.ConnectTotal.Count > 0 {
		p.f("\n%-20s %8s %9s %9s %9s %9s %9s\n", "latency", "count", "p50", "p90", "p99", "p99.9", "max")
	}
	row := func(name string, h H) {
		if h.Count == 0 {
			return
		}
		p.f("%-20s %8d %9s %9s %9s %9s %9s\n", name, h.Count, fmtUs(h.P50Us), fmtUs(h.P90Us), fmtUs(h.P99Us), fmtUs(h.P999Us), fmtUs(h.MaxUs))
	}
	row("tcp_connect", r.Phases.TCPConnect)
	row("tls_handshake", r.Phases.TLSHandshake)
	row("ws_upgrade", r.Phases.WSUpgrade)
	row("connect_total", r.Phases.ConnectTotal)
	row("ws_rtt", r.Frames.RTT)
	row("ws_rtt_uncorrected", r.Frames.RTTUncorrected)
	if d := r.Frames.Delivery; d != nil {
		row("delivery", *d)
	}
	f := r.Frames
	if f.Sent > 0 || f.Received > 0 {
		p.f("\nframes       %s\n", framesWords(r, true))
	}
	writeWorkload(p, r)
	t := r.TLS
	if t.Handshakes > 0 {
		p.f("tls          %s; %s; groups %s\n", counts(t.Versions), counts(t.CipherSuites), counts(t.Groups))
		p.f("             %d resumed, %d HelloRetryRequest, %.0f B out / %.0f B in per handshake\n", t.Resumed, t.HelloRetry, t.HandshakeBytesOut, t.HandshakeBytesIn)
	}
	cpu := r.CPU
	p.f("cpu          driver %.2fs", cpu.DriverS)
	if r.Target.Builtin && !r.Target.InProcess {
		p.f(", target %.2fs", cpu.TargetS)
	}
	p.f("\n")
	if cpu.DriverUsPerHandshake > 0 {
		p.f("             driver %s", perCost(cpu.DriverUsPerHandshake, cpu.DriverUsPerFrame))
		if cpu.TargetUsPerHandshake > 0 {
			p.f("; target %s", perCost(cpu.TargetUsPerHandshake, cpu.TargetUsPerFrame))
		}
		p.f("\n")
	}
	if r.Memory.DriverPerConn > 0 {
		p.f("memory       driver peak RSS %.1f MiB, %.1f KiB per connection", float64(r.Memory.DriverPeakRSS)/(1<<20), r.Memory.DriverPerConn/1024)
		if r.Memory.TargetPeakRSS > 0 {
			p.f("; target peak RSS %.1f MiB", float64(r.Memory.TargetPeakRSS)/(1<<20))
		}
		p.f("\n")
	}
	writeProcesses(p, r)
	if cpu.HandshakeFrames > 0 {
		p.f("\nheadline     one handshake costs the driver as much CPU as %.0f frames", cpu.HandshakeFrames)
		if cpu.TargetHandshakeFrames > 0 {
			p.f(" (the target: %.0f frames)", cpu.TargetHandshakeFrames)
		}
		p.f("\n")
	}
	if cc := r.Crosscheck; cc != nil {
		mark := "ok"
		if !cc.OK {
			mark = "DIFFERS"
		}
		if cc.FramesIn != cc.Frames.Target {
			p.f("crosscheck   %s: the target upgraded %d connections (driver %d), took in %d frames (driver sent %d) and wrote %d (driver received %d)\n",
				mark, cc.Connections.Target, cc.Connections.Driver, cc.FramesIn, cc.FramesSent, cc.Frames.Target, cc.Frames.Driver)
		} else {
			p.f("crosscheck   %s: the target upgraded %d connections (driver %d) and echoed %d frames (driver received %d of %d sent)\n",
				mark, cc.Connections.Target, cc.Connections.Driver, cc.Frames.Target, cc.Frames.Driver, cc.FramesSent)
		}
	}
	writeThresholds(p, r.Thresholds)
	v := r.Verdict
	if v.OK {
		p.f("verdict      ok\n")
		for _, why := range v.Reasons {
			p.f("             but: %s\n", why)
		}
	} else {
		p.f("verdict      NOT OK: %s\n", v.Text())
	}
	return p.err
}

func rate(v float64, unit string) string {
	if v <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%g%s", v, unit)
}

func perCost(handshake, frame float64) string {
	s := fmt.Sprintf("%.0fµs per handshake", handshake)
	if frame > 0 {
		s += fmt.Sprintf(", %.2fµs per frame", frame)
	}
	return s
}

func msgRate(v float64) string {
	if v <= 0 {
		return "closed-loop"
	}
	return fmt.Sprintf("%g/s per conn", v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// printer keeps the first write error so the summary code stays linear.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, a ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, a...)
	}
}

// writeProcesses says how the run was split: over driver processes, target
// processes and shards, with each process's CPU and peak memory.
func writeProcesses(p *printer, r *Report) {
	if r.Procs <= 1 && r.Shards == nil && r.Shard == nil && (r.Layout == nil || r.Layout.Targets <= 1) {
		return
	}
	if ss := r.Shards; ss != nil {
		p.f("shards       %d merged, load start skew %.1f ms\n", ss.Count, ss.StartSkewMs)
	}
	if sh := r.Shard; sh != nil {
		p.f("shard        %d of %d: %d connections\n", sh.Index, sh.Count, sh.Conns)
	}
	byRole := map[string][]Process{}
	for _, pr := range r.Processes {
		byRole[pr.Role] = append(byRole[pr.Role], pr)
	}
	for _, role := range []string{"driver", "target", "proxy"} {
		ps := byRole[role]
		if len(ps) < 2 {
			continue
		}
		var cpu float64
		var rss int64
		parts := make([]string, 0, len(ps))
		for _, pr := range ps {
			cpu += pr.CPUS
			rss += pr.PeakRSS
			parts = append(parts, fmt.Sprintf("%.2fs/%.0fMiB", pr.CPUS, float64(pr.PeakRSS)/(1<<20)))
		}
		p.f("processes    %d %s: %.2fs CPU, %.1f MiB peak RSS in all (each: %s)\n", len(ps), role, cpu, float64(rss)/(1<<20), strings.Join(parts, " "))
	}
}

package reports

import (
	"fmt"
	"strconv"
	"strings"
)

// roleRow is one role in the roles table of every encoder.
type roleRow struct {
	Name, Conns, Sent, Received, Errors, Latency, Delivery string
	// Samples are the role's error classes with their first message.
	Samples []string
}

// roleRows are the report's roles in the config's order.
func roleRows(r *Report) []roleRow {
	var out []roleRow
	for _, name := range r.RoleNames() {
		ro := r.Roles[name]
		var errs int64
		for _, n := range ro.Errors {
			errs += n
		}
		row := roleRow{Name: name, Conns: fmt.Sprintf("%s/%s", Grouped(ro.Connections), Grouped(ro.Planned)),
			Sent: Grouped(ro.Frames.Sent), Received: Grouped(ro.Frames.Received), Errors: Grouped(errs),
			Latency: p50p99(ro.Latency), Delivery: p50p99(ro.Delivery)}
		for _, k := range sortedKeys(ro.Errors) {
			s := fmt.Sprintf("%s ×%d", k, ro.Errors[k])
			if m := ro.ErrorSamples[k]; m != "" {
				s += ": " + m
			}
			row.Samples = append(row.Samples, s)
		}
		out = append(out, row)
	}
	return out
}

// stageRow is one stage in the stages table of every encoder.
type stageRow struct {
	Name, Window, Conns, OpenAtEnd, FramesPerS, RTT, Delivery, Errors string
}

// stageRows are the report's stages in order.
func stageRows(r *Report) []stageRow {
	var out []stageRow
	for _, s := range r.Stages {
		out = append(out, stageRow{Name: s.Name, Window: fmt.Sprintf("%s–%ss", secs(s.StartS), secs(s.EndS)),
			Conns: Grouped(int64(s.Conns)), OpenAtEnd: Grouped(s.OpenAtEnd), FramesPerS: fmt.Sprintf("%.1f", s.FramesPerS),
			RTT: p50p99(s.RTT), Delivery: p50p99(s.Delivery), Errors: Grouped(s.Errors)})
	}
	return out
}

// reachLine is the reach figure in words: "99.95% (received 49,975 of
// 50,000 owed, from the target's count)"; "" when the run has none.
func reachLine(r *Report) string {
	if r.Reach == nil {
		return ""
	}
	s := strconv.FormatFloat(*r.Reach*100, 'f', 2, 64) + "%"
	if d := r.ReachDetail; d != nil {
		from := "from " + d.Source
		switch d.Source {
		case "target":
			from = "from the target's count"
		case "fanout":
			from = "from frames published × the configured fan-out"
		}
		s += fmt.Sprintf(" (received %s of %s owed, %s)", Grouped(d.Received), Grouped(d.Expected), from)
	}
	return s
}

// stormLines are the storm in words: what it did, then the reconnects'
// handshakes; nil when the run had none.
func stormLines(r *Report) []string {
	s := r.Storm
	if s == nil {
		return nil
	}
	how := "dropped"
	if s.TargetRestarted {
		how = "cut by the target's restart"
	}
	line := fmt.Sprintf("at %ss: %s %s, %s reconnected, %s failed reconnects; ", secs(s.AtS), Grouped(s.Dropped), how,
		Grouped(s.Reconnected), Grouped(s.Failed))
	if s.Recovered {
		line += fmt.Sprintf("back to full strength in %ss", strconv.FormatFloat(s.BackToFullS, 'f', 2, 64))
	} else {
		line += "never back to full strength"
	}
	out := []string{line}
	if s.TLSHandshake.Count+s.ConnectTotal.Count > 0 {
		out = append(out, fmt.Sprintf("reconnects: tls_handshake p50/p99 %s, connect_total p50/p99 %s", p50p99(s.TLSHandshake), p50p99(s.ConnectTotal)))
	}
	return out
}

// writeWorkload adds the roles, reach, stages and storm to a run's summary.
func writeWorkload(p *printer, r *Report) {
	if rows := roleRows(r); len(rows) > 0 {
		w := len("role")
		for _, row := range rows {
			w = max(w, len(row.Name))
		}
		p.f("\n%-*s %13s %9s %9s %7s %19s %19s\n", w, "role", "conns/planned", "sent", "received", "errors", "latency p50/p99", "delivery p50/p99")
		for _, row := range rows {
			p.f("%-*s %13s %9s %9s %7s %19s %19s\n", w, row.Name, row.Conns, row.Sent, row.Received, row.Errors, row.Latency, row.Delivery)
			for _, s := range row.Samples {
				p.f("%-*s   %s\n", w, "", s)
			}
		}
	}
	if rows := stageRows(r); len(rows) > 0 {
		w := len("stage")
		for _, row := range rows {
			w = max(w, len(row.Name))
		}
		p.f("\n%-*s %13s %8s %11s %10s %19s %19s %7s\n", w, "stage", "window", "conns", "open at end", "frames/s", "rtt p50/p99", "delivery p50/p99", "errors")
		for _, row := range rows {
			p.f("%-*s %13s %8s %11s %10s %19s %19s %7s\n", w, row.Name, row.Window, row.Conns, row.OpenAtEnd, row.FramesPerS, row.RTT, row.Delivery, row.Errors)
		}
	}
	if line := reachLine(r); line != "" {
		p.f("\nreach        %s\n", line)
	}
	for i, line := range stormLines(r) {
		head := ""
		if i == 0 {
			head = "storm"
		}
		p.f("%-12s %s\n", head, line)
	}
}

// p50p99 is "p50 / p99" of a summary, or "-" when it has no samples.
func p50p99(h H) string {
	if h.Count == 0 {
		return "-"
	}
	return fmtUs(h.P50Us) + " / " + fmtUs(h.P99Us)
}

// secs writes seconds with one decimal, without a trailing ".0".
func secs(v float64) string { return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0") }

// Grouped writes n with thousands separators: 49,975.
func Grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

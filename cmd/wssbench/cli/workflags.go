package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/wssbench/wssbench/bench"
)

// addWorkloadFlags binds the workload flags (a scenario says more: roles,
// steps and expects are scenario keys).
func addWorkloadFlags(fs *pflag.FlagSet, cfg *bench.Config) {
	fs.Var((*latencyValue)(cfg), "latency", "how latency is taken: echo, reply:FIELD (an answer carries its request's {{seq}} in FIELD) or stamp:FIELD (frames carry their publisher's send time, {{now_ns}}, in FIELD)")
	fs.StringVar(&cfg.Send, "send", cfg.Send, "template of the steady frames, such as '{\"ts\":{{now_ns}},\"seq\":{{seq}}}' (variables: conn, seq, now_ns, random N, role, index)")
	fs.BoolVar(&cfg.Receive, "receive", cfg.Receive, "send nothing in the steady window: only receive (a push stream)")
	fs.IntVar(&cfg.Rooms, "rooms", cfg.Rooms, "built-in target: deliver every frame to the other connections of its room, rooms of this size")
	fs.Float64Var(&cfg.PushRate, "push-rate", cfg.PushRate, "built-in target: push stamped frames {\"seq\":N,\"ts\":NS} to every connection at this rate per second")
	fs.Float64Var(&cfg.Capacity, "target-capacity", cfg.Capacity, "built-in target: echo at most this many frames/s over all connections (a server of known capacity, to check wssbench search)")
	fs.Var((*stagesValue)(&cfg.Stages), "stages", "shape the load: [NAME=]DURATION:CONNS[:MSGRATE],... each stage moves linearly to its targets, such as ramp=30s:5000,peak=1m:5000:20,down=30s:0")
	fs.Var(&stormValue{&cfg.Storm}, "storm", "reconnect storm: DROP@AT[~BACKOFF] cuts DROP of the connections AT into the steady window, such as 50%@10s~2s; restart@AT restarts the built-in target")
}

// latencyValue is --latency MODE[:FIELD].
type latencyValue bench.Config

func (v *latencyValue) String() string {
	l := v.Latency
	if l == nil {
		return bench.LatencyEcho
	}
	if l.Field != "" {
		return l.Mode + ":" + l.Field
	}
	return l.Mode
}

func (v *latencyValue) Set(s string) error {
	mode, field, _ := strings.Cut(s, ":")
	switch mode {
	case bench.LatencyEcho:
		if field != "" {
			return fmt.Errorf("echo takes no field: an echo is checked whole")
		}
	case bench.LatencyReply, bench.LatencyStamp:
		if field == "" {
			return fmt.Errorf("%s needs the JSON field that carries the number, such as %s:%s", mode, mode, map[string]string{bench.LatencyReply: "id", bench.LatencyStamp: "ts"}[mode])
		}
	default:
		return fmt.Errorf("want echo, reply:FIELD or stamp:FIELD, not %q", s)
	}
	l := &bench.Latency{Mode: mode, Field: field}
	if v.Latency != nil {
		l.Fanout = v.Latency.Fanout // a scenario's fanout stays
	}
	v.Latency = l
	return nil
}

func (v *latencyValue) Type() string { return "MODE[:FIELD]" }

// stagesValue is --stages.
type stagesValue []bench.Stage

func (v *stagesValue) String() string {
	var parts []string
	for _, s := range *v {
		p := fmt.Sprintf("%s:%d", s.Duration, s.Conns)
		if s.Name != "" {
			p = s.Name + "=" + p
		}
		if s.MsgRate != nil {
			p += ":" + strconv.FormatFloat(*s.MsgRate, 'g', -1, 64)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ",")
}

func (v *stagesValue) Set(s string) error {
	var out []bench.Stage
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		var st bench.Stage
		if name, rest, ok := strings.Cut(part, "="); ok {
			st.Name, part = name, rest
		}
		f := strings.Split(part, ":")
		if len(f) < 2 || len(f) > 3 {
			return fmt.Errorf("stage %d %q: write [NAME=]DURATION:CONNS[:MSGRATE], such as peak=1m:5000:20", i+1, part)
		}
		d, err := time.ParseDuration(f[0])
		if err != nil || d <= 0 {
			return fmt.Errorf("stage %d: duration %q must be positive, such as 30s (stages run forward in time)", i+1, f[0])
		}
		st.Duration = bench.Duration(d)
		if st.Conns, err = strconv.Atoi(f[1]); err != nil || st.Conns < 0 {
			return fmt.Errorf("stage %d: conns %q must be a whole number, 0 or more", i+1, f[1])
		}
		if len(f) == 3 {
			r, err := strconv.ParseFloat(f[2], 64)
			if err != nil || r <= 0 {
				return fmt.Errorf("stage %d: msg rate %q must be a number above 0", i+1, f[2])
			}
			st.MsgRate = &r
		}
		out = append(out, st)
	}
	*v = out
	return nil
}

func (v *stagesValue) Type() string { return "STAGES" }

// stormValue is --storm.
type stormValue struct{ p **bench.Storm }

func (v *stormValue) String() string {
	s := *v.p
	if s == nil {
		return ""
	}
	what := s.Drop
	if s.RestartTarget {
		what = "restart"
	}
	out := what + "@" + s.At.String()
	if s.Backoff > 0 {
		out += "~" + s.Backoff.String()
	}
	return out
}

func (v *stormValue) Set(s string) error {
	what, rest, ok := strings.Cut(s, "@")
	if !ok {
		return fmt.Errorf("write DROP@AT[~BACKOFF] (such as 50%%@10s~2s) or restart@AT, not %q", s)
	}
	at, backoff, _ := strings.Cut(rest, "~")
	st := &bench.Storm{}
	d, err := time.ParseDuration(at)
	if err != nil {
		return fmt.Errorf("storm time %q is not a duration such as 10s", at)
	}
	st.At = bench.Duration(d)
	if backoff != "" {
		b, err := time.ParseDuration(backoff)
		if err != nil || b < 0 {
			return fmt.Errorf("storm backoff %q is not a duration such as 2s", backoff)
		}
		st.Backoff = bench.Duration(b)
	}
	if what == "restart" {
		st.RestartTarget = true
	} else {
		st.Drop = what
	}
	*v.p = st
	return nil
}

func (v *stormValue) Type() string { return "DROP@AT" }

package bench

import (
	"cmp"
	"fmt"
	"regexp"

	"time"

	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/bench/workload"
)

// HasWorkload reports whether the config asks for more than the stamped echo:
// latency, steps, send, receive or roles.
func (c *Config) HasWorkload() bool {
	return c.Latency != nil || len(c.Steps) > 0 || c.Send != "" || c.Receive || len(c.Roles) > 0
}

// latencyMode is the config's latency mode (echo when unset).
func (c *Config) latencyMode() string {
	if c.Latency == nil {
		return LatencyEcho
	}
	return cmp.Or(c.Latency.Mode, LatencyEcho)
}

var roleName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// compileWorkload checks the workload keys and compiles them for the
// driver; nil without a workload. Every error says which key and what to write.
func (c *Config) compileWorkload() (*workload.Plan, error) {
	if err := c.checkServerModes(); err != nil {
		return nil, err
	}
	if !c.HasWorkload() {
		if c.Rooms > 0 || c.PushRate > 0 {
			return nil, inputErr("rooms and push_rate make the built-in target deliver frames, not echo them: add latency: {mode: stamp, field: ts} (and roles, or receive: true)")
		}
		return nil, nil
	}
	if c.Mode != ModeSteady {
		return nil, inputErr("steps, send, receive, roles and latency apply to the steady mode (mode is %s)", c.Mode)
	}
	if e := driver.Engine(cmp.Or(c.Engine, string(driver.DefaultEngine()))); e != driver.EngineLoops {
		return nil, inputErr("steps, send, receive, roles and latency run on the loops engine (engine is %s): leave out --engine goroutines", e)
	}
	mode, ex, err := c.compileLatency()
	if err != nil {
		return nil, err
	}
	if (c.Rooms > 0 || c.PushRate > 0) && mode == workload.Echo {
		return nil, inputErr("rooms and push_rate make the built-in target deliver frames, not echo them: set latency: {mode: stamp, field: ts}")
	}
	specs := c.Roles
	if len(specs) == 0 {
		specs = []Role{{Steps: c.Steps, Send: c.Send, Binary: c.Binary, Share: "rest"}}
	} else if len(c.Steps) > 0 || c.Send != "" || c.Receive {
		return nil, inputErr("with roles, steps and send go under each role (and a role without send only receives): move the top-level steps/send/receive into the roles")
	}
	var roles []*workload.Role
	var shares []workload.Share
	seen := map[string]bool{}
	for i, rs := range specs {
		where := "the steady pattern"
		if len(c.Roles) > 0 {
			if !roleName.MatchString(rs.Name) {
				return nil, inputErr("roles[%d]: name %q must be a word of letters, digits, - and _ (it names the role in reports and in thresholds, [role=NAME])", i+1, rs.Name)
			}
			if seen[rs.Name] {
				return nil, inputErr("roles[%d]: the name %q is taken by another role", i+1, rs.Name)
			}
			seen[rs.Name] = true
			where = "role " + rs.Name
		}
		r, sh, err := c.compileRole(rs, mode, ex, where, len(c.Roles) == 0)
		if err != nil {
			return nil, err
		}
		roles = append(roles, r)
		shares = append(shares, sh)
	}
	counts, err := workload.Split(c.Conns, shares)
	if err != nil {
		return nil, inputErr("roles: %v", err)
	}
	return workload.NewPlan(mode, ex, roles, counts), nil
}

// checkServerModes checks rooms and push_rate, which shape the built-in target.
func (c *Config) checkServerModes() error {
	switch {
	case c.Rooms < 0:
		return inputErr("rooms must be 0 (echo) or a room size of at least 2 (got %d)", c.Rooms)
	case c.Rooms == 1:
		return inputErr("rooms: 1 is a room of one, which delivers nothing: give a size of at least 2")
	case c.PushRate < 0:
		return inputErr("push_rate must not be negative (got %g)", c.PushRate)
	case c.Rooms > 0 && c.PushRate > 0:
		return inputErr("rooms and push_rate are two kinds of server: choose one")
	case c.Capacity < 0:
		return inputErr("capacity must be 0 (no cap) or a number of frames per second (got %g)", c.Capacity)
	case c.Capacity > 0 && (c.Rooms > 0 || c.PushRate > 0):
		return inputErr("capacity caps the built-in target's echoes; it does not go with rooms or push_rate")
	case c.Capacity > 0 && c.Target != "":
		return inputErr("capacity shapes the built-in target; with --target, your server has the capacity it has: leave it out")
	case (c.Rooms > 0 || c.PushRate > 0) && c.Target != "":
		return inputErr("rooms and push_rate shape the built-in target; with --target, the server decides what it delivers: leave them out (and give latency: fanout for reach)")
	}
	return nil
}

// compileLatency checks latency: mode, and field or regex.
func (c *Config) compileLatency() (workload.LatencyMode, *workload.Extractor, error) {
	l := c.Latency
	if l == nil {
		l = &Latency{}
	}
	if l.Fanout < 0 {
		return 0, nil, inputErr("latency: fanout must not be negative (got %g)", l.Fanout)
	}
	switch m := cmp.Or(l.Mode, LatencyEcho); m {
	case LatencyEcho:
		if l.Field != "" || l.Regex != "" || l.Fanout > 0 {
			return 0, nil, inputErr("latency: field, regex and fanout go with mode reply or stamp; an echo is checked whole")
		}
		return workload.Echo, nil, nil
	case LatencyReply, LatencyStamp:
		if l.Field == "" && l.Regex == "" {
			what := "its request's sequence"
			if m == LatencyStamp {
				what = "its publisher's send time in Unix nanoseconds"
			}
			return 0, nil, inputErr("latency: mode %s needs field (a JSON field) or regex (its first group) that holds %s, such as field: %s", m, what, map[string]string{LatencyReply: "id", LatencyStamp: "ts"}[m])
		}
		ex, err := workload.NewExtractor(l.Field, l.Regex)
		if err != nil {
			return 0, nil, inputErr("latency: %v", err)
		}
		if m == LatencyReply {
			if l.Fanout > 0 {
				return 0, nil, inputErr("latency: fanout goes with mode stamp (deliveries), not reply")
			}
			return workload.Reply, ex, nil
		}
		return workload.Stamp, ex, nil
	default:
		return 0, nil, inputErr("latency: mode %q is not one of echo, reply, stamp", m)
	}
}

// compileRole compiles one role (or, for a run without roles, its steady pattern).
func (c *Config) compileRole(rs Role, mode workload.LatencyMode, ex *workload.Extractor, where string, plain bool) (*workload.Role, workload.Share, error) {
	r := &workload.Role{Name: rs.Name, Rate: cmp.Or(rs.Rate, c.MsgRate), Binary: rs.Binary}
	var sh workload.Share
	switch {
	case plain:
		sh = workload.Share{Rest: true}
	case rs.Count < 0:
		return nil, sh, inputErr("%s: count must be positive (got %d)", where, rs.Count)
	case rs.Count > 0 && rs.Share != "":
		return nil, sh, inputErr("%s: give share or count, not both", where)
	case rs.Count > 0:
		sh = workload.Share{Count: rs.Count}
	case rs.Share == "":
		return nil, sh, inputErr("%s: give share (such as 1%% or rest) or count", where)
	default:
		var err error
		if sh, err = workload.ParseShare(rs.Share); err != nil {
			return nil, sh, inputErr("%s: %v", where, err)
		}
	}
	if rs.Rate < 0 {
		return nil, sh, inputErr("%s: rate must not be negative (got %g)", where, rs.Rate)
	}
	for i, st := range rs.Steps {
		cs, err := c.compileStep(st)
		if err != nil {
			return nil, sh, inputErr("%s: steps[%d]: %v", where, i+1, err)
		}
		r.Steps = append(r.Steps, cs)
	}
	if rs.Send != "" {
		t, err := workload.ParseTemplate(rs.Send)
		if err != nil {
			return nil, sh, inputErr("%s: send: %v", where, err)
		}
		r.Send = t
	} else if plain && !c.Receive && mode == workload.Echo {
		r.EchoPayload = true // the stamped echo payload of size bytes
	} else if plain && !c.Receive {
		return nil, sh, inputErr("latency mode %s: give send: TEMPLATE for the frames to send, or receive: true to only receive", c.latencyMode())
	}
	if r.Send == nil {
		return r, sh, nil
	}
	// What the frames must carry for their latency to be taken.
	switch mode {
	case workload.Stamp:
		if r.Rate <= 0 {
			return nil, sh, inputErr("%s: stamped frames go out at a rate: set rate (or msg_rate) above 0", where)
		}
		if err := carries(r.Send, ex, workload.VarNowNs, 1_700_000_000_123_456_789); err != nil {
			return nil, sh, inputErr("%s: send: %v; latency mode stamp reads the publisher's send time from every frame", where, err)
		}
	case workload.Reply:
		if err := carries(r.Send, ex, workload.VarSeq, 987654); err != nil {
			return nil, sh, inputErr("%s: send: %v; latency mode reply matches each answer to its request by that sequence", where, err)
		}
	}
	return r, sh, nil
}

// carries checks that template t, rendered, gives the value of variable
// name back through ex: a stamp or sequence where the latency looks for it.
func carries(t *workload.Template, ex *workload.Extractor, name string, sample int64) error {
	if !t.HasVar(name) {
		return fmt.Errorf("%q has no {{%s}}", t.Source(), name)
	}
	v := workload.Vars{Conn: 12, Index: 3, Role: "r", NowNs: sample, Seq: uint32(sample)}
	if name == workload.VarNowNs {
		v.Seq = 5
	}
	got := t.Append(nil, &v)
	if n, ok := ex.Number(got); !ok || n != sample {
		return fmt.Errorf("the frame %s does not give {{%s}} back through latency's field or regex (a JSON field needs a JSON frame)", workload.Sample(got), name)
	}
	return nil
}

// compileStep compiles one step: exactly one of send and expect.
func (c *Config) compileStep(st Step) (workload.Step, error) {
	var out workload.Step
	switch {
	case st.Send != "" && st.Expect != nil:
		return out, fmt.Errorf("a step is a send or an expect, not both: split it in two")
	case st.Send != "":
		t, err := workload.ParseTemplate(st.Send)
		if err != nil {
			return out, fmt.Errorf("send: %v", err)
		}
		out.Send, out.Binary = t, st.Binary
	case st.Expect != nil:
		m, err := workload.NewMatcher(st.Expect.Regex, st.Expect.Field, st.Expect.Equals)
		if err != nil {
			return out, fmt.Errorf("expect: %v", err)
		}
		if st.Expect.Timeout < 0 {
			return out, fmt.Errorf("expect: timeout must be positive")
		}
		out.Expect = m
		out.Timeout = cmp.Or(time.Duration(st.Expect.Timeout), time.Duration(c.FrameTimeout))
	default:
		return out, fmt.Errorf("a step needs send: TEMPLATE or expect: {regex: ...} (or {field: ..., equals: ...})")
	}
	return out, nil
}

// roleNames lists the configured roles' names.
func (c *Config) roleNames() []string {
	var out []string
	for _, r := range c.Roles {
		out = append(out, r.Name)
	}
	return out
}

// rolesOf turns the driver's role counts and recorders into the run's roles.
func rolesOf(d *driver.Driver, st *Stats) []RoleResult {
	var out []RoleResult
	for i, rs := range st.Roles {
		rr := RoleResult{Name: rs.Name, Planned: rs.Planned, Connections: rs.Established, FramesSent: rs.FramesSent,
			FramesReceived: rs.FramesReceived, Errors: rs.Errors, ErrorSamples: rs.ErrorSamples,
			Latency: metrics.NewHistogram(), Delivery: metrics.NewHistogram()}
		if rec := d.RoleRecorder(i); rec != nil {
			rec.Collect()
			rr.Latency, rr.Delivery = rec.Total(metrics.RTT), rec.Total(metrics.Delivery)
		}
		out = append(out, rr)
	}
	return out
}

// reachOf is the run's reach: stamped frames received against what the
// server owed, from the built-in target's count (owed > 0) or from the
// frames published times latency: fanout. Nil when neither is known.
func reachOf(res *Result, owed int64) *Reach {
	if res.Config.latencyMode() != LatencyStamp || res.Stats == nil {
		return nil
	}
	r := &Reach{Received: res.Stats.FramesDelivered}
	switch {
	case owed > 0:
		r.Expected, r.Source = owed, "target"
	case res.Config.Latency.Fanout > 0:
		r.Expected, r.Source = int64(float64(res.Stats.FramesPublished)*res.Config.Latency.Fanout+0.5), "fanout"
	default:
		return nil
	}
	if r.Expected > 0 {
		r.Ratio = float64(r.Received) / float64(r.Expected)
	}
	return r
}

// RequestedFrameRate is the frames per second the run's schedule asked for
// in its steady window: connections times msg_rate (the connections that
// came up, at most conns); each sending role's connections times its rate;
// for stages, the average over their length of connections times rate.
// Zero in closed loop, and for modes without a frame window.
func (r *Result) RequestedFrameRate() float64 {
	c := &r.Config
	if !c.RunMode().Streams() {
		return 0
	}
	if len(c.Stages) > 0 {
		st, err := c.compileStages()
		if err != nil || st.Length() <= 0 {
			return 0
		}
		var frames float64
		prev, from := st.Start, time.Duration(0)
		for _, p := range st.Points {
			a0, a1, b0, b1 := prev.Conns, p.Conns, prev.MsgRate, p.MsgRate
			// The integral over the stage of two linear functions' product.
			frames += (p.End - from).Seconds() * (a0*b0 + (a0*(b1-b0)+b0*(a1-a0))/2 + (a1-a0)*(b1-b0)/3)
			prev, from = p, p.End
		}
		return frames / st.Length().Seconds()
	}
	if len(c.Roles) > 0 {
		var rate float64
		for _, rr := range r.Roles {
			for _, rc := range c.Roles {
				if rc.Name == rr.Name && rc.Send != "" {
					rate += float64(rr.Planned) * cmp.Or(rc.Rate, c.MsgRate)
				}
			}
		}
		return rate
	}
	if c.Receive {
		return 0
	}
	up := int64(c.Conns)
	if r.Stats != nil {
		up = min(up, r.Stats.Established)
	}
	return float64(up) * c.MsgRate
}

package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/metrics"
)

// workloadConfig is a short steady run against the in-process echo target.
func workloadConfig(conns int) Config {
	cfg := Default()
	cfg.Conns, cfg.ConnectRate, cfg.Duration, cfg.MsgRate = conns, 0, Duration(600*time.Millisecond), 10
	return cfg
}

func roleNamed(t *testing.T, res *Result, name string) RoleResult {
	t.Helper()
	for _, r := range res.Roles {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no role %q in %+v", name, res.Roles)
	return RoleResult{}
}

// TestWorkloadRolesRepliesAndSteps: half the connections run steps (a
// send, an expect on the answer) and then send requests whose answers (the
// echo target's) are matched to them by the sequence they carry; the other
// half only receive. Each role is counted on its own.
func TestWorkloadRolesRepliesAndSteps(t *testing.T) {
	t.Parallel()
	cfg := workloadConfig(20)
	cfg.Latency = &Latency{Mode: LatencyReply, Field: "seq"}
	cfg.Roles = []Role{
		{Name: "askers", Share: "50%", Steps: []Step{{Send: `{"hello":{{conn}}}`}, {Expect: &Expect{Field: "hello"}}},
			Send: `{"seq":{{seq}},"pad":"{{random 8}}"}`},
		{Name: "quiet", Share: "rest"},
	}
	res := runSingle(t, cfg, Options{Interval: 100 * time.Millisecond})
	st := res.Stats
	if st.Established != 20 || len(st.Errors) != 0 || st.FramesLost != 0 {
		t.Fatalf("established %d errors %v lost %d", st.Established, st.Errors, st.FramesLost)
	}
	ask, quiet := roleNamed(t, res, "askers"), roleNamed(t, res, "quiet")
	if ask.Planned != 10 || ask.Connections != 10 || quiet.Planned != 10 || quiet.Connections != 10 {
		t.Fatalf("askers %+v quiet %+v", ask, quiet)
	}
	if quiet.FramesSent != 0 || quiet.FramesReceived != 0 || quiet.Latency.TotalCount() != 0 {
		t.Fatalf("the quiet role sent %d and received %d frames", quiet.FramesSent, quiet.FramesReceived)
	}
	// Each asker's one step frame came back, then every request was answered.
	requests := ask.FramesSent - 10
	if requests <= 0 || ask.FramesReceived != ask.FramesSent || ask.Latency.TotalCount() != requests {
		t.Fatalf("askers sent %d, received %d, %d latencies; want %d answered requests", ask.FramesSent, ask.FramesReceived, ask.Latency.TotalCount(), requests)
	}
	if got := res.Histograms[metrics.RTT].TotalCount(); got != requests {
		t.Fatalf("run ws_rtt count %d, want the %d answered requests", got, requests)
	}
}

// TestWorkloadExpectMissIsItsOwnClass: an expect that nothing matches ends
// its connection as expect_timeout, with a sample of what came instead.
func TestWorkloadExpectMissIsItsOwnClass(t *testing.T) {
	t.Parallel()
	cfg := workloadConfig(4)
	cfg.Steps = []Step{{Send: `{"join":"lobby"}`}, {Expect: &Expect{Field: "type", Equals: "joined", Timeout: Duration(200 * time.Millisecond)}}}
	res := runSingle(t, cfg, Options{Interval: 100 * time.Millisecond})
	st := res.Stats
	if st.Errors[driver.ErrExpectTimeout] != 4 {
		t.Fatalf("errors %v, want 4 %s", st.Errors, driver.ErrExpectTimeout)
	}
	sample := st.ErrorSamples[driver.ErrExpectTimeout]
	for _, want := range []string{"step 2", "type = joined", `{\"join\":\"lobby\"}`, "no field type"} {
		if !strings.Contains(sample, want) {
			t.Fatalf("sample %q lacks %q", sample, want)
		}
	}
}

// TestWorkloadStampThroughEcho: stamped frames bounced by the echo target
// are deliveries of fan-out 1; reach counts them against what was published.
func TestWorkloadStampThroughEcho(t *testing.T) {
	t.Parallel()
	cfg := workloadConfig(10)
	cfg.Latency = &Latency{Mode: LatencyStamp, Field: "ts", Fanout: 1}
	cfg.Send = `{"ts":{{now_ns}},"from":{{conn}}}`
	res := runSingle(t, cfg, Options{Interval: 100 * time.Millisecond})
	st := res.Stats
	if st.FramesPublished == 0 || st.FramesDelivered != st.FramesPublished || len(st.Errors) != 0 {
		t.Fatalf("published %d delivered %d errors %v", st.FramesPublished, st.FramesDelivered, st.Errors)
	}
	if got := res.Histograms[metrics.Delivery].TotalCount(); got != st.FramesDelivered {
		t.Fatalf("delivery histogram has %d samples, %d delivered", got, st.FramesDelivered)
	}
	if r := res.Reach; r == nil || r.Source != "fanout" || r.Expected != st.FramesPublished || r.Ratio != 1 {
		t.Fatalf("reach %+v, published %d", res.Reach, st.FramesPublished)
	}
}

// TestStagedRunRowsMatchStages: a ramp, a plateau and a ramp down, each
// with its own figures, and the connections never above the plateau.
func TestStagedRunRowsMatchStages(t *testing.T) {
	t.Parallel()
	cfg := workloadConfig(1)
	cfg.Stages = []Stage{
		{Name: "ramp", Duration: Duration(600 * time.Millisecond), Conns: 40},
		{Name: "peak", Duration: Duration(600 * time.Millisecond), Conns: 40},
		{Duration: Duration(400 * time.Millisecond), Conns: 0},
	}
	res := runSingle(t, cfg, Options{Interval: 100 * time.Millisecond})
	st := res.Stats
	if st.Established != 40 || st.PeakConcurrent != 40 || len(st.Errors) != 0 {
		t.Fatalf("established %d peak %d errors %v, want 40 up and at most 40 open", st.Established, st.PeakConcurrent, st.Errors)
	}
	if len(res.Stages) != 3 {
		t.Fatalf("%d stages, want 3: %+v", len(res.Stages), res.Stages)
	}
	names := []string{"ramp", "peak", "stage3"}
	var rtt int64
	for i, s := range res.Stages {
		if s.Name != names[i] || s.Index != i+1 {
			t.Fatalf("stage %d is %q (%d)", i, s.Name, s.Index)
		}
		if i > 0 && s.Start != res.Stages[i-1].End {
			t.Fatalf("stage %d starts at %v, the one before ended at %v", i+1, s.Start, res.Stages[i-1].End)
		}
		if s.End <= s.Start {
			t.Fatalf("stage %d: %v to %v", i+1, s.Start, s.End)
		}
		rtt += s.Histograms[metrics.RTT].TotalCount()
	}
	ramp, peak, down := res.Stages[0], res.Stages[1], res.Stages[2]
	if ramp.Established == 0 || peak.FramesReceived == 0 || down.Closed == 0 || peak.Histograms[metrics.RTT].TotalCount() == 0 {
		t.Fatalf("ramp %+v\npeak %+v\ndown %+v", ramp, peak, down)
	}
	if total := res.Histograms[metrics.RTT].TotalCount(); rtt == 0 || rtt > total {
		t.Fatalf("the stages hold %d round trips, the run %d", rtt, total)
	}
	if res.Config.Conns != 40 {
		t.Fatalf("conns %d, want the largest stage's 40", res.Config.Conns)
	}
}

// TestStormDropsAndComesBack: half the connections are cut at once and
// reconnect; the storm says how many and how long it took.
func TestStormDropsAndComesBack(t *testing.T) {
	t.Parallel()
	cfg := workloadConfig(40)
	cfg.Duration = Duration(1500 * time.Millisecond)
	cfg.Storm = &Storm{At: Duration(300 * time.Millisecond), Drop: "50%"}
	res := runSingle(t, cfg, Options{Interval: 100 * time.Millisecond})
	st, sm := res.Stats, res.Storm
	if sm == nil {
		t.Fatal("no storm in the result")
	}
	if sm.Dropped != 20 || sm.Reconnected != 20 || !sm.Recovered || sm.BackToFull <= 0 {
		t.Fatalf("storm %+v, want 20 dropped and back", sm)
	}
	if st.Established != 60 || len(st.Errors) != 0 || st.Failed != 0 {
		t.Fatalf("established %d errors %v failed %d", st.Established, st.Errors, st.Failed)
	}
	if got := sm.TLSHandshake.TotalCount(); got != 20 {
		t.Fatalf("storm handshakes %d, want 20", got)
	}
	if sm.At < 300*time.Millisecond {
		t.Fatalf("storm at %v", sm.At)
	}
}

// TestWorkloadBadInput: settings that cannot work are input errors before
// any load, saying what to change.
func TestWorkloadBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		set  func(c *Config)
		want string
	}{
		{"roles over the conns", func(c *Config) {
			c.Roles = []Role{{Name: "a", Count: 8}, {Name: "b", Count: 5}}
		}, "more than the 10"},
		{"two rests", func(c *Config) {
			c.Roles = []Role{{Name: "a", Share: "rest"}, {Name: "b", Share: "rest"}}
		}, "both take the rest"},
		{"stamp without the send time", func(c *Config) {
			c.Latency = &Latency{Mode: LatencyStamp, Field: "ts"}
			c.Send = `{"seq":{{seq}}}`
		}, "has no {{now_ns}}"},
		{"a JSON field on a frame that is not JSON", func(c *Config) {
			c.Latency = &Latency{Mode: LatencyStamp, Field: "ts"}
			c.Send = `ts={{now_ns}}`
		}, "a JSON field needs a JSON frame"},
		{"reply without the sequence", func(c *Config) {
			c.Latency = &Latency{Mode: LatencyReply, Field: "id"}
			c.Send = `{"ts":{{now_ns}}}`
		}, "has no {{seq}}"},
		{"unknown variable", func(c *Config) { c.Send = `{{nope}}` }, "unknown variable {{nope}}"},
		{"regex that does not compile", func(c *Config) {
			c.Steps = []Step{{Expect: &Expect{Regex: "("}}}
		}, "does not compile"},
		{"push without stamp", func(c *Config) { c.PushRate = 1 }, "deliver frames, not echo them"},
		{"rooms with a target", func(c *Config) {
			c.Rooms, c.Target, c.CertKey = 10, "wss://127.0.0.1:1/", ""
			c.Latency = &Latency{Mode: LatencyStamp, Field: "ts"}
			c.Receive = true
		}, "shape the built-in target"},
		{"storm outside the window", func(c *Config) { c.Storm = &Storm{At: Duration(time.Minute), Drop: "10%"} }, "inside the steady window"},
		{"storm without drop", func(c *Config) { c.Storm = &Storm{At: Duration(time.Second)} }, "give drop"},
		{"stage msg_rate with roles", func(c *Config) {
			r := 5.0
			c.Roles = []Role{{Name: "a", Share: "rest"}}
			c.Stages = []Stage{{Duration: Duration(time.Second), Conns: 5, MsgRate: &r}}
		}, "each role sends at its own rate"},
		{"stage backwards", func(c *Config) { c.Stages = []Stage{{Duration: Duration(-time.Second), Conns: 5}} }, "goes backwards"},
		{"workload on goroutines", func(c *Config) { c.Engine = "goroutines"; c.Send = "x{{seq}}" }, "loops engine"},
		{"unknown latency mode", func(c *Config) { c.Latency = &Latency{Mode: "psychic"} }, "not one of echo, reply, stamp"},
	}
	for _, tc := range cases {
		cfg := Default()
		cfg.Conns = 10
		tc.set(&cfg)
		_, err := cfg.Plan()
		if !IsInputError(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want an input error with %q", tc.name, err, tc.want)
		}
	}
}

// TestChatRoomsOnTheBuiltinTarget: publishers spread one per room of the
// built-in chat target; every delivery it owed arrives, stamped.
func TestChatRoomsOnTheBuiltinTarget(t *testing.T) {
	t.Parallel()
	cfg := workloadConfig(50)
	cfg.Rooms = 10
	cfg.Latency = &Latency{Mode: LatencyStamp, Field: "ts"}
	cfg.Roles = []Role{
		{Name: "pub", Share: "10%", Send: `{"ts":{{now_ns}},"from":{{conn}}}`, Rate: 20},
		{Name: "sub", Share: "rest"},
	}
	res := runSingle(t, cfg, Options{Interval: 100 * time.Millisecond})
	st := res.Stats
	if len(st.Errors) != 0 || st.FramesPublished == 0 {
		t.Fatalf("errors %v published %d", st.Errors, st.FramesPublished)
	}
	r := res.Reach
	// Every frame owed 9 deliveries; what was owed arrives, but for frames
	// still on their way when the connections closed.
	if r == nil || r.Source != "target" || r.Expected != 9*st.FramesPublished || r.Received > r.Expected || 100*r.Received < 99*r.Expected {
		t.Fatalf("reach %+v for %d published into rooms of 10 (one publisher each)", r, st.FramesPublished)
	}
	if cc := res.Crosscheck; cc == nil || !cc.OK || cc.TargetFramesIn != st.FramesSent || cc.TargetFrames != st.FramesReceived {
		t.Fatalf("crosscheck %+v, sent %d received %d", res.Crosscheck, st.FramesSent, st.FramesReceived)
	}
	pub, sub := roleNamed(t, res, "pub"), roleNamed(t, res, "sub")
	if got := pub.Delivery.TotalCount() + sub.Delivery.TotalCount(); got != st.FramesDelivered || sub.Delivery.TotalCount() == 0 {
		t.Fatalf("role deliveries %d+%d, delivered %d", pub.Delivery.TotalCount(), sub.Delivery.TotalCount(), st.FramesDelivered)
	}
}

// TestPushStreamOnTheBuiltinTarget: receive-only connections read the
// target's pushed, stamped frames; reach is against what it pushed.
func TestPushStreamOnTheBuiltinTarget(t *testing.T) {
	t.Parallel()
	cfg := workloadConfig(10)
	cfg.PushRate = 50
	cfg.Receive = true
	cfg.Latency = &Latency{Mode: LatencyStamp, Field: "ts"}
	res := runSingle(t, cfg, Options{Interval: 100 * time.Millisecond})
	st := res.Stats
	if len(st.Errors) != 0 || st.FramesSent != 0 || st.FramesDelivered == 0 {
		t.Fatalf("errors %v sent %d delivered %d", st.Errors, st.FramesSent, st.FramesDelivered)
	}
	if r := res.Reach; r == nil || r.Source != "target" || r.Received > r.Expected || r.Ratio < 0.5 {
		t.Fatalf("reach %+v", r)
	}
	if got := res.Histograms[metrics.Delivery].TotalCount(); got != st.FramesDelivered {
		t.Fatalf("delivery samples %d, delivered %d", got, st.FramesDelivered)
	}
}

// TestStormRestartsTheTarget: the target is killed and started again on its
// port; every connection is cut and comes back.
func TestStormRestartsTheTarget(t *testing.T) {
	t.Parallel()
	cfg := workloadConfig(20)
	cfg.Duration = Duration(2 * time.Second)
	cfg.Storm = &Storm{At: Duration(300 * time.Millisecond), RestartTarget: true, Backoff: Duration(100 * time.Millisecond)}
	res := runSingle(t, cfg, Options{Interval: 100 * time.Millisecond})
	sm := res.Storm
	if sm == nil || !sm.TargetRestarted || sm.Dropped != 20 || sm.Reconnected != 20 || !sm.Recovered {
		t.Fatalf("storm %+v, want all 20 cut by the restart and back", sm)
	}
	if st := res.Stats; st.Established != 40 || len(st.Errors) != 0 || st.Failed != 0 {
		t.Fatalf("established %d errors %v failed %d", st.Established, st.Errors, st.Failed)
	}
	if cc := res.Crosscheck; cc == nil || !cc.OK || cc.TargetConnections != 40 {
		t.Fatalf("crosscheck %+v: the target's two lives must count 40 upgrades", res.Crosscheck)
	}
}

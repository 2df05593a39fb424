package bench

// Latency is how a run takes the latency of its frames (Config.Latency).
type Latency struct {
	// Mode is echo, reply or stamp.
	Mode string `yaml:"mode" json:"mode"`
	// Field is the JSON field that carries the request's sequence (reply)
	// or the publisher's send time in Unix nanoseconds (stamp).
	Field string `yaml:"field,omitempty" json:"field,omitempty"`
	// Regex, instead of Field, finds that number as its first group.
	Regex string `yaml:"regex,omitempty" json:"regex,omitempty"`
	// Fanout is how many connections each published frame should reach,
	// for the reach figure against a server that does not report it (the
	// built-in target does).
	Fanout float64 `yaml:"fanout,omitempty" json:"fanout,omitempty"`
}

// The latency modes.
const (
	LatencyEcho  = "echo"
	LatencyReply = "reply"
	LatencyStamp = "stamp"
)

// Step is one thing a connection does as it comes up: send a frame, or
// expect one.
type Step struct {
	// Send is a frame's template (see package bench/workload for its
	// variables: {{conn}}, {{seq}}, {{now_ns}}, {{random N}}, ...).
	Send string `yaml:"send,omitempty" json:"send,omitempty"`
	// Binary sends Send as a binary frame (default text).
	Binary bool `yaml:"binary,omitempty" json:"binary,omitempty"`
	// Expect waits for a frame that matches.
	Expect *Expect `yaml:"expect,omitempty" json:"expect,omitempty"`
}

// Expect is a test on the next matching frame, within a timeout. A miss is
// counted as expect_timeout, with a sample of what came instead.
type Expect struct {
	// Regex must match the frame.
	Regex string `yaml:"regex,omitempty" json:"regex,omitempty"`
	// Field names a JSON field of the frame (a.b for nested objects);
	// Equals, if set, is the value it must have, as text.
	Field  string `yaml:"field,omitempty" json:"field,omitempty"`
	Equals string `yaml:"equals,omitempty" json:"equals,omitempty"`
	// Timeout bounds the wait (default: frame_timeout).
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Role is a named share of a run's connections with its own behaviour.
type Role struct {
	// Name names the role in reports and thresholds ([role=NAME]).
	Name string `yaml:"name" json:"name"`
	// Share is a percentage of the connections ("1%") or "rest"; Count,
	// instead, is a number of them.
	Share string `yaml:"share,omitempty" json:"share,omitempty"`
	Count int    `yaml:"count,omitempty" json:"count,omitempty"`
	// Steps run as each connection of the role comes up.
	Steps []Step `yaml:"steps,omitempty" json:"steps,omitempty"`
	// Send is the template of the role's steady frames; empty: the role
	// only receives.
	Send string `yaml:"send,omitempty" json:"send,omitempty"`
	// Rate is frames per second per connection of the role (default: msg_rate).
	Rate float64 `yaml:"rate,omitempty" json:"rate,omitempty"`
	// Binary sends the steady frames as binary frames.
	Binary bool `yaml:"binary,omitempty" json:"binary,omitempty"`
}

// Stage is one stage of a staged run: over Duration, the load moves
// linearly from the previous stage's targets to these.
type Stage struct {
	// Name names the stage in reports and thresholds ([stage=NAME]);
	// default stageN.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Duration is how long the stage lasts.
	Duration Duration `yaml:"duration" json:"duration"`
	// Conns is the connections open at the stage's end: more are dialed,
	// fewer are closed cleanly.
	Conns int `yaml:"conns" json:"conns"`
	// ConnectRate bounds new connections per second (default: the previous
	// stage's, the first stage's connect_rate).
	ConnectRate float64 `yaml:"connect_rate,omitempty" json:"connect_rate,omitempty"`
	// MsgRate is frames per second per connection at the stage's end
	// (default: the previous stage's, the first stage's msg_rate).
	MsgRate *float64 `yaml:"msg_rate,omitempty" json:"msg_rate,omitempty"`
}

// Storm is a reconnect storm: at At (from the start of the steady window)
// Drop of the connections are cut abruptly and reconnect.
type Storm struct {
	// At is when, from the steady window's start.
	At Duration `yaml:"at" json:"at"`
	// Drop is the share of connections cut ("50%"); with RestartTarget the
	// restart cuts them all.
	Drop string `yaml:"drop,omitempty" json:"drop,omitempty"`
	// Backoff is the most a dropped connection waits before it reconnects,
	// a uniform random jitter (0: at once).
	Backoff Duration `yaml:"backoff,omitempty" json:"backoff,omitempty"`
	// RestartTarget stops the built-in target and starts it again on the
	// same port instead of cutting connections from the driver.
	RestartTarget bool `yaml:"restart_target,omitempty" json:"restart_target,omitempty"`
}

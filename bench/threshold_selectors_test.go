package bench

import (
	"strings"
	"testing"
	"time"
)

// TestThresholdSelectorsNameTheConfigs: a [stage=NAME] or [role=NAME] that
// the config does not have is bad input before any load, listing the names
// it has (stages unnamed in the config are stage1, stage2, ... by position).
func TestThresholdSelectorsNameTheConfigs(t *testing.T) {
	t.Parallel()
	staged := func(c *Config) {
		c.Stages = []Stage{{Name: "ramp", Duration: Duration(10 * time.Second), Conns: 10},
			{Duration: Duration(10 * time.Second), Conns: 20}, {Name: "drain", Duration: Duration(5 * time.Second), Conns: 0}}
	}
	roled := func(c *Config) {
		c.Roles = []Role{{Name: "publishers", Count: 1}, {Name: "subscribers", Share: "rest"}}
	}
	tests := []struct {
		name string
		edit func(*Config)
		th   string
		want []string // empty: valid
	}{
		{"named stage", staged, "ws_rtt.p99[stage=ramp] < 5ms", nil},
		{"stage by position", staged, "ws_rtt.p99[stage=stage2] < 5ms", nil},
		{"role", roled, "delivery.p99[role=subscribers] < 10ms", nil},
		{"role count", roled, "frames.received[role=subscribers] > 1000", nil},
		{"no such stage", staged, "ws_rtt.p99[stage=peak] < 5ms", []string{`no stage "peak"`, "ramp, stage2, drain"}},
		{"stage typo", staged, "ws_rtt.p99[stage=drian] < 5ms", []string{`did you mean "drain"`}},
		{"named stage by position", staged, "ws_rtt.p99[stage=stage1] < 5ms", []string{`no stage "stage1"`, "ramp, stage2, drain"}},
		{"no stages", nil, "ws_rtt.p99[stage=peak] < 5ms", []string{"has no stages", "[stage=peak]"}},
		{"no such role", roled, "delivery.p99[role=subscriber] < 10ms", []string{`no role "subscriber"`, "publishers, subscribers", `did you mean "subscribers"`}},
		{"no roles", staged, "frames.sent[role=publishers] > 0", []string{"has no roles"}},
		{"role selector on a stage name", staged, "ws_rtt.p99[role=ramp] < 5ms", []string{"has no roles"}},
		{"metric without a role selector", roled, "tls_handshake.p99[role=publishers] < 5ms", []string{"takes no [role=...]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			if tc.edit != nil {
				tc.edit(&c)
			}
			c.Thresholds = []string{"errors.rate < 1%", tc.th}
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !IsInputError(err) {
				t.Fatalf("err = %v, want an input error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

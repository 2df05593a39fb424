package bench

import (
	"strings"
	"testing"
)

func TestValidateThresholds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		edit   func(*Config)
		th     string
		errHas string
	}{
		{"latency ok", nil, "ws_rtt.p99 < 5ms", ""},
		{"typo", nil, "ws_rtt.p99 < 5 ms ms", "ws_rtt.p99"},
		{"unknown", nil, "latency.p99 < 5ms", "Valid metrics"},
		{"no frames in hold", func(c *Config) { c.Mode = ModeHold }, "ws_rtt.p50 < 5ms", "connect-hold"},
		{"handshakes in hold", func(c *Config) { c.Mode = ModeHold }, "tls_handshake.p50 < 5ms", ""},
		{"per frame in storm", func(c *Config) { c.Mode = ModeStorm }, "driver_us_per_frame < 5", "steady mode only"},
		{"send lag closed loop", func(c *Config) { c.MsgRate = 0 }, "send_lag.p99 < 5ms", "open-loop"},
		{"target cpu remote", func(c *Config) { c.Target = "wss://127.0.0.1:9/" }, "target_us_per_frame < 5", "built-in target"},
		{"proxy cpu direct", nil, "proxy_us_per_handshake < 5", "no proxy"},
		{"proxy cpu builtin", func(c *Config) { c.Topology = []string{TopologyDirect, TopologyBuiltin} }, "proxy_us_per_handshake < 5", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			if tc.edit != nil {
				tc.edit(&c)
			}
			c.Thresholds = []string{tc.th}
			err := c.Validate()
			if tc.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !IsInputError(err) || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err = %v, want an input error saying %q", err, tc.errHas)
			}
		})
	}
}

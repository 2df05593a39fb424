package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestMissingProxyProgramNamesThePackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	cfg := Default()
	cfg.Topology = []string{TopologyDirect, TopologyNginx, TopologyHAProxy}
	_, err := RunSeries(context.Background(), cfg, Options{})
	if !IsInputError(err) {
		t.Fatalf("err = %v, want an input error", err)
	}
	for _, want := range []string{"apt-get install -y nginx haproxy", "--topology direct"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestTopologyValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"unknown", func(c *Config) { c.Topology = []string{"envoy"} }, "not one of"},
		{"twice", func(c *Config) { c.Topology = []string{"direct", "direct"} }, "listed twice"},
		{"with remote target", func(c *Config) {
			c.Target, c.CertKey, c.Topology = "wss://127.0.0.1:1/", "", []string{"nginx"}
		}, "leave out --target"},
		{"delay without builtin", func(c *Config) { c.Topology, c.ProxyDelay = []string{"direct"}, Duration(time.Millisecond) }, "include builtin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tc.change(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestRunSeriesInterleaves runs direct and builtin (in this process) twice and
// checks the order and that the proxy carried every connection.
func TestRunSeriesInterleaves(t *testing.T) {
	t.Parallel()
	cfg := Default()
	cfg.Conns, cfg.ConnectRate, cfg.Duration, cfg.MsgRate = 10, 0, Duration(300*time.Millisecond), 20
	cfg.Topology, cfg.Repeat = []string{TopologyDirect, TopologyBuiltin}, 2
	results, err := RunSeries(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range results {
		order = append(order, r.Topology)
		if r.Stats.Established != 10 || len(r.Stats.Errors) != 0 || r.Stats.FramesReceived == 0 {
			t.Errorf("%s: established %d errors %v frames %d", r.Topology, r.Stats.Established, r.Stats.Errors, r.Stats.FramesReceived)
		}
		if r.Config.Repeat != 1 || len(r.Config.Topology) != 1 {
			t.Errorf("each run's config must name its own topology once: %+v", r.Config.Topology)
		}
	}
	if got := strings.Join(order, " "); got != "direct builtin direct builtin" {
		t.Fatalf("order %q, want interleaved", got)
	}
}

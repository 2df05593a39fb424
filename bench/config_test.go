package bench

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" means valid
	}{
		{"default", func(*Config) {}, ""},
		{"remote target", func(c *Config) { c.Target = "wss://127.0.0.1:8443/echo"; c.CertKey = "" }, ""},
		{"zero conns", func(c *Config) { c.Conns = 0 }, "--conns must be at least 1"},
		{"malformed URL", func(c *Config) { c.Target = "wss://[::1" }, "is not a URL"},
		{"http URL", func(c *Config) { c.Target = "http://127.0.0.1/" }, "ws:// or wss://"},
		{"no host", func(c *Config) { c.Target = "wss:///path" }, "has no host"},
		{"bad port", func(c *Config) { c.Target = "wss://127.0.0.1:99999/" }, "bad port"},
		{"negative rate", func(c *Config) { c.ConnectRate = -1 }, "--connect-rate"},
		{"zero duration", func(c *Config) { c.Duration = 0 }, "--duration"},
		{"negative msg rate", func(c *Config) { c.MsgRate = -2 }, "--msg-rate"},
		{"text frame too small", func(c *Config) { c.PayloadBytes = 20 }, "at least 32 bytes for text"},
		{"binary frame ok at 16", func(c *Config) { c.PayloadBytes = 16; c.Binary = true }, ""},
		{"binary frame too small", func(c *Config) { c.PayloadBytes = 8; c.Binary = true }, "at least 16 bytes for binary"},
		{"bad header", func(c *Config) { c.Headers = []string{"NoColon"} }, "Name: value"},
		{"bad source ips", func(c *Config) { c.SourceIPs = "127.0.0.9-127.0.0.2" }, "reversed"},
		{"bad mode", func(c *Config) { c.Mode = "burst" }, "mode"},
		{"bad cert key", func(c *Config) { c.CertKey = "dsa" }, "ecdsa-p256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tc.change(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if !IsInputError(err) {
				t.Fatalf("err %v is not an InputError", err)
			}
		})
	}
}

func TestParseSourceIPs(t *testing.T) {
	t.Parallel()
	ips, err := ParseSourceIPs("127.0.0.2-127.0.0.5, 127.0.1.1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ip := range ips {
		got = append(got, ip.String())
	}
	if want := "127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5 127.0.1.1"; strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	for _, bad := range []string{"127.0.0.x", "::1-::2", "1.2.3.4-"} {
		if _, err := ParseSourceIPs(bad); err == nil {
			t.Errorf("ParseSourceIPs(%q) accepted", bad)
		}
	}
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	lim := Limits{OpenFiles: 20000, PortLow: 32768, PortHigh: 60999}
	tests := []struct {
		name      string
		conns     int
		sources   string
		mode      string
		inProcess bool
		want      string
	}{
		{"fits", 10000, "", ModeSteady, false, ""},
		{"too many files", 25000, "127.0.0.2-127.0.0.3", ModeSteady, false, "open files"},
		{"in-process target doubles files", 12000, "", ModeSteady, true, "lower --conns to 9968"},
		{"ports of one source", 19900, "", ModeHold, false, ""},
		{"storm ignores ports", 19000, "", ModeStorm, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			c.Conns, c.SourceIPs, c.Mode = tc.conns, tc.sources, tc.mode
			opt := Options{TargetArgv: []string{"wssbench", "serve"}}
			if tc.inProcess {
				opt.TargetArgv = nil
			}
			_, err := planCell(t, c).Layout(lim, opt)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !IsInputError(err) {
				t.Fatalf("err = %v, want an input error containing %q", err, tc.want)
			}
		})
	}
	// The port range check, with a small range so it trips below the file limit.
	c := Default()
	c.Conns = 5000
	small := Limits{OpenFiles: 20000, PortLow: 50000, PortHigh: 52999}
	c.Target = "wss://10.1.2.3:8443/"
	c.CertKey = ""
	_, err := planCell(t, c).Layout(small, Options{})
	if err == nil || !strings.Contains(err.Error(), "--source-ips") {
		t.Fatalf("err = %v, want advice to add --source-ips", err)
	}
	c.SourceIPs = "127.0.0.2-127.0.0.3"
	if _, err := planCell(t, c).Layout(small, Options{}); err != nil {
		t.Fatalf("two sources should fit: %v", err)
	}
	// A loopback target gets source addresses chosen for it.
	c.Target, c.SourceIPs = "", ""
	lay, err := planCell(t, c).Layout(small, Options{TargetArgv: []string{"wssbench", "serve"}})
	if err != nil || !lay.AutoSources || len(lay.SourceIPs) != 7 {
		t.Fatalf("layout = %+v, %v; want 7 chosen source addresses, a quarter of the range each", lay, err)
	}
}

// TestLayoutSplitsOverProcesses: a run one process cannot hold is planned
// over driver and target processes, and a plan the machine cannot hold is
// refused with what to change.
func TestLayoutSplitsOverProcesses(t *testing.T) {
	t.Parallel()
	lim := Limits{OpenFiles: 20000, PortLow: 32768, PortHigh: 60999, MemAvailable: 24 << 30, Cores: 2}
	opt := Options{TargetArgv: []string{"wssbench", "serve"}, DriveArgv: []string{"wssbench", "drive"}}
	c := Default()
	c.Mode, c.Conns = ModeHold, 100000
	lay, err := planCell(t, c).Layout(lim, opt)
	if err != nil {
		t.Fatal(err)
	}
	if lay.Drivers != 6 || lay.Targets != 6 || len(lay.SourceIPs) != 15 || !lay.AutoSources {
		t.Fatalf("layout = %s (%+v); want 6 drivers, 6 targets, 15 source addresses", lay, lay)
	}
	for _, tc := range []struct {
		name string
		set  func(*Config)
		lim  Limits
		want string
	}{
		{"too few procs", func(c *Config) { c.Procs = 2 }, lim, "use --procs 6 or more"},
		{"too few target procs", func(c *Config) { c.TargetProcs = 3 }, lim, "use --target-procs 6 or more"},
		{"more procs than conns", func(c *Config) { c.Procs = 8; c.Conns = 5 }, lim, "more than the 5 connections"},
		{"memory", func(c *Config) {}, Limits{OpenFiles: 20000, PortLow: 32768, PortHigh: 60999, MemAvailable: 2 << 30, Cores: 2}, "GiB is available"},
		{"proxy holds two sockets each", func(c *Config) { c.Topology = []string{TopologyBuiltin} }, lim, "one proxy process"},
	} {
		c := Default()
		c.Mode, c.Conns = ModeHold, 100000
		tc.set(&c)
		_, err := planCell(t, c).Layout(tc.lim, opt)
		if err == nil || !IsInputError(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want an input error containing %q", tc.name, err, tc.want)
		}
	}
	// Without a way to start driver processes, the plan says to split it.
	if _, err := planCell(t, c).Layout(lim, Options{TargetArgv: opt.TargetArgv}); err == nil || !strings.Contains(err.Error(), "several driver processes") {
		t.Fatalf("err = %v", err)
	}
	// More processes than cores is allowed, and said.
	c.Procs, c.Conns = 3, 30000
	lay, err = planCell(t, c).Layout(lim, opt)
	if err != nil || len(lay.Warnings) == 0 || !strings.Contains(lay.Warnings[0], "more than the 2 cores") {
		t.Fatalf("layout %+v, %v: want a warning about cores", lay, err)
	}
	// A shard plans its own share.
	c.Procs, c.Conns = 0, 100000
	lay, err = planCell(t, c).Layout(lim, Options{TargetArgv: opt.TargetArgv, DriveArgv: opt.DriveArgv, Shard: &Shard{Index: 3, Count: 3}})
	if err != nil || lay.Conns != 33333 {
		t.Fatalf("shard 3/3 of 100000: %+v, %v", lay, err)
	}
}

func TestDurationYAMLAndJSON(t *testing.T) {
	t.Parallel()
	d := Duration(1500 * time.Millisecond)
	b, err := d.MarshalJSON()
	if err != nil || string(b) != `"1.5s"` {
		t.Fatalf("MarshalJSON = %s, %v", b, err)
	}
	var back Duration
	if err := back.UnmarshalJSON(b); err != nil || back != d {
		t.Fatalf("UnmarshalJSON = %v, %v", back, err)
	}
	if err := back.UnmarshalJSON([]byte(`"soon"`)); err == nil {
		t.Fatal("accepted a bad duration")
	}
}

// planCell plans a one-cell config and returns its cell.
func planCell(t *testing.T, c Config) *Cell {
	t.Helper()
	p, err := c.Plan()
	if err != nil {
		t.Fatal(err)
	}
	return p.Cells[0]
}

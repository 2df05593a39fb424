package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench"
)

func TestShippedScenariosLoad(t *testing.T) {
	t.Parallel()
	names := Shipped()
	if len(names) < 3 {
		t.Fatalf("shipped scenarios: %v, want at least steady-echo, handshake-storm, connect-hold", names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			byName, err := Load(name)
			if err != nil {
				t.Fatalf("load by name: %v", err)
			}
			byPath, err := Load(filepath.Join(".", name+".yaml"))
			if err != nil {
				t.Fatalf("load by path: %v", err)
			}
			if byName.Mode != byPath.Mode || byName.Conns != byPath.Conns || byName.Label != name {
				t.Fatalf("by name %+v, by path %+v", byName, byPath)
			}
		})
	}
}

func TestShippedScenarioValues(t *testing.T) {
	t.Parallel()
	storm, err := Load("handshake-storm")
	if err != nil {
		t.Fatal(err)
	}
	if storm.Mode != bench.ModeStorm || time.Duration(storm.Duration) != 10*time.Second {
		t.Fatalf("handshake-storm = %+v", storm)
	}
	hold, err := Load("connect-hold")
	if err != nil {
		t.Fatal(err)
	}
	if hold.Mode != bench.ModeHold || hold.Conns != 5000 {
		t.Fatalf("connect-hold = %+v", hold)
	}
	// Settings a file leaves out keep the defaults.
	if hold.PayloadBytes != bench.Default().PayloadBytes {
		t.Fatalf("size = %d, want the default %d", hold.PayloadBytes, bench.Default().PayloadBytes)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "mode: steady\nconns: 10\nconnz: 5\n", []string{"line 3", "connz"}},
		{"wrong type", "mode: steady\nconns: many\n", []string{"line 2", "many"}},
		{"bad duration", "duration: tenseconds\n", []string{"line 1", "tenseconds"}},
		{"invalid value", "conns: 0\n", []string{"--conns must be at least 1"}},
		{"bad mode", "mode: sprint\n", []string{"sprint"}},
		{"bad target", "target: http://x\n", []string{"ws:// or wss://"}},
		{"threshold typo", "thresholds:\n  - 'ws_rt.p99 < 5ms'\n", []string{`did you mean "ws_rtt.p99"`}},
		{"threshold not a list", "thresholds: 5\n", []string{"line 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A file error comes from Decode; settings that cannot work
			// from the plan, made once flags have had their say.
			cfg, err := Decode(strings.NewReader(tc.yaml))
			if err == nil {
				_, err = cfg.Plan()
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDecodeThresholds(t *testing.T) {
	t.Parallel()
	cfg, err := Decode(strings.NewReader("thresholds:\n  - 'ws_rtt.p99 < 5ms'\n  - errors.rate < 0.1%\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Thresholds) != 2 || cfg.Thresholds[1] != "errors.rate < 0.1%" {
		t.Fatalf("thresholds = %q", cfg.Thresholds)
	}
}

func TestLoadMissingFileIsInputError(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !bench.IsInputError(err) || !strings.Contains(err.Error(), "steady-echo") {
		t.Fatalf("err = %v, want an input error listing the shipped scenarios", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("conns: 1\nfoo: bar\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); !bench.IsInputError(err) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want an input error naming line 2", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range Shipped() {
		b, err := shipped.ReadFile(name + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("conns: [1, 2]\n")
	f.Add("duration: 1h\nmsg_rate: -1\n")
	f.Add("thresholds: ['ws_rtt.p99 < 5ms', 'errors.rate < 0.1%']\n")
	f.Add("thresholds:\n  - 'ws_rt.p99 < 5ms'\n")
	f.Add("thresholds: 'ws_rtt.p99 < 5ms'\n")
	f.Add("mode: connect-hold\nthresholds: [driver_us_per_frame < 15]\n")
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := Decode(strings.NewReader(s))
		if err == nil {
			// Whatever decodes can be planned: a plan or an input error, never a panic.
			if _, perr := cfg.Plan(); perr != nil && !bench.IsInputError(perr) {
				t.Fatalf("plan error is not bad input: %v", perr)
			}
		}
	})
}

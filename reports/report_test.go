package reports

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/metrics"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixedResult is a steady run with known figures: 10 connections, 1000
// frames, 1 s of connect and 2 s of steady state.
func fixedResult() *bench.Result {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	cfg := bench.Default()
	cfg.Label, cfg.Conns, cfg.MsgRate = "golden", 10, 50
	res := &bench.Result{
		Config: cfg, TargetURL: "wss://127.0.0.1:8443/", BuiltinTarget: true, StartedAt: t0, Elapsed: 3500 * time.Millisecond,
		Stats: &driver.Stats{
			Attempted: 10, Established: 10, PeakConcurrent: 10, ClosedClean: 10,
			Errors: map[string]int64{}, ErrorSamples: map[string]string{},
			TLSVersions: map[string]int64{"TLS 1.3": 10}, CipherSuites: map[string]int64{"TLS_AES_128_GCM_SHA256": 10},
			Groups: map[string]int64{"X25519MLKEM768": 10}, Handshakes: 10, HandshakeBytesOut: 15650, HandshakeBytesIn: 19190,
			FramesSent: 1000, FramesReceived: 1000,
			Phases: []driver.PhaseMark{{Name: "connect", At: t0}, {Name: "steady", At: t0.Add(time.Second)},
				{Name: "close", At: t0.Add(3 * time.Second)}, {Name: "done", At: t0.Add(3500 * time.Millisecond)}},
		},
		CPU: bench.CPU{Driver: 300 * time.Millisecond, Target: 200 * time.Millisecond,
			DriverByPhase: bench.PhaseCPU{Connect: 10 * time.Millisecond, Steady: 40 * time.Millisecond},
			TargetByPhase: bench.PhaseCPU{Connect: 8 * time.Millisecond, Steady: 20 * time.Millisecond}},
		Memory: bench.Memory{DriverBaselineRSS: 10 << 20, DriverPeakRSS: 10<<20 + 10*16384},
		Health: bench.Health{Cores: 2, GOGC: "100"},
	}
	for m := range res.Histograms {
		h := metrics.NewHistogram()
		if metrics.Metric(m) == metrics.Delivery {
			res.Histograms[m] = h // an echo run: no stamped deliveries
			continue
		}
		for i := int64(1); i <= 100; i++ {
			_ = h.RecordValue(i * int64(time.Duration(m+1)*10*time.Microsecond))
		}
		res.Histograms[m] = h
	}
	return res
}

func TestFromResultFigures(t *testing.T) {
	t.Parallel()
	r := one(Meta{Version: "test", Commit: "abc"}, fixedResult())
	checks := []struct {
		name      string
		got, want float64
	}{
		{"driver µs per handshake", r.CPU.DriverUsPerHandshake, 1000},
		{"driver µs per frame", r.CPU.DriverUsPerFrame, 40},
		{"handshake in frames", r.CPU.HandshakeFrames, 25},
		{"target µs per frame", r.CPU.TargetUsPerFrame, 20},
		{"frames per second", r.Frames.PerSec, 500},
		{"requested per second", r.Frames.RequestedPerSec, 500},
		{"connects per second", r.Connections.ConnectPerSec, 10},
		{"handshake bytes out", r.TLS.HandshakeBytesOut, 1565},
		{"rss per conn", r.Memory.DriverPerConn, 16384},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !r.Verdict.OK || r.Schema != Schema || r.Phases.TLSHandshake.Count != 100 {
		t.Errorf("verdict %+v schema %q tls count %d", r.Verdict, r.Schema, r.Phases.TLSHandshake.Count)
	}
}

func TestVerdictReasons(t *testing.T) {
	t.Parallel()
	res := fixedResult()
	res.Stats.Failed, res.Stats.Established = 2, 8
	res.Stats.Errors = map[string]int64{"dial_refused": 2, "frame_timeout": 1}
	res.Stats.FramesLost = 1
	res.Stats.Interrupted = true
	res.Health.Saturated, res.Health.Reasons = true, []bench.Reason{{Kind: bench.ReasonSaturated, Text: "generator saturated: the driver used 1.90 of 2 cores"}}
	v := one(Meta{}, res).Verdict
	joined := v.Text()
	for _, want := range []string{"interrupted", "2 of 10 connections failed", "1 errors on established", "1 frames lost", "generator saturated"} {
		if !strings.Contains(joined, want) {
			t.Errorf("reasons %q lack %q", joined, want)
		}
	}
	if v.OK || !v.Saturated {
		t.Errorf("verdict %+v", v)
	}
	// Saturation alone flags the run without failing it.
	res = fixedResult()
	res.Health.Saturated, res.Health.Reasons = true, []bench.Reason{{Kind: bench.ReasonSaturated, Text: "generator late"}}
	if v := one(Meta{}, res).Verdict; !v.OK || !v.Saturated {
		t.Errorf("saturation alone: %+v", v)
	}
}

func TestGoldenText(t *testing.T) {
	r := one(Meta{Version: "test", Commit: "abc"}, fixedResult())
	var buf bytes.Buffer
	if err := runText(&buf, r); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "steady.txt", buf.Bytes())
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Fatalf("output differs from %s (go test ./reports -update after checking):\n%s", golden, got)
	}
}

func TestJSONHasContractKeys(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, single(Meta{}, fixedResult())); err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]any
	var top map[string]any
	if err := json.Unmarshal(buf.Bytes(), &top); err != nil {
		t.Fatal(err)
	}
	m = map[string]map[string]any{}
	for k, v := range top {
		if o, ok := v.(map[string]any); ok {
			m[k] = o
		}
	}
	want := map[string][]string{
		"connections": {"attempted", "established", "failed", "errors"},
		"phases":      {"tcp_connect", "tls_handshake", "ws_upgrade", "connect_total"},
		"frames":      {"sent", "received", "lost", "rtt", "rtt_uncorrected"},
		"tls":         {"versions", "cipher_suites", "groups", "resumed", "hello_retry"},
		"cpu":         {"driver_s", "target_s", "proxy_s", "driver_us_per_handshake", "driver_us_per_frame"},
		"verdict":     {"ok", "saturated", "reasons"},
	}
	for sect, keys := range want {
		for _, k := range keys {
			if _, ok := m[sect][k]; !ok {
				t.Errorf("%s.%s missing", sect, k)
			}
		}
	}
	h := m["phases"]["tls_handshake"].(map[string]any)
	for _, k := range []string{"count", "min_us", "mean_us", "p50_us", "p90_us", "p99_us", "p999_us", "max_us"} {
		if _, ok := h[k]; !ok {
			t.Errorf("histogram summary lacks %s", k)
		}
	}
	for _, k := range []string{"schema", "label", "config", "started_at", "duration_s"} {
		if _, ok := top[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
}

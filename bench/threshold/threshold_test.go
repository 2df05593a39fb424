package threshold

import (
	"math"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr   string
		metric string
		op     Op
		value  float64
	}{
		{"ws_rtt.p99 < 5ms", "ws_rtt.p99", Less, 5000},
		{"tls_handshake.p50<2ms", "tls_handshake.p50", Less, 2000},
		{"  connect_total.max <= 1.5s ", "connect_total.max", LessEqual, 1.5e6},
		{"tcp_connect.mean < 800us", "tcp_connect.mean", Less, 800},
		{"ws_upgrade.p999 < 800µs", "ws_upgrade.p999", Less, 800},
		{"ws_rtt_uncorrected.min >= 500ns", "ws_rtt_uncorrected.min", GreaterEqual, 0.5},
		{"ws_rtt.p90 < 1e3us", "ws_rtt.p90", Less, 1000},
		{"errors.rate < 0.1%", "errors.rate", Less, 0.001},
		{"errors.rate == 0", "errors.rate", Equal, 0},
		{"errors.count == 0", "errors.count", Equal, 0},
		{"connections.failed == 0", "connections.failed", Equal, 0},
		{"driver_us_per_frame < 15", "driver_us_per_frame", Less, 15},
		{"driver_us_per_handshake < 2ms", "driver_us_per_handshake", Less, 2000},
		{"connect_rate > 400/s", "connect_rate", Greater, 400},
		{"frames.rate >= 190", "frames.rate", GreaterEqual, 190},
		{"send_lag.p99 < 5ms", "send_lag.p99", Less, 5000},
		{"delivery.p99 < 10ms", "delivery.p99", Less, 10000},
		{"reach > 99.9%", "reach", Greater, 0.999},
		{"storm.back_to_full < 5s", "storm.back_to_full", Less, 5e6},
		{"storm.tls_handshake.p99 < 20ms", "storm.tls_handshake.p99", Less, 20000},
		{"storm.failed == 0", "storm.failed", Equal, 0},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			t.Parallel()
			th, err := Parse(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if th.Metric != tc.metric || th.Op != tc.op || math.Abs(th.Value-tc.value) > 1e-9 {
				t.Fatalf("got %s %s %g, want %s %s %g", th.Metric, th.Op, th.Value, tc.metric, tc.op, tc.value)
			}
			if th.Expr != strings.TrimSpace(tc.expr) {
				t.Fatalf("Expr = %q", th.Expr)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, expr string
		want       []string
	}{
		{"empty", "  ", []string{"empty"}},
		{"no operator", "ws_rtt.p99 5ms", []string{"no operator"}},
		{"bad operator", "ws_rtt.p99 != 5ms", []string{`"!="`, "< <= > >= =="}},
		{"single equals", "errors.count = 0", []string{"not one of"}},
		{"typo", "ws_rt.p99 < 5ms", []string{`did you mean "ws_rtt.p99"`, "Valid metrics", "tls_handshake", "errors.rate"}},
		{"typo in stat", "tls_handshake.p95 < 5ms", []string{"did you mean", "tls_handshake.p9"}},
		{"far from anything", "bananas < 5", []string{`unknown metric "bananas".`, "Valid metrics"}},
		{"histogram without stat", "ws_rtt < 5ms", []string{"needs a statistic", "ws_rtt.p99"}},
		{"no metric", "< 5ms", []string{"no metric"}},
		{"no value", "ws_rtt.p99 <", []string{"no value"}},
		{"latency without unit", "ws_rtt.p99 < 5", []string{"needs a time unit"}},
		{"latency with percent", "ws_rtt.p99 < 5%", []string{"needs a time unit"}},
		{"count with unit", "frames.lost < 5ms", []string{"plain number"}},
		{"rate with time", "errors.rate < 5ms", []string{"percentage"}},
		{"rate as a bare number", "errors.rate < 0.001", []string{"bare number", "0.1%"}},
		{"per second with unit", "connect_rate > 5ms", []string{"per second"}},
		{"cost with percent", "driver_us_per_frame < 5%", []string{"microseconds"}},
		{"negative", "ws_rtt.p99 < -5ms", []string{"negative"}},
		{"not a number", "ws_rtt.p99 < fast", []string{"not a number"}},
		{"out of range", "errors.count < 1e999", []string{"not a number"}},
		{"nan word", "errors.count < NaN", []string{"not a number"}},
		{"storm histogram without stat", "storm.tls_handshake < 5ms", []string{"needs a statistic", "storm.tls_handshake.p99"}},
		{"reach as a bare number", "reach > 0.999", []string{"bare number"}},
		{"unclosed selector", "ws_rtt.p99[stage=peak < 5ms", []string{"not closed", "[stage=NAME]"}},
		{"stray bracket", "ws_rtt.p99] < 5ms", []string{"without its ["}},
		{"unknown selector key", "ws_rtt.p99[room=1] < 5ms", []string{`"room" is not stage or role`}},
		{"selector without value", "ws_rtt.p99[stage=] < 5ms", []string{"names no stage"}},
		{"selector without equals", "ws_rtt.p99[peak] < 5ms", []string{"not KEY=NAME"}},
		{"selector not at the end", "ws_rtt[stage=a].p99 < 5ms", []string{"right after the metric"}},
		{"two selectors", "ws_rtt.p99[stage=a][role=b] < 5ms", []string{"right after the metric"}},
		{"role on a phase", "tls_handshake.p99[role=subscribers] < 5ms", []string{"takes no [role=...]", "ws_rtt.*, delivery.*", "frames.received"}},
		{"stage on reach", "reach[stage=peak] > 99%", []string{"takes no [stage=...]", "tls_handshake.*", "frames.rate"}},
		{"role on frames.rate", "frames.rate[role=pub] > 5", []string{"takes no [role=...]"}},
		{"selector on a typo", "ws_rt.p99[stage=peak] < 5ms", []string{`did you mean "ws_rtt.p99"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tc.expr)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestParseSelectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr, metric string
		sel          Selector
		value        float64
	}{
		{"ws_rtt.p99[stage=peak] < 5ms", "ws_rtt.p99", Selector{SelectStage, "peak"}, 5000},
		{"delivery.p99[role=subscribers] < 10ms", "delivery.p99", Selector{SelectRole, "subscribers"}, 10000},
		{"frames.received[role=subscribers] > 1000", "frames.received", Selector{SelectRole, "subscribers"}, 1000},
		{"tls_handshake.p50 [ stage = ramp-up ] <= 2ms", "tls_handshake.p50", Selector{SelectStage, "ramp-up"}, 2000},
		{"errors.count[stage=stage2]==0", "errors.count", Selector{SelectStage, "stage2"}, 0},
		{"frames.rate[stage=peak] >= 400/s", "frames.rate", Selector{SelectStage, "peak"}, 400},
		{"connections.established[role=pub] >= 10", "connections.established", Selector{SelectRole, "pub"}, 10},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			t.Parallel()
			th, err := Parse(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if th.Metric != tc.metric || th.Selector != tc.sel || math.Abs(th.Value-tc.value) > 1e-9 {
				t.Fatalf("got %s %+v %g, want %s %+v %g", th.Metric, th.Selector, th.Value, tc.metric, tc.sel, tc.value)
			}
			if want := tc.metric + "[" + tc.sel.Key + "=" + tc.sel.Value + "]"; th.Name() != want {
				t.Fatalf("Name() = %q, want %q", th.Name(), want)
			}
		})
	}
	if th, _ := Parse("ws_rtt.p99 < 5ms"); th.Selector != (Selector{}) || th.Name() != "ws_rtt.p99" {
		t.Fatalf("no selector: %+v", th)
	}
}

func TestHolds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr     string
		measured float64
		want     bool
	}{
		{"ws_rtt.p99 < 5ms", 4999, true},
		{"ws_rtt.p99 < 5ms", 5000, false},
		{"ws_rtt.p99 <= 5ms", 5000, true},
		{"connect_rate > 400", 400, false},
		{"connect_rate >= 400", 400, true},
		{"errors.count == 0", 0, true},
		{"errors.count == 0", 1, false},
	}
	for _, tc := range tests {
		th, err := Parse(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := th.Holds(tc.measured); got != tc.want {
			t.Errorf("%s with %g: %v, want %v", tc.expr, tc.measured, got, tc.want)
		}
	}
}

func TestCatalogue(t *testing.T) {
	t.Parallel()
	names := Names()
	if len(names) != (len(Histograms)+len(StormHistograms))*len(Stats)+len(scalars) {
		t.Fatalf("%d names", len(names))
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("%s listed twice", n)
		}
		seen[n] = true
		i, ok := Lookup(n)
		if !ok || i.Name != n || i.Doc == "" {
			t.Errorf("Lookup(%q) = %+v, %v", n, i, ok)
		}
	}
	if i, _ := Lookup("connect_rate"); !i.HigherIsBetter {
		t.Error("connect_rate must be better higher")
	}
	if i, _ := Lookup("ws_rtt.p99"); i.HigherIsBetter || i.Kind != Latency {
		t.Errorf("ws_rtt.p99 = %+v", i)
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind Kind
		v    float64
		want string
	}{
		{Latency, 7210, "7.21ms"},
		{Latency, 2.5e6, "2.50s"},
		{Latency, 657, "657µs"},
		{Latency, 12.34, "12.3µs"},
		{Ratio, 0.001, "0.1%"},
		{Count, 12, "12"},
		{CostUs, 15.5, "15.5µs"},
		{CostUs, 709.22, "709µs"},
		{CostUs, 2.5, "2.50µs"},
		{PerSecond, 499.96, "500.0/s"},
	}
	for _, tc := range tests {
		if got := Format(tc.kind, tc.v); got != tc.want {
			t.Errorf("Format(%v, %g) = %q, want %q", tc.kind, tc.v, got, tc.want)
		}
	}
}

// FuzzParse: any input parses or fails with an *Error, never panics, and what
// parses names a known metric with a finite, non-negative bound that parses
// again to the same threshold.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"ws_rtt.p99 < 5ms", "tls_handshake.p50 < 2ms", "errors.rate < 0.1%",
		"driver_us_per_frame < 15", "connections.failed == 0", "connect_rate >= 400/s", "ws_rtt <", "<=>",
		"ws_rtt.p99 < 1e", "frames.lost<1e+3", "errors.rate < .5", "ws_rtt.p99 < 5 µs", "x ! y", "",
		"ws_rtt.p99[stage=peak] < 5ms", "delivery.p50[role=a]<1ms", "x[", "]<", "a[b=c=d] < 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := Parse(s)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			return
		}
		if _, ok := Lookup(th.Metric); !ok {
			t.Fatalf("parsed unknown metric %q", th.Metric)
		}
		if math.IsNaN(th.Value) || math.IsInf(th.Value, 0) || th.Value < 0 {
			t.Fatalf("bound %g", th.Value)
		}
		again, err := Parse(th.Expr)
		if err != nil || again != th {
			t.Fatalf("reparse of %q: %+v, %v", th.Expr, again, err)
		}
	})
}

// TestBareNumberIsNeverAPercentage checks the one rule that compare's
// tolerance and the thresholds' rates share: a share is written with %; a
// bare number other than 0 is refused, with both readings spelled out,
// rather than read as a fraction in one place and a percentage in another.
func TestBareNumberIsNeverAPercentage(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"10%": 0.1, " 2.5% ": 0.025, "0.1%": 0.001, "0": 0, "0%": 0} {
		if got, err := ParsePercent(in); err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("ParsePercent(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string][]string{
		"0.1":   {"bare number", "0.1%", "10%"},
		"10":    {"bare number", "10%", "1000%"},
		"0.001": {"bare number", "0.001%", "0.1%"},
		"-5%":   {"negative"},
		"ten":   {"not a number"},
		"5ms":   {"percentage"},
	} {
		_, err := ParsePercent(in)
		if err == nil {
			t.Errorf("ParsePercent(%q) accepted", in)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParsePercent(%q): %q lacks %q", in, err, w)
			}
		}
	}
	if _, err := Parse("errors.rate < 0.001"); err == nil {
		t.Error(`threshold "errors.rate < 0.001" accepted: a bare rate is ambiguous`)
	}
}

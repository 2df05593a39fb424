package builtin

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/wsconn"
)

// delayEchoes runs echoes on every connection at once, each connection one
// echo at a time with gap between them, until n echoes are done in all; it
// returns the round trips, sorted.
func delayEchoes(tb testing.TB, conns []*wsconn.Conn, n int64, gap time.Duration) []time.Duration {
	tb.Helper()
	var left atomic.Int64
	left.Store(n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var all []time.Duration
	var failed atomic.Value
	msg := builtinPattern(128, 5)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rtts []time.Duration
			for left.Add(-1) >= 0 {
				start := time.Now()
				if err := c.WriteMessage(ws.OpBinary, msg); err != nil {
					failed.Store(err)
					return
				}
				if _, p, err := c.ReadFrame(); err != nil || len(p) != len(msg) {
					failed.Store(err)
					return
				}
				rtts = append(rtts, time.Since(start))
				if gap > 0 {
					time.Sleep(gap)
				}
			}
			mu.Lock()
			all = append(all, rtts...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		tb.Fatalf("echo: %v", err)
	}
	slices.Sort(all)
	return all
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(q*float64(len(sorted))), len(sorted)-1)]
}

func delayDial(tb testing.TB, e *builtinEnv, n int) []*wsconn.Conn {
	tb.Helper()
	conns := make([]*wsconn.Conn, n)
	for i := range conns {
		conns[i] = e.dial(tb)
		if err := conns[i].NetConn().SetDeadline(time.Time{}); err != nil {
			tb.Fatal(err)
		}
	}
	return conns
}

// TestBuiltinDelayNeverShort: through the event loop with Delay, no echo
// comes back sooner than the round trip 2 × Delay, on any connection, also
// with many connections in flight (a due time taken before the read, or a
// batch sent early, would show here). The precise figure is
// BenchmarkProxyDelayPrecision's.
func TestBuiltinDelayNeverShort(t *testing.T) {
	t.Parallel()
	const delay = 5 * time.Millisecond
	e := builtinStartEcho(t, delay)
	conns := delayDial(t, e, 20)
	e.proxy.mu.Lock()
	loops := len(e.proxy.loops)
	e.proxy.mu.Unlock()
	if loops == 0 {
		t.Fatal("the delayed proxy does not use the event loop")
	}
	rtts := delayEchoes(t, conns, 400, 0)
	if rtts[0] < 2*delay {
		t.Fatalf("shortest echo round trip %v, want at least %v", rtts[0], 2*delay)
	}
	t.Logf("round trip through a 2 × %v proxy: min %v, median %v, p99 %v", delay, rtts[0], quantile(rtts, 0.5), quantile(rtts, 0.99))
}

// BenchmarkProxyDelayPrecision measures what --delay adds to a round trip at
// 100 connections: the same echoes through the proxy with Delay 0 (the same
// event loop path), each connection pausing 2 × Delay between echoes so the
// load matches, and with Delay 5 ms. Metrics: added_median_us and
// added_p99_us are the delayed run's quantiles less the undelayed run's
// quantiles; excess_median_us is added_median_us less 2 × Delay (the target:
// within max(2%, 100 µs) of 2 × Delay).
func BenchmarkProxyDelayPrecision(b *testing.B) {
	const delay = 5 * time.Millisecond
	const conns = 100
	base := builtinStartEcho(b, 0)
	baseRTT := delayEchoes(b, delayDial(b, base, conns), 5000, 2*delay)
	e := builtinStartEcho(b, delay)
	cs := delayDial(b, e, conns)
	delayEchoes(b, cs, conns, 0) // warm up
	b.ReportAllocs()
	b.ResetTimer()
	rtts := delayEchoes(b, cs, int64(max(b.N, 2000)), 0)
	b.StopTimer()
	added := func(q float64) float64 {
		return float64(quantile(rtts, q)-quantile(baseRTT, q)) / float64(time.Microsecond)
	}
	b.ReportMetric(float64(quantile(baseRTT, 0.5))/float64(time.Microsecond), "base_median_us")
	b.ReportMetric(added(0.5), "added_median_us")
	b.ReportMetric(added(0.99), "added_p99_us")
	b.ReportMetric(added(0.5)-float64(2*delay/time.Microsecond), "excess_median_us")
}

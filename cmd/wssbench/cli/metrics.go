package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/telemetry"
)

// metricsFlags are --metrics-listen (and, for run, --metrics-linger).
type metricsFlags struct {
	listen string
	linger time.Duration
}

func addMetricsFlags(fs *pflag.FlagSet, linger bool) *metricsFlags {
	m := &metricsFlags{}
	fs.StringVar(&m.listen, "metrics-listen", "", "serve Prometheus metrics on http://`ADDR`/metrics while running, such as 127.0.0.1:9464 (default none)")
	if linger {
		fs.DurationVar(&m.linger, "metrics-linger", 0, "with --metrics-listen: keep serving this long after the run, so a scraper gets the final values")
	}
	return m
}

// serveMetrics starts the /metrics endpoint of cs on --metrics-listen, if
// given; nil without it. An address it cannot listen on is bad input (exit
// 2), found before any load.
func (m *metricsFlags) serve(ctx context.Context, stderr io.Writer, cmd string, cs ...prometheus.Collector) (*telemetry.Server, error) {
	if m.listen == "" {
		return nil, nil
	}
	if m.linger < 0 {
		return nil, &bench.InputError{Err: fmt.Errorf("--metrics-linger must not be negative (got %v)", m.linger)}
	}
	srv, err := telemetry.Serve(ctx, m.listen, cs...)
	var le *telemetry.ListenError
	if errors.As(err, &le) {
		return nil, &bench.InputError{Err: err}
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "wssbench %s: metrics on http://%s/metrics\n", cmd, srv.Addr())
	return srv, nil
}

// lingerMetrics keeps srv serving for --metrics-linger (or until ctx ends).
func (m *metricsFlags) lingerMetrics(ctx context.Context, srv *telemetry.Server, stderr io.Writer) {
	if srv == nil || m.linger <= 0 {
		return
	}
	fmt.Fprintf(stderr, "wssbench: metrics stay on http://%s/metrics for %v (--metrics-linger)\n", srv.Addr(), m.linger)
	t := time.NewTimer(m.linger)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// exportRun makes the run's Exporter and chains its callbacks before opt's own.
func exportRun(cfg *bench.Config, opt *bench.Options) *telemetry.Exporter {
	shard := "1/1"
	if opt.Shard != nil {
		shard = opt.Shard.String()
	}
	e := telemetry.New(telemetry.Labels{Run: cfg.Label, Topology: strings.Join(cfg.Topology, ","), Shard: shard})
	opt.Progress = chain(e.Progress, opt.Progress)
	opt.OnInterval = chain(e.Observe, opt.OnInterval)
	start := opt.OnRunStart
	opt.OnRunStart = func(cell string, rep, of int) {
		e.StartRun(cell, rep)
		if start != nil {
			start(cell, rep, of)
		}
	}
	return e
}

// chain calls first, then then (if set).
func chain[T any](first, then func(T)) func(T) {
	if then == nil {
		return first
	}
	return func(v T) {
		first(v)
		then(v)
	}
}

package bench

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/env"
	"github.com/wssbench/wssbench/bench/pace"
	"github.com/wssbench/wssbench/bench/threshold"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// Plan is a Config resolved once: every setting parsed, the series expanded
// into cells and each cell checked and resolved into what the driver and the
// environment need. Validating a config is planning it without running it;
// nothing after the plan parses user input again.
type Plan struct {
	// Config is the config as given (defaults applied), matrix and all.
	Config Config
	// Cells are the series' cells in run order: one per topology of a
	// comparison, times every combination of a matrix; one for a plain run.
	Cells []*Cell
	// Repeat is how many times each cell runs, interleaved (A B A B).
	Repeat int
	// Matrix is set when the cells are a matrix's combinations: a cell that
	// cannot work is reported and skipped, not an error of the whole plan.
	Matrix bool
	// Thresholds are the parsed threshold expressions, checked after every run.
	Thresholds []threshold.Threshold
}

// Cell is one configuration of a series, resolved.
type Cell struct {
	// Name is the cell's label in reports: its topology, and its matrix values.
	Name string
	// Config is the cell's own configuration (no matrix, one topology, one repeat).
	Config Config
	// Topology is who terminates TLS in this cell.
	Topology string
	// Invalid, if set, says why the cell cannot work; it is reported, not run.
	Invalid error
	// TLS is the cell's resolved TLS profile, for the client and the servers wssbench starts.
	TLS tlsconf.Profile
	// Driver is the driver's config, ready to use except, for the built-in
	// target, the URL and TLS config that exist once the target is up.
	Driver driver.Config
	// ClientCert is the client certificate loaded from --client-cert FILE.
	ClientCert *tls.Certificate
}

// Single reports whether the plan is one run of one cell: its report is a
// run, not a comparison.
func (p *Plan) Single() bool { return len(p.Cells) == 1 && p.Repeat == 1 && !p.Matrix }

// Runnable returns the cells that can run.
func (p *Plan) Runnable() []*Cell {
	var out []*Cell
	for _, c := range p.Cells {
		if c.Invalid == nil {
			out = append(out, c)
		}
	}
	return out
}

// Validate checks every setting, by planning the config, and returns an
// *InputError that says what to change for the first one that cannot work.
func (c *Config) Validate() error {
	_, err := c.Plan()
	return err
}

// Plan resolves the config: it checks the settings that shape the series
// (topologies, repeat, matrix, thresholds), expands the cells and resolves
// each. Every error is an *InputError that says what to change.
func (c *Config) Plan() (*Plan, error) {
	if err := c.checkSeries(); err != nil {
		return nil, err
	}
	p := &Plan{Config: *c, Repeat: c.Repeat, Matrix: c.Matrix != nil}
	cells := c.expand()
	if len(cells) > MaxCells {
		return nil, inputErr("matrix expands into %d cells, more than %d; vary fewer settings at once", len(cells), MaxCells)
	}
	for _, cell := range cells {
		if err := cell.resolve(); err != nil {
			if !p.Matrix {
				return nil, err
			}
			cell.Invalid = fmt.Errorf("cannot work: %w", err)
		}
		p.Cells = append(p.Cells, cell)
	}
	ts, err := c.parseThresholds()
	if err != nil {
		return nil, &InputError{Err: err}
	}
	for _, t := range ts {
		if err := p.thresholdApplies(t); err != nil {
			return nil, err
		}
	}
	p.Thresholds = ts
	return p, nil
}

// checkSeries checks what is common to every cell.
func (c *Config) checkSeries() error {
	if c.Repeat < 1 || c.Repeat > 100 {
		return inputErr("--repeat must be between 1 and 100 (got %d)", c.Repeat)
	}
	seen := map[string]bool{}
	for _, t := range c.topologies() {
		if !env.Topology(t).Valid() {
			return inputErr("topology %q is not one of %s", t, strings.Join(Topologies(), ", "))
		}
		if seen[t] {
			return inputErr("topology %q is listed twice; use --repeat to run it again", t)
		}
		seen[t] = true
	}
	if t := c.topologies(); c.Target != "" && !(len(t) == 1 && t[0] == TopologyDirect) {
		return inputErr("--topology needs the built-in target: wssbench starts the proxies in front of it; leave out --target")
	}
	if c.ProxyDelay < 0 {
		return inputErr("--delay must not be negative")
	}
	if c.ProxyDelay > 0 && !seen[TopologyBuiltin] {
		return inputErr("--delay is added by the built-in proxy: include builtin in --topology")
	}
	return c.Matrix.validate()
}

// thresholdApplies refuses, before any load, a threshold on a figure that no
// cell of the plan measures, with the reason of the first cell.
func (p *Plan) thresholdApplies(t threshold.Threshold) error {
	var why string
	for _, cell := range p.Runnable() {
		reason := cell.Config.Measures(t.Metric)
		if reason == "" {
			return nil
		}
		why = cmp.Or(why, reason)
	}
	if why == "" {
		return nil // no cell can run: each says why
	}
	return inputErr("threshold %q: %s", t.Expr, why)
}

// resolve checks the cell's settings and resolves them into the driver's config.
func (cell *Cell) resolve() error {
	c := &cell.Config
	if !driver.Mode(c.Mode).Valid() {
		return inputErr("mode %q is not one of %s", c.Mode, strings.Join(driver.ModeNames(), ", "))
	}
	if c.Conns < 1 {
		return inputErr("--conns must be at least 1 (got %d)", c.Conns)
	}
	if c.ConnectRate < 0 {
		return inputErr("--connect-rate must be 0 (as fast as possible) or positive (got %g)", c.ConnectRate)
	}
	if c.Duration <= 0 {
		return inputErr("--duration must be positive, such as 10s (got %s)", c.Duration)
	}
	if c.MsgRate < 0 {
		return inputErr("--msg-rate must be 0 (closed-loop ping-pong) or positive (got %g)", c.MsgRate)
	}
	if min := driver.MinPayloadBytes(c.Binary); c.PayloadBytes < min {
		kind := "text"
		if c.Binary {
			kind = "binary"
		}
		return inputErr("--size must be at least %d bytes for %s frames, which carry a connection id, sequence and send time (got %d)", min, kind, c.PayloadBytes)
	}
	if c.PayloadBytes > 16<<20 {
		return inputErr("--size must be at most 16 MiB (got %d)", c.PayloadBytes)
	}
	stages, err := c.compileStages()
	if err != nil {
		return err
	}
	if stages != nil {
		// The stages say how many connections and for how long.
		c.Conns, c.Duration = stages.MaxConns(), Duration(stages.Length())
	}
	if c.ConnectTimeout <= 0 || c.FrameTimeout <= 0 {
		return inputErr("--connect-timeout and --frame-timeout must be positive")
	}
	engine := driver.Engine(cmp.Or(c.Engine, string(driver.DefaultEngine())))
	if !engine.Valid() {
		return inputErr("--engine %q is not one this machine runs: %s (loops need Linux)", c.Engine, strings.Join(driver.EngineNames(), ", "))
	}
	if c.TimerSlack < 0 || time.Duration(c.TimerSlack) > 100*time.Millisecond {
		return inputErr("--timer-slack must be between 0 (each send at its own due time) and 100ms (got %s)", c.TimerSlack)
	}
	if c.CertKey != "" && !contains(tlsconf.KeyTypes(), c.CertKey) {
		return inputErr("cert key type %q is not one of %s", c.CertKey, strings.Join(tlsconf.KeyTypes(), ", "))
	}
	if c.Target != "" && c.CertKey != "" && c.CertKey != string(tlsconf.KeyECDSAP256) {
		return inputErr("cert_key applies only to the built-in target; leave it out with --target")
	}
	if cell.TLS, err = c.checkTLS(); err != nil {
		return err
	}
	d := &cell.Driver
	*d = driver.Config{
		Mode:           driver.Mode(c.Mode),
		Conns:          c.Conns,
		Arrival:        pace.Constant{Rate: c.ConnectRate},
		ConnectTimeout: time.Duration(c.ConnectTimeout),
		Duration:       time.Duration(c.Duration),
		MsgRate:        c.MsgRate,
		PayloadBytes:   c.PayloadBytes,
		Binary:         c.Binary,
		FrameTimeout:   time.Duration(c.FrameTimeout),
		Subprotocols:   c.Subprotocols,
		ResumeShare:    c.ResumeShare(),
		Shards:         2 * runtime.GOMAXPROCS(0),
		Engine:         engine,
		TimerSlack:     time.Duration(c.TimerSlack),
	}
	if d.Workload, err = c.compileWorkload(); err != nil {
		return err
	}
	d.Stages = stages
	if d.Storm, err = c.compileStorm(time.Duration(c.Duration)); err != nil {
		return err
	}
	if d.SourceIPs, err = ParseSourceIPs(c.SourceIPs); err != nil {
		return err
	}
	for _, h := range c.Headers {
		k, v, err := splitHeader(h)
		if err != nil {
			return err
		}
		if d.Header == nil {
			d.Header = http.Header{}
		}
		d.Header.Add(k, v)
	}
	if c.ClientCert != "" && c.ClientCert != ClientCertAuto {
		cert, err := tlsconf.LoadKeyPair(c.ClientCert, c.ClientKey)
		if err != nil {
			return &InputError{Err: fmt.Errorf("--client-cert: %w", err)}
		}
		cell.ClientCert = &cert
	}
	if c.Target == "" {
		return nil
	}
	if d.URL, err = ParseTarget(c.Target); err != nil {
		return err
	}
	if d.URL.Scheme != "wss" {
		if c.CAFile != "" || c.Insecure || c.ServerName != "" {
			return inputErr("--ca, --insecure and --server-name apply only to wss:// targets, but --target is %s", c.Target)
		}
		return nil
	}
	// tls.Client, unlike tls.Dial, does not take the server name from the address.
	tc := &tls.Config{ServerName: cmp.Or(c.ServerName, d.URL.Hostname()), InsecureSkipVerify: c.Insecure}
	if c.CAFile != "" {
		if tc.RootCAs, err = tlsconf.LoadCAPool(c.CAFile); err != nil {
			return &InputError{Err: fmt.Errorf("--ca: %w", err)}
		}
	}
	cell.applyClientTLS(tc, nil)
	d.TLS = tc
	return nil
}

// applyClientTLS sets the cell's TLS profile and client certificate on the
// driver's client config; chain is the built-in target's (nil with --target).
func (cell *Cell) applyClientTLS(tc *tls.Config, chain *tlsconf.Chain) {
	cell.TLS.ApplyClient(tc)
	switch {
	case cell.Config.ClientCert == ClientCertAuto && chain != nil:
		tc.Certificates = []tls.Certificate{chain.Client}
	case cell.ClientCert != nil:
		tc.Certificates = []tls.Certificate{*cell.ClientCert}
	}
}

// driverFor is the cell's driver config for a run laid out as lay: its
// share of the connections and of the connect rate, and its source addresses.
func (cell *Cell) driverFor(lay Layout) driver.Config {
	dc := cell.Driver
	if lay.Conns != dc.Conns && dc.Conns > 0 {
		dc.Arrival = pace.Constant{Rate: cell.Config.ConnectRate * float64(lay.Conns) / float64(dc.Conns)}
		dc.Conns = lay.Conns
	}
	if lay.Conns != cell.Driver.Conns && cell.Driver.Conns > 0 {
		f := float64(lay.Conns) / float64(cell.Driver.Conns)
		if dc.Stages != nil {
			dc.Stages = dc.Stages.Scale(f)
		}
		if dc.Workload != nil {
			dc.Workload = dc.Workload.Resize(lay.Conns)
		}
	}
	dc.SourceIPs = lay.SourceIPs
	// Every connection closes at once at the end: 100,000 close handshakes
	// over six processes took longer than a fixed 2 s here, so the bound
	// grows with the connections this process holds.
	dc.CloseTimeout = closeTimeout(dc.Conns)
	return dc
}

// closeTimeout bounds the close handshake of a process that holds conns
// connections and closes them all at once: 2 s, plus 500 µs per connection.
func closeTimeout(conns int) time.Duration {
	return 2*time.Second + time.Duration(conns)*500*time.Microsecond
}

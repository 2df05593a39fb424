package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/reports"
	"github.com/wssbench/wssbench/reports/live"
)

// uiFlags are --ui and --ui-linger: where the live page listens, and how
// long it keeps serving the final report after the run.
type uiFlags struct {
	addr   string
	linger time.Duration
}

func addUIFlags(fs *pflag.FlagSet) *uiFlags {
	u := &uiFlags{}
	fs.StringVar(&u.addr, "ui", "", "serve a live page of the run at this host:port, such as 127.0.0.1:8089 (plots and counters each second, then the final report)")
	fs.DurationVar(&u.linger, "ui-linger", 0, "with --ui: keep serving the final report for this long after the run (or until Ctrl-C); 0 exits at once")
	return u
}

// ui is a run's live page; a nil *ui (no --ui) does nothing.
type ui struct {
	page   *live.Page
	flags  *uiFlags
	stderr io.Writer
	done   bool
}

// startUI serves the live page where --ui says and chains its callbacks
// after those opt already has (the progress line). It returns nil without
// --ui, and an input error when the address cannot be listened on.
func startUI(f *uiFlags, cfg bench.Config, opt *bench.Options, stderr io.Writer) (*ui, error) {
	if f.addr == "" {
		if f.linger != 0 {
			return nil, &bench.InputError{Err: fmt.Errorf("--ui-linger applies to the live page: add --ui 127.0.0.1:8089")}
		}
		return nil, nil
	}
	if f.linger < 0 {
		return nil, &bench.InputError{Err: fmt.Errorf("--ui-linger %v is negative: give a duration such as 5m, or 0", f.linger)}
	}
	title := "wssbench " + cfg.Mode
	if cfg.Label != "" {
		title += ": " + cfg.Label
	}
	page := live.New(live.Config{Title: title})
	// The page outlives the run's context: it keeps the final report until the linger ends.
	if err := page.Serve(context.Background(), f.addr); err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "live page: %s\n", page.URL())
	if !page.Loopback() {
		fmt.Fprintf(stderr, "warning: the live page listens on %s, which other machines can reach: it shows the run's target, config and results; use 127.0.0.1:PORT to keep it local\n", page.Addr())
	}
	progress, interval, runStart := opt.Progress, opt.OnInterval, opt.OnRunStart
	opt.Progress = func(p bench.Progress) {
		if progress != nil {
			progress(p)
		}
		page.Progress(p)
	}
	opt.OnInterval = func(iv metrics.Interval) {
		if interval != nil {
			interval(iv)
		}
		page.Interval(iv)
	}
	opt.OnRunStart = func(cell string, rep, of int) {
		if runStart != nil {
			runStart(cell, rep, of)
		}
		page.StartRun(cell, rep, of)
	}
	return &ui{page: page, flags: f, stderr: stderr}, nil
}

// show puts the final report on the page.
func (u *ui) show(rep *reports.Series) {
	if u == nil {
		return
	}
	if err := u.page.Done(rep); err != nil {
		fmt.Fprintf(u.stderr, "live page: %v\n", err)
		return
	}
	u.done = true
}

// finish keeps serving the final report for --ui-linger (or until ctx is
// done), then stops the page.
func (u *ui) finish(ctx context.Context) {
	if u == nil {
		return
	}
	if n := u.page.Dropped(); n > 0 {
		fmt.Fprintf(u.stderr, "live page: %d events were dropped for clients that did not keep up\n", n)
	}
	if u.done && u.flags.linger > 0 && ctx.Err() == nil {
		fmt.Fprintf(u.stderr, "live page: serving the final report at %s for %v (Ctrl-C stops)\n", u.page.URL(), u.flags.linger)
		t := time.NewTimer(u.flags.linger)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	u.page.Close()
}

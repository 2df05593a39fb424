package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/pflag"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/reports"
)

// reportFiles are a run's outputs besides the summary and --out: an HTML
// page, a Markdown summary and HdrHistogram interval logs.
type reportFiles struct {
	html, markdown, hlog string

	mu sync.Mutex
	// logs are the open .hlog files by run key (topology/repetition); cur is the one being written.
	logs map[string]*hlogFile
	cur  *hlogFile
	err  error
	// written are the interval logs that close kept, in name order.
	written []string
}

type hlogFile struct {
	path string
	f    *os.File
	w    *reports.HlogWriter
}

func (o *reportFiles) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.html, "html", "", "write the report as one self-contained HTML page with plots")
	fs.StringVar(&o.markdown, "markdown", "", "write a Markdown summary (for a pull-request comment)")
	fs.StringVar(&o.hlog, "hlog", "", "write HdrHistogram interval logs (1 s, one tag per metric); a comparison writes FILE-TOPOLOGY-N.EXT per run")
}

// hlogPath is the interval log of one run of a series: path with
// "-topology-repetition" before its extension.
func hlogPath(path, topology string, rep int) string {
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s-%s-%d%s", strings.TrimSuffix(path, ext), topology, rep, ext)
}

func runKey(topology string, rep int) string { return fmt.Sprintf("%s/%d", topology, rep) }

// open checks, before any load, that the HTML and Markdown files can be
// written, and creates the interval logs: FILE for one run, one file per
// run of a series.
func (o *reportFiles) open(cfg bench.Config, series bool) error {
	for _, c := range []struct{ flag, path string }{{"--html", o.html}, {"--markdown", o.markdown}} {
		if c.path == "" {
			continue
		}
		if err := checkWritable(c.path); err != nil {
			return &bench.InputError{Err: fmt.Errorf("%s: %w", c.flag, err)}
		}
	}
	if o.hlog == "" {
		return nil
	}
	o.logs = map[string]*hlogFile{}
	topologies := cfg.Topology
	if len(topologies) == 0 {
		topologies = []string{bench.TopologyDirect}
	}
	for rep := 1; rep <= max(cfg.Repeat, 1); rep++ {
		for _, t := range topologies {
			path := o.hlog
			if series {
				path = hlogPath(o.hlog, t, rep)
			}
			f, err := createFile(path)
			if err != nil {
				o.close()
				return &bench.InputError{Err: fmt.Errorf("--hlog: %w", err)}
			}
			hf := &hlogFile{path: path, f: f, w: reports.NewHlogWriter(f)}
			o.logs[runKey(t, rep)] = hf
			if o.cur == nil {
				o.cur = hf
			}
		}
	}
	return nil
}

// checkWritable makes path's folder and checks that path can be written,
// leaving no file behind that was not there.
func checkWritable(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	f.Close()
	if os.IsNotExist(statErr) {
		return os.Remove(path)
	}
	return nil
}

func createFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.Create(path)
}

// attach streams every collected interval to the current interval log, and
// switches logs when a series starts its next run.
func (o *reportFiles) attach(opt *bench.Options) {
	if o.logs == nil {
		return
	}
	opt.OnInterval = func(iv metrics.Interval) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.cur == nil || o.err != nil {
			return
		}
		if err := o.cur.w.WriteInterval(iv); err != nil {
			o.err = fmt.Errorf("--hlog %s: %w", o.cur.path, err)
		}
	}
	next := opt.OnRunStart
	opt.OnRunStart = func(topology string, rep, of int) {
		o.mu.Lock()
		o.cur = o.logs[runKey(topology, rep)]
		o.mu.Unlock()
		if next != nil {
			next(topology, rep, of)
		}
	}
}

// close closes the interval logs and removes those no run wrote to (an
// interrupted series); it returns the first write error.
func (o *reportFiles) close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	err := o.err
	for _, hf := range o.logs {
		if cerr := hf.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("--hlog %s: %w", hf.path, cerr)
		}
		if hf.w.Intervals == 0 {
			os.Remove(hf.path)
		} else {
			o.written = append(o.written, hf.path)
		}
	}
	sort.Strings(o.written)
	o.logs, o.cur = nil, nil
	if err != nil {
		return &bench.InputError{Err: err}
	}
	return nil
}

// writeRun writes one run's HTML and Markdown files.
func (o *reportFiles) writeRun(rep *reports.Report, stderr io.Writer) error {
	return o.write(stderr,
		func(w io.Writer) error { return reports.WriteHTML(w, rep) },
		func(w io.Writer) error { return reports.WriteMarkdown(w, rep) })
}

// writeSeries writes a series' HTML and Markdown files.
func (o *reportFiles) writeSeries(sr *reports.SeriesReport, stderr io.Writer) error {
	return o.write(stderr,
		func(w io.Writer) error { return reports.WriteSeriesHTML(w, sr) },
		func(w io.Writer) error { return reports.WriteSeriesMarkdown(w, sr) })
}

func (o *reportFiles) write(stderr io.Writer, html, markdown func(io.Writer) error) error {
	var errs []error
	for _, out := range []struct {
		flag, path string
		render     func(io.Writer) error
	}{{"--html", o.html, html}, {"--markdown", o.markdown, markdown}} {
		if out.path == "" {
			continue
		}
		if err := writeFile(out.path, out.render); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", out.flag, err))
			continue
		}
		fmt.Fprintf(stderr, "%s written to %s\n", strings.TrimPrefix(out.flag, "--"), out.path)
	}
	if err := errors.Join(errs...); err != nil {
		return &bench.InputError{Err: err}
	}
	return nil
}

// writeFile renders into memory first, so a render error leaves no half file.
func writeFile(path string, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// closeAndWrite closes the interval logs, then writes the HTML and Markdown
// files; it returns the first error.
func closeAndWrite(out *runOut, stderr io.Writer, write func() error) error {
	if err := out.files.close(); err != nil {
		return err
	}
	if out.files.hlogWritten() != "" {
		fmt.Fprintf(stderr, "interval logs written to %s\n", out.files.hlogWritten())
	}
	return write()
}

func (o *reportFiles) hlogWritten() string { return strings.Join(o.written, ", ") }

package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/reports"
)

// outputs are the report files of a command: one flag per format of
// reports.Encoders (--out, --html, --markdown, --junit, --hlog), the text
// summary on stdout. run and report share them.
type outputs struct {
	// paths are the flags' values by encoder name.
	paths map[string]*string
}

// addOutputFlags registers a flag for every file format.
func addOutputFlags(fs *pflag.FlagSet) *outputs {
	o := &outputs{paths: map[string]*string{}}
	for _, e := range reports.Encoders {
		if e.Flag == "" {
			continue
		}
		p := new(string)
		if e.Flag == "out" {
			fs.StringVarP(p, e.Flag, "o", "", e.Usage)
		} else {
			fs.StringVar(p, e.Flag, "", e.Usage)
		}
		o.paths[e.Name] = p
	}
	return o
}

// check refuses, before any load, a file that cannot be written: a folder
// that is a file, a path that is a folder, no permission, or a missing folder
// outside the current directory (wssbench creates missing folders only under
// it). runs are the runs the series will make, for per-run files.
func (o *outputs) check(runs []reports.RunID, single bool) error {
	var errs []error
	owner := map[string]string{} // path -> the flag that writes it
	for _, e := range reports.Encoders {
		p := o.paths[e.Name]
		if p == nil || *p == "" {
			continue
		}
		for _, path := range e.Paths(*p, runs, single) {
			if other, ok := owner[path]; ok {
				errs = append(errs, fmt.Errorf("--%s %s: --%s writes that file too (two runs or two formats would share it); give another name", e.Flag, path, other))
				continue
			}
			owner[path] = e.Flag
			if err := checkWritable(path); err != nil {
				errs = append(errs, fmt.Errorf("--%s %s: %w", e.Flag, path, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return &bench.InputError{Err: err}
	}
	return nil
}

// write prints the text summary on stdout and writes every file asked for,
// each named on stderr; it goes on past a failed file and returns every error.
func (o *outputs) write(s *reports.Series, stdout, stderr io.Writer) error {
	var errs []error
	for _, e := range reports.Encoders {
		if e.Flag == "" {
			if err := e.Write(stdout, s); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		p := o.paths[e.Name]
		if p == nil || *p == "" {
			continue
		}
		written, err := e.WriteFiles(*p, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("write --%s: %w", e.Flag, err))
		}
		if len(written) > 0 {
			fmt.Fprintf(stderr, "%s written to %s\n", e.Name, strings.Join(written, ", "))
		} else if err == nil {
			fmt.Fprintf(stderr, "%s: nothing to write (no run measured anything)\n", e.Name)
		}
	}
	return errors.Join(errs...)
}

// checkSearch refuses, before any probe, an output a capacity search has no
// format for (JUnit, interval logs) and a file that cannot be written.
func (o *outputs) checkSearch() error {
	var errs []error
	for _, e := range reports.Encoders {
		p := o.paths[e.Name]
		if p == nil || *p == "" {
			continue
		}
		if e.WriteSearch == nil {
			errs = append(errs, fmt.Errorf("--%s: a capacity search is written as %s only (its probes' runs are in the JSON)", e.Flag, strings.Join(reports.SearchFormats(), ", ")))
			continue
		}
		if err := checkWritable(*p); err != nil {
			errs = append(errs, fmt.Errorf("--%s %s: %w", e.Flag, *p, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return &bench.InputError{Err: err}
	}
	return nil
}

// writeSearch prints a capacity search's summary on stdout and writes every
// file asked for, each named on stderr; it goes on past a failed file and
// returns every error.
func (o *outputs) writeSearch(s *reports.SearchReport, stdout, stderr io.Writer) error {
	var errs []error
	for _, e := range reports.Encoders {
		if e.WriteSearch == nil {
			continue
		}
		if e.Flag == "" {
			if err := e.WriteSearch(stdout, s); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		p := o.paths[e.Name]
		if p == nil || *p == "" {
			continue
		}
		if err := e.WriteSearchFile(*p, s); err != nil {
			errs = append(errs, fmt.Errorf("write --%s: %w", e.Flag, err))
			continue
		}
		fmt.Fprintf(stderr, "%s written to %s\n", e.Name, *p)
	}
	return errors.Join(errs...)
}

// checkWritable checks that path can be written, leaving no file behind that
// was not there. A missing folder is made only under the current directory.
func checkWritable(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return errors.New("is a folder; give a file name")
	}
	dir := filepath.Dir(path)
	switch fi, err := os.Stat(dir); {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("%s is a file, not a folder", dir)
	case errors.Is(err, os.ErrNotExist):
		if !underWorkingDir(dir) {
			return fmt.Errorf("folder %s does not exist; create it first (wssbench makes missing folders only under the current directory)", dir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	case err != nil:
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

// underWorkingDir reports whether dir lies inside the current directory.
func underWorkingDir(dir string) bool {
	wd, err := os.Getwd()
	if err != nil {
		return false
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(wd, abs)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/wssbench/wssbench/bench"
)

// Encoder is one output format of a report. Every format sits in the
// Encoders table, used by both `wssbench run` and `wssbench report`, so a new
// format is one file and one row.
type Encoder struct {
	// Name names the format; Flag is its command-line flag ("" for the text
	// summary, which goes to stdout).
	Name, Flag string
	// Usage is the flag's help line.
	Usage string
	// Write encodes a series (a series of one for a single run).
	Write func(w io.Writer, s *Series) error
	// PerRun is set for a format of one run per file (the interval log): a
	// series of several runs writes FILE-CELL-N.EXT for each run.
	PerRun bool
	// WriteSearch encodes a capacity search (wssbench search); nil for a
	// format that has none (JUnit, interval logs).
	WriteSearch func(w io.Writer, s *SearchReport) error
}

// Encoders are the report formats, in the order they are written.
var Encoders = []Encoder{
	{Name: "text", Write: writeText, WriteSearch: WriteSearchText},
	{Name: "json", Flag: "out", Usage: "write the JSON report (schema wssbench/v1) to this file", Write: WriteJSON, WriteSearch: WriteSearchJSON},
	{Name: "html", Flag: "html", Usage: "write the report as one self-contained HTML page with plots", Write: writeHTML, WriteSearch: WriteSearchHTML},
	{Name: "markdown", Flag: "markdown", Usage: "write a Markdown summary (for a pull-request comment)", Write: writeMarkdown, WriteSearch: WriteSearchMarkdown},
	{Name: "junit", Flag: "junit", Usage: "write JUnit XML of the verdict and thresholds of each run to this file", Write: writeJUnit},
	{Name: "hlog", Flag: "hlog", Usage: "write HdrHistogram interval logs (1 s, one tag per metric); a series writes FILE-CELL-N.EXT per run", Write: writeHlog, PerRun: true},
}

// RunID names one run of a series: its cell and repetition.
type RunID struct {
	Cell       string
	Repetition int
}

// Paths returns the files the encoder writes for path, given the series'
// runs: path itself, or one file per run for a per-run format of a series
// of several runs (single says the series is one run).
func (e Encoder) Paths(path string, runs []RunID, single bool) []string {
	if !e.PerRun || single {
		return []string{path}
	}
	ext := filepath.Ext(path)
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = fmt.Sprintf("%s-%s-%d%s", strings.TrimSuffix(path, ext), slug(r.Cell), r.Repetition, ext)
	}
	return out
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._=+-]+`)

// slug makes a cell name safe in a file name: "direct tls_max=1.2" -> "direct_tls_max=1.2".
func slug(s string) string { return strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "_") }

// WriteFiles writes s to path (for a per-run format of several runs, each
// run that ran to its own file) and returns the files written. Each file is
// rendered in memory first, so an error leaves no half file.
func (e Encoder) WriteFiles(path string, s *Series) ([]string, error) {
	if !e.PerRun || s.Single() != nil {
		return []string{path}, writeFile(path, func(w io.Writer) error { return e.Write(w, s) })
	}
	var written []string
	for _, r := range s.Runs {
		if r.NotRun != "" || len(r.Intervals) == 0 {
			continue
		}
		p := e.Paths(path, []RunID{{r.Cell, r.Repetition}}, false)[0]
		one := &Series{Schema: s.Schema, Build: s.Build, Runs: []*Report{r}, single: true}
		if err := writeFile(p, func(w io.Writer) error { return e.Write(w, one) }); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

// WriteSearchFile writes a capacity search to path in this format. Like
// WriteFiles it renders in memory first, so an error leaves no half file.
func (e Encoder) WriteSearchFile(path string, s *SearchReport) error {
	if e.WriteSearch == nil {
		return &bench.InputError{Err: fmt.Errorf("--%s: a capacity search has no %s output; its formats are %s", e.Flag, e.Name, strings.Join(SearchFormats(), ", "))}
	}
	return writeFile(path, func(w io.Writer) error { return e.WriteSearch(w, s) })
}

// SearchFormats names the formats a capacity search is written in.
func SearchFormats() []string {
	var out []string
	for _, e := range Encoders {
		if e.WriteSearch != nil {
			out = append(out, e.Name)
		}
	}
	return out
}

// WriteSearch writes a capacity search in the format called name (text,
// json, html or markdown).
func WriteSearch(format string, w io.Writer, s *SearchReport) error {
	for _, e := range Encoders {
		if e.Name == format && e.WriteSearch != nil {
			return e.WriteSearch(w, s)
		}
	}
	return fmt.Errorf("a capacity search has no %q format; its formats are %s", format, strings.Join(SearchFormats(), ", "))
}

func writeFile(path string, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// WriteJSON writes the series as indented JSON: a series of one as the run's report.
func WriteJSON(w io.Writer, s *Series) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // thresholds hold < and >
	return enc.Encode(s)
}

// writeText writes the human summary: a run's, or a comparison's table.
func writeText(w io.Writer, s *Series) error {
	if r := s.Single(); r != nil {
		return runText(w, r)
	}
	return seriesText(w, s)
}

// writeHTML writes one self-contained HTML page: inline CSS and SVG plots,
// nothing fetched from the network, no script.
func writeHTML(w io.Writer, s *Series) error {
	if r := s.Single(); r != nil {
		return runHTML(w, r)
	}
	return seriesHTML(w, s)
}

// writeMarkdown writes a summary for a pull-request comment.
func writeMarkdown(w io.Writer, s *Series) error {
	if r := s.Single(); r != nil {
		return runMarkdown(w, r)
	}
	return seriesMarkdown(w, s)
}

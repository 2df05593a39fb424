package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/wssbench/wssbench/bench"
)

// Document is a decoded report file: one run, or a series of runs (a
// topology comparison or --repeat).
type Document struct {
	// Name is where it came from, for messages (a file path).
	Name string
	// Runs are the runs it holds, in order; one for a one-run report.
	Runs []*Report
	// Series is set for a report of several runs ({schema, runs, comparison}).
	Series bool
	// Whole is the report as a series: the series itself (with its
	// comparison), or a series of the one run.
	Whole *Series
	// Search is set for a capacity search report (wssbench search); then
	// Runs and Whole are empty, and the probes hold the runs.
	Search *SearchReport
	// configs are the runs' configs as raw JSON, so a comparison also sees keys
	// this version's Config does not know.
	configs []map[string]json.RawMessage
}

// maxReportBytes bounds what Decode reads: reports are kilobytes each.
const maxReportBytes = 256 << 20

// requiredKeys are the keys every run of a v1 report has.
var requiredKeys = []string{"schema", "config", "connections", "phases", "frames", "cpu", "verdict"}

// ReadFile decodes the report at path. Every error is an *bench.InputError
// that names the file and says what is wrong.
func ReadFile(path string) (*Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &bench.InputError{Err: fmt.Errorf("report %s: %w", path, err)}
	}
	defer f.Close()
	return Decode(f, path)
}

// Decode reads one wssbench/v1 JSON report (of one run or a series) from r;
// name is used in messages. Malformed, truncated or foreign JSON is an
// *bench.InputError.
func Decode(r io.Reader, name string) (*Document, error) {
	bad := func(format string, a ...any) error {
		return &bench.InputError{Err: fmt.Errorf("report %s: %s", name, fmt.Sprintf(format, a...))}
	}
	b, err := io.ReadAll(io.LimitReader(r, maxReportBytes+1))
	if err != nil {
		return nil, bad("read: %v", err)
	}
	if len(b) > maxReportBytes {
		return nil, bad("larger than %d MiB: not a wssbench report", maxReportBytes>>20)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, bad("the file is empty (want the file `wssbench run --out` writes)")
	}
	var top map[string]json.RawMessage
	if err := strictUnmarshal(b, &top); err != nil {
		var syn *json.SyntaxError
		if errors.Is(err, io.ErrUnexpectedEOF) || (errors.As(err, &syn) && len(bytes.TrimSpace(b)) > 0 && syn.Offset >= int64(len(bytes.TrimSpace(b)))) {
			return nil, bad("truncated JSON (%v): was the run interrupted while writing it?", err)
		}
		return nil, bad("not a JSON object: %v (want the file `wssbench run --out` writes)", err)
	}
	if err := checkSchema(top); err != "" {
		return nil, bad("%s", err)
	}
	doc := &Document{Name: name}
	if isSearch(top) {
		sr, err := decodeSearch(b)
		if err != nil {
			return nil, bad("%v", err)
		}
		doc.Search = sr
		return doc, nil
	}
	raws := []json.RawMessage{b}
	if rr, ok := top["runs"]; ok {
		doc.Series = true
		raws = nil
		if err := json.Unmarshal(rr, &raws); err != nil {
			return nil, bad("runs is not a list of run reports: %v", err)
		}
		if len(raws) == 0 {
			return nil, bad("runs is empty: the series holds no run")
		}
	}
	for i, raw := range raws {
		where := "the report"
		if doc.Series {
			where = fmt.Sprintf("run %d of %d", i+1, len(raws))
		}
		rep, cfg, err := decodeRun(raw, where)
		if err != nil {
			return nil, bad("%v", err)
		}
		doc.Runs = append(doc.Runs, rep)
		doc.configs = append(doc.configs, cfg)
	}
	if doc.Series {
		doc.Whole = &Series{}
		if err := json.Unmarshal(b, doc.Whole); err != nil {
			return nil, bad("not a valid series report: %v", err)
		}
		doc.Whole.Runs = doc.Runs
	} else {
		doc.Whole = &Series{Schema: Schema, Build: doc.Runs[0].Build, Runs: doc.Runs, single: true}
	}
	return doc, nil
}

// strictUnmarshal decodes exactly one JSON value from b.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("data after the report")
	}
	return nil
}

func checkSchema(keys map[string]json.RawMessage) string {
	raw, ok := keys["schema"]
	if !ok {
		return "no \"schema\" key: not a wssbench report"
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s != Schema {
		return fmt.Sprintf("schema %s is not %q: a report of another version or another tool", raw, Schema)
	}
	return ""
}

// decodeRun reads and checks one run report; where names it in errors.
func decodeRun(raw json.RawMessage, where string) (*Report, map[string]json.RawMessage, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil || keys == nil {
		return nil, nil, fmt.Errorf("%s is not a JSON object", where)
	}
	if msg := checkSchema(keys); msg != "" {
		return nil, nil, fmt.Errorf("%s: %s", where, msg)
	}
	for _, k := range requiredKeys {
		if _, ok := keys[k]; !ok {
			return nil, nil, fmt.Errorf("%s has no %q key: not a complete wssbench/v1 run report", where, k)
		}
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(keys["config"], &cfg); err != nil || cfg == nil {
		return nil, nil, fmt.Errorf("%s: config is not an object", where)
	}
	rep := &Report{}
	if err := json.Unmarshal(raw, rep); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", where, err)
	}
	for h := range rep.Histograms {
		if _, err := rep.Histogram(h); err != nil {
			return nil, nil, fmt.Errorf("%s: %v", where, err)
		}
	}
	if err := rep.checkWorkloadHistograms(); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", where, err)
	}
	return rep, cfg, nil
}

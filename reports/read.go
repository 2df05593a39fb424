package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Document is a decoded JSON report: exactly one of Run (a report of one run)
// and Series (several runs and their comparison) is set.
type Document struct {
	Run    *Report
	Series *SeriesReport
}

// ReadJSON decodes a "wssbench/v1" report of one run or of a series. It
// refuses input that is not JSON, another schema, or a report whose
// histograms cannot be decoded.
func ReadJSON(r io.Reader) (Document, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return Document{}, err
	}
	var head struct {
		Schema *string          `json:"schema"`
		Runs   *json.RawMessage `json:"runs"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Document{}, fmt.Errorf("not a JSON report: %w", err)
	}
	switch {
	case head.Schema == nil:
		return Document{}, errors.New(`not a wssbench report: it has no "schema" key`)
	case *head.Schema != Schema:
		return Document{}, fmt.Errorf("unknown schema %q: this wssbench reads %q", *head.Schema, Schema)
	}
	var doc Document
	dec := json.NewDecoder(bytes.NewReader(b))
	if head.Runs != nil {
		doc.Series = &SeriesReport{}
		err = dec.Decode(doc.Series)
	} else {
		doc.Run = &Report{}
		err = dec.Decode(doc.Run)
	}
	if err != nil {
		return Document{}, fmt.Errorf("not a valid %s report: %w", Schema, err)
	}
	for i, r := range doc.runs() {
		if r == nil {
			return Document{}, fmt.Errorf("runs[%d] is null", i)
		}
		for name := range r.Histograms {
			if _, err := r.Histogram(name); err != nil {
				return Document{}, fmt.Errorf("run %q: %w", r.Label, err)
			}
		}
	}
	return doc, nil
}

// ReadJSONFile reads a JSON report from path.
func ReadJSONFile(path string) (Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return Document{}, err
	}
	defer f.Close()
	doc, err := ReadJSON(f)
	if err != nil {
		return Document{}, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

func (d Document) runs() []*Report {
	if d.Series != nil {
		return d.Series.Runs
	}
	return []*Report{d.Run}
}

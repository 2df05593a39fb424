package reports

import (
	"encoding/json"
	"fmt"

	"github.com/wssbench/wssbench/bench"
)

// isSearch reports whether a report's top-level keys are a capacity
// search's: a search key, and neither runs nor connections.
func isSearch(top map[string]json.RawMessage) bool {
	_, search := top["search"]
	_, runs := top["runs"]
	_, conns := top["connections"]
	return search && !runs && !conns
}

// decodeSearch reads a capacity search report, checking every probe's runs
// as run reports are checked.
func decodeSearch(b []byte) (*SearchReport, error) {
	var shape struct {
		Search map[string]json.RawMessage `json:"search"`
	}
	if err := json.Unmarshal(b, &shape); err != nil || shape.Search == nil {
		return nil, fmt.Errorf("search is not an object: not a wssbench search report")
	}
	for _, k := range []string{"vary", "slo", "probes", "stop"} {
		if _, ok := shape.Search[k]; !ok {
			return nil, fmt.Errorf("search has no %q key: not a complete wssbench/v1 search report", k)
		}
	}
	var probes []struct {
		Runs []json.RawMessage `json:"runs"`
	}
	if err := json.Unmarshal(shape.Search["probes"], &probes); err != nil {
		return nil, fmt.Errorf("search.probes is not a list of probes: %v", err)
	}
	sr := &SearchReport{}
	if err := json.Unmarshal(b, sr); err != nil {
		return nil, fmt.Errorf("not a valid search report: %v", err)
	}
	for i, p := range probes {
		for j, raw := range p.Runs {
			rep, _, err := decodeRun(raw, fmt.Sprintf("probe %d run %d of %d", i+1, j+1, len(p.Runs)))
			if err != nil {
				return nil, err
			}
			sr.Search.Probes[i].Runs[j] = rep
		}
	}
	return sr, nil
}

// RequireRuns refuses a capacity search report where the reports of runs
// are needed: what names the need ("wssbench merge reads shard reports").
func (d *Document) RequireRuns(what string) error {
	if d.Search == nil {
		return nil
	}
	return &bench.InputError{Err: fmt.Errorf("report %s is a capacity search (wssbench search), not a run report: %s; give a report written by wssbench run --out (a search's runs are inside its probes)", d.Name, what)}
}

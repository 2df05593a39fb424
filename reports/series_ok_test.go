package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wssbench/wssbench/bench"
)

// TestMatrixForgivesOnlyCellsThatCannotWork: a matrix's OK passes cells whose
// settings cannot work and cells no server could negotiate, and fails on
// any other cell that did not run or connect, or when none connected.
func TestMatrixForgivesOnlyCellsThatCannotWork(t *testing.T) {
	t.Parallel()
	good := func() *Report { return one(Meta{}, fixedResult()) }
	failed := func(class string) *Report {
		r := good()
		r.Connections.Established, r.Connections.Failed = 0, r.Connections.Attempted
		r.Connections.Errors = map[string]int64{class: r.Connections.Attempted}
		r.Verdict = Verdict{Reasons: []bench.Reason{{Kind: bench.ReasonConnectionsFailed, Text: "10 of 10 connections failed"}}}
		return r
	}
	notRun := func(cannotWork bool) *Report {
		r := good()
		r.NotRun, r.CannotWork = "why", cannotWork
		r.Connections = Connections{}
		r.Verdict = Verdict{Reasons: []bench.Reason{{Kind: bench.ReasonNotRun, Text: "not run: why"}}}
		return r
	}
	tests := []struct {
		name string
		runs []*Report
		ok   bool
	}{
		{"clean", []*Report{good(), good()}, true},
		{"a cell that cannot work", []*Report{good(), notRun(true)}, true},
		{"a cell not negotiated", []*Report{good(), failed("tls_handshake_failure")}, true},
		{"a cell whose run failed to start", []*Report{good(), notRun(false)}, false},
		{"a cell whose certificate is not trusted", []*Report{good(), failed("tls_unknown_authority")}, false},
		{"no cell connected", []*Report{failed("tls_handshake_failure"), notRun(true)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &Series{Runs: tc.runs, Comparison: Comparison{Matrix: true}}
			if got := s.OK(); got != tc.ok {
				t.Fatalf("OK() = %v, want %v", got, tc.ok)
			}
		})
	}
	// Outside a matrix every cell counts.
	if s := (&Series{Runs: []*Report{good(), failed("tls_handshake_failure")}}); s.OK() {
		t.Fatal("a comparison with a failed cell is ok")
	}
}

// TestDecodeReadsUntypedReasons: reports written before reasons were typed
// hold plain strings; they still read, as kind "other".
func TestDecodeReadsUntypedReasons(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, single(Meta{}, fixedResult())); err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(buf.String(), `"reasons": []`, `"reasons": ["3 frames lost"]`, 1)
	if old == buf.String() {
		t.Fatal("the fixture has no empty reasons to replace")
	}
	doc, err := Decode(strings.NewReader(old), "old.json")
	if err != nil {
		t.Fatal(err)
	}
	if r := doc.Runs[0].Verdict.Reasons; len(r) != 1 || r[0].Kind != bench.ReasonOther || r[0].Text != "3 frames lost" {
		t.Fatalf("reasons %+v", r)
	}
}

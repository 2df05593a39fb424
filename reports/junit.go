package reports

import (
	"encoding/xml"
	"fmt"
	"io"
)

// junitSuites is the root of a JUnit XML file, as CI systems read it.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// writeJUnit writes JUnit XML for the series' runs: one test suite per run,
// holding a test case for the run's verdict and one per threshold, each
// failed one with a failure element that says what was measured.
func writeJUnit(w io.Writer, s *Series) error {
	root := junitSuites{Name: "wssbench"}
	names := s.RunNames()
	for i, r := range s.Runs {
		name := "wssbench run"
		if s.Single() == nil {
			name += ": " + names[i]
		} else if r.Label != "" {
			name += ": " + r.Label
		}
		s := junitSuite{Name: name, Time: fmt.Sprintf("%.3f", r.DurationS)}
		if !r.StartedAt.IsZero() {
			s.Timestamp = r.StartedAt.UTC().Format("2006-01-02T15:04:05")
		}
		v := junitCase{Name: "verdict", ClassName: "wssbench.run", SystemOut: "ok"}
		if !r.Verdict.OK {
			why := r.Verdict.Text()
			v.Failure, v.SystemOut = &junitFailure{Message: "run failed: " + why, Type: "run", Text: why}, ""
		} else if len(r.Verdict.Reasons) > 0 {
			v.SystemOut = "ok, but: " + r.Verdict.Text()
		}
		s.Cases = append(s.Cases, v)
		for _, t := range r.Thresholds {
			c := junitCase{Name: t.Expr, ClassName: "wssbench.threshold", SystemOut: t.String()}
			if !t.OK {
				c.Failure, c.SystemOut = &junitFailure{Message: "threshold failed: " + t.String(), Type: "threshold", Text: t.String()}, ""
			}
			s.Cases = append(s.Cases, c)
		}
		for _, c := range s.Cases {
			s.Tests++
			if c.Failure != nil {
				s.Failures++
			}
		}
		root.Tests += s.Tests
		root.Failures += s.Failures
		root.Suites = append(root.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

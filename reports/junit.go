package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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

// WriteJUnit writes JUnit XML for runs: one test suite per run (names[i]
// names it), holding a test case for the run's verdict and one per threshold,
// each failed one with a failure element that says what was measured.
func WriteJUnit(w io.Writer, runs []*Report, names []string) error {
	root := junitSuites{Name: "wssbench"}
	for i, r := range runs {
		name := "wssbench run"
		if i < len(names) && names[i] != "" {
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
			why := strings.Join(r.Verdict.Reasons, "; ")
			v.Failure, v.SystemOut = &junitFailure{Message: "run failed: " + why, Type: "run", Text: why}, ""
		} else if len(r.Verdict.Reasons) > 0 {
			v.SystemOut = "ok, but: " + strings.Join(r.Verdict.Reasons, "; ")
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

// WriteJUnitFile writes WriteJUnit's XML to path, creating its folder.
func WriteJUnitFile(path string, runs []*Report, names []string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := WriteJUnit(f, runs, names); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

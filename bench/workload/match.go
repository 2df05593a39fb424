package workload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Matcher is an expect test on a frame: a regular expression, or a JSON
// field that exists (or equals a value).
type Matcher struct {
	re     *regexp.Regexp
	path   []string
	equals string
	has    bool // Equals was given
	desc   string
}

// NewMatcher compiles an expect test: exactly one of re and field is set;
// equals (with field) is the value the field must have, as text.
func NewMatcher(re, field, equals string) (*Matcher, error) {
	switch {
	case re != "" && field != "":
		return nil, fmt.Errorf("an expect takes regex or field, not both")
	case re == "" && field == "":
		return nil, fmt.Errorf("an expect needs regex or field (with equals)")
	case re != "" && equals != "":
		return nil, fmt.Errorf("equals goes with field, not with regex")
	}
	if re != "" {
		r, err := regexp.Compile(re)
		if err != nil {
			return nil, fmt.Errorf("regex %q does not compile: %v", re, err)
		}
		return &Matcher{re: r, desc: fmt.Sprintf("a frame matching /%s/", re)}, nil
	}
	path := strings.Split(field, ".")
	for _, p := range path {
		if p == "" {
			return nil, fmt.Errorf("field %q has an empty part; write nested fields as a.b", field)
		}
	}
	m := &Matcher{path: path, equals: equals, has: equals != ""}
	if m.has {
		m.desc = fmt.Sprintf("a JSON frame with %s = %s", field, equals)
	} else {
		m.desc = fmt.Sprintf("a JSON frame with field %s", field)
	}
	return m, nil
}

// String says what the matcher waits for.
func (m *Matcher) String() string { return m.desc }

// Match tests frame p; when it does not match, why says how (for the sample
// of what came instead).
func (m *Matcher) Match(p []byte) (ok bool, why string) {
	if m.re != nil {
		if m.re.Match(p) {
			return true, ""
		}
		return false, "no match"
	}
	var v any
	if err := json.Unmarshal(p, &v); err != nil {
		return false, "not JSON"
	}
	for _, k := range m.path {
		obj, isObj := v.(map[string]any)
		if !isObj {
			return false, "no field " + strings.Join(m.path, ".")
		}
		if v, isObj = obj[k]; !isObj {
			return false, "no field " + strings.Join(m.path, ".")
		}
	}
	if !m.has {
		return true, ""
	}
	got := valueText(v)
	if got == m.equals {
		return true, ""
	}
	return false, fmt.Sprintf("%s is %s", strings.Join(m.path, "."), got)
}

// valueText writes a JSON value as the text an equals compares with.
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Extractor finds the number a frame carries: a request's sequence in a
// reply, or a publisher's send time in a delivery.
type Extractor struct {
	key []byte // `"field"`
	re  *regexp.Regexp
}

// NewExtractor compiles a field name (the first "field": NUMBER of the
// frame, the number quoted or not) or a regex whose first group is the number.
func NewExtractor(field, re string) (*Extractor, error) {
	switch {
	case field != "" && re != "":
		return nil, fmt.Errorf("latency takes field or regex, not both")
	case re != "":
		r, err := regexp.Compile(re)
		if err != nil {
			return nil, fmt.Errorf("regex %q does not compile: %v", re, err)
		}
		if r.NumSubexp() < 1 {
			return nil, fmt.Errorf("regex %q needs a group, such as \"seq\":(\\d+), around the number", re)
		}
		return &Extractor{re: r}, nil
	case field != "":
		if strings.ContainsAny(field, "\"\\") {
			return nil, fmt.Errorf("field %q: a field name has no quotes or backslashes", field)
		}
		return &Extractor{key: []byte(`"` + field + `"`)}, nil
	}
	return nil, fmt.Errorf("latency needs field or regex")
}

// Number returns the number p carries, or false. A field costs no allocation.
func (e *Extractor) Number(p []byte) (int64, bool) {
	if e.re != nil {
		m := e.re.FindSubmatch(p)
		if m == nil {
			return 0, false
		}
		n, err := strconv.ParseInt(string(m[1]), 10, 64)
		return n, err == nil
	}
	i := bytes.Index(p, e.key)
	if i < 0 {
		return 0, false
	}
	b := p[i+len(e.key):]
	b = skipSpace(b)
	if len(b) == 0 || b[0] != ':' {
		return 0, false
	}
	b = skipSpace(b[1:])
	if len(b) > 0 && b[0] == '"' {
		b = b[1:]
	}
	var n int64
	digits := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
		digits++
		if digits > 19 {
			return 0, false
		}
	}
	return n, digits > 0
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// Sample shortens a frame for an error message.
func Sample(p []byte) string {
	const most = 120
	s := string(p)
	if len(s) > most {
		s = s[:most] + "..."
	}
	return strconv.Quote(s)
}

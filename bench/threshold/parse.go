package threshold

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Op is a comparison operator.
type Op string

// The operators a threshold may use.
const (
	Less         Op = "<"
	LessEqual    Op = "<="
	Greater      Op = ">"
	GreaterEqual Op = ">="
	Equal        Op = "=="
)

// The selector keys: a threshold on one stage or one role of the run.
const (
	SelectStage = "stage"
	SelectRole  = "role"
)

// Selector narrows a metric to one stage or one role of the run, as written
// in brackets after it: ws_rtt.p99[stage=peak]. The zero Selector is the
// whole run.
type Selector struct {
	// Key is SelectStage or SelectRole; Value names the stage or role.
	Key, Value string
}

// String is the selector as written, "[stage=peak]", or "" for the whole run.
func (s Selector) String() string {
	if s.Key == "" {
		return ""
	}
	return "[" + s.Key + "=" + s.Value + "]"
}

// Threshold is one parsed expression: METRIC[SELECTOR] OP VALUE.
type Threshold struct {
	// Expr is the expression as written, trimmed.
	Expr string
	// Metric is the full metric name, such as "ws_rtt.p99", without the selector.
	Metric string
	// Selector, if set, narrows the metric to one stage or role.
	Selector Selector
	// Kind is the metric's kind; Value is in its unit (Kind.Unit).
	Kind Kind
	Op   Op
	// Value is the bound: microseconds for latency and cost, a fraction for
	// ratios, a plain number for counts and rates.
	Value float64
}

// Error is an expression that cannot be parsed or names no known metric.
type Error struct {
	// Expr is the expression; Msg says what is wrong and what to write instead.
	Expr, Msg string
}

// Error says which expression is wrong and what to write instead.
func (e *Error) Error() string { return fmt.Sprintf("threshold %q: %s", e.Expr, e.Msg) }

func errorf(expr, format string, a ...any) error {
	return &Error{Expr: expr, Msg: fmt.Sprintf(format, a...)}
}

// Name is the metric with its selector, as a threshold names it: "ws_rtt.p99[stage=peak]".
func (t Threshold) Name() string { return t.Metric + t.Selector.String() }

// Parse reads one expression, METRIC[.STAT][[SELECTOR]] OP VALUE, such as
// "ws_rtt.p99 < 5ms", "tls_handshake.p50 <= 2ms", "errors.rate < 0.1%",
// "driver_us_per_frame < 15", "connections.failed == 0",
// "ws_rtt.p99[stage=peak] < 5ms" or "delivery.p99[role=subscribers] < 10ms".
// Whether the stage or role exists is the config's to say (the planner
// checks it); Parse checks that the metric can be narrowed so.
func Parse(expr string) (Threshold, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return Threshold{}, errorf(expr, "empty; write METRIC OP VALUE, such as 'ws_rtt.p99 < 5ms'")
	}
	i, err := operatorAt(expr)
	if err != nil {
		return Threshold{}, err
	}
	name, rest := strings.TrimSpace(expr[:i]), expr[i:]
	name, sel, err := cutSelector(expr, name)
	if err != nil {
		return Threshold{}, err
	}
	var op Op
	for _, o := range []Op{LessEqual, GreaterEqual, Equal, Less, Greater} {
		if strings.HasPrefix(rest, string(o)) {
			op = o
			break
		}
	}
	if op == "" {
		return Threshold{}, errorf(expr, "operator %q is not one of < <= > >= ==", strings.TrimRight(rest[:min(2, len(rest))], " "))
	}
	raw := strings.TrimSpace(rest[len(op):])
	if name == "" {
		return Threshold{}, errorf(expr, "no metric before %s; valid metrics: %s", op, Summary())
	}
	info, ok := Lookup(name)
	if !ok {
		return Threshold{}, unknownMetric(expr, name)
	}
	if sel.Key != "" && !((sel.Key == SelectStage && info.ByStage) || (sel.Key == SelectRole && info.ByRole)) {
		return Threshold{}, errorf(expr, "%s takes no [%s=...] selector; [%s=NAME] narrows %s", info.Name, sel.Key, sel.Key, Selectable(sel.Key))
	}
	if raw == "" {
		return Threshold{}, errorf(expr, "no value after %s", op)
	}
	v, err := parseValue(info.Kind, raw)
	if err != nil {
		return Threshold{}, errorf(expr, "%s: %v", info.Name, err)
	}
	return Threshold{Expr: expr, Metric: info.Name, Selector: sel, Kind: info.Kind, Op: op, Value: v}, nil
}

// operatorAt is where the expression's operator begins: the first of < > = !
// outside a selector's brackets.
func operatorAt(expr string) (int, error) {
	depth := 0
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; {
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case depth == 0 && strings.IndexByte("<>=!", c) >= 0:
			return i, nil
		}
	}
	if depth > 0 {
		return 0, errorf(expr, "a [ is not closed; write METRIC[stage=NAME] or METRIC[role=NAME] OP VALUE, such as 'ws_rtt.p99[stage=peak] < 5ms'")
	}
	return 0, errorf(expr, "no operator; write METRIC OP VALUE with OP one of < <= > >= ==, such as 'ws_rtt.p99 < 5ms'")
}

// cutSelector splits "ws_rtt.p99[stage=peak]" into the metric and its selector.
func cutSelector(expr, name string) (string, Selector, error) {
	open := strings.IndexByte(name, '[')
	if open < 0 {
		if strings.IndexByte(name, ']') >= 0 {
			return "", Selector{}, errorf(expr, "a ] without its [; write METRIC[stage=NAME] or METRIC[role=NAME]")
		}
		return name, Selector{}, nil
	}
	bad := func(why string) (string, Selector, error) {
		return "", Selector{}, errorf(expr, "%s; write METRIC[stage=NAME] or METRIC[role=NAME] OP VALUE, such as 'ws_rtt.p99[stage=peak] < 5ms'", why)
	}
	if !strings.HasSuffix(name, "]") || strings.Count(name, "[") != 1 || strings.Count(name, "]") != 1 {
		return bad("the selector must be one [...] right after the metric")
	}
	inner := name[open+1 : len(name)-1]
	key, value, ok := strings.Cut(inner, "=")
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	switch {
	case !ok:
		return bad(fmt.Sprintf("selector [%s] is not KEY=NAME", inner))
	case key != SelectStage && key != SelectRole:
		return bad(fmt.Sprintf("selector key %q is not stage or role", key))
	case value == "":
		return bad(fmt.Sprintf("[%s=] names no %s", key, key))
	case strings.ContainsAny(value, "=<>! \t"):
		return bad(fmt.Sprintf("%s name %q holds a space or an operator", key, value))
	}
	return strings.TrimSpace(name[:open]), Selector{Key: key, Value: value}, nil
}

// ParseAll parses every expression and returns the first error.
func ParseAll(exprs []string) ([]Threshold, error) {
	out := make([]Threshold, 0, len(exprs))
	for _, e := range exprs {
		t, err := Parse(e)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Holds reports whether measured satisfies the threshold.
func (t Threshold) Holds(measured float64) bool {
	switch t.Op {
	case Less:
		return measured < t.Value
	case LessEqual:
		return measured <= t.Value
	case Greater:
		return measured > t.Value
	case GreaterEqual:
		return measured >= t.Value
	case Equal:
		return measured == t.Value
	}
	return false
}

func unknownMetric(expr, name string) error {
	for _, h := range append(append([]string{}, Histograms...), StormHistograms...) {
		if name == h {
			return errorf(expr, "%s needs a statistic, one of %s (such as %s.p99)", h, strings.Join(Stats, " "), h)
		}
	}
	msg := fmt.Sprintf("unknown metric %q.", name)
	if s := Closest(name); s != "" {
		msg = fmt.Sprintf("unknown metric %q; did you mean %q?", name, s)
	}
	return errorf(expr, "%s Valid metrics: %s", msg, Summary())
}

// Closest returns the known metric name nearest to name, or "" when none is
// near enough to be a likely typo.
func Closest(name string) string { return Nearest(name, Names()) }

// Nearest returns the name of names nearest to name by edit distance (case
// aside), or "" when none is near enough to be a likely typo: the
// did-you-mean of every message that lists valid names.
func Nearest(name string, names []string) string {
	best, bestD := "", math.MaxInt
	for _, n := range names {
		if d := distance(strings.ToLower(name), n); d < bestD {
			best, bestD = n, d
		}
	}
	if bestD <= max(2, (len(name)+1)/3) {
		return best
	}
	return ""
}

// distance is the Levenshtein edit distance of a and b, in bytes.
func distance(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ParsePercent reads a share written as a percentage, such as "10%" or
// "0.1%", as a fraction of 1 (0.1, 0.001). It is the one rule for shares in
// wssbench (compare's tolerances and the thresholds' rates): a share carries
// %; a bare number other than 0 is refused, because one reader takes 0.1 for
// a fraction (10%) and another for a percentage (0.1%).
func ParsePercent(raw string) (float64, error) {
	return parseValue(Ratio, strings.TrimSpace(raw))
}

// percent applies the share rule to a number v read from raw with unit.
func percent(raw string, v float64, unit string) (float64, error) {
	switch {
	case unit == "%":
		return v / 100, nil
	case unit == "" && v == 0:
		return 0, nil
	case unit == "":
		return 0, fmt.Errorf("%q is a bare number, which is ambiguous: rates and tolerances are percentages, so write %s%% (or %s if %s was meant as a fraction)",
			raw, raw, strconv.FormatFloat(v*100, 'f', -1, 64)+"%", raw)
	}
	return 0, fmt.Errorf("%q: rates and tolerances are percentages, such as 0.1%%", raw)
}

// parseValue reads a number and its unit into kind's unit.
func parseValue(kind Kind, raw string) (float64, error) {
	end := 0
	for end < len(raw) && strings.IndexByte("0123456789.eE+-", raw[end]) >= 0 {
		// An e that starts a unit is not an exponent: stop at a letter run
		// that is not followed by a digit or sign.
		if (raw[end] == 'e' || raw[end] == 'E') && (end+1 >= len(raw) || strings.IndexByte("0123456789+-", raw[end+1]) < 0) {
			break
		}
		end++
	}
	num, unit := raw[:end], strings.TrimSpace(raw[end:])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("%q is not a number with an optional unit, such as 5ms, 0.1%% or 15", raw)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a finite number", raw)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q is negative; every figure is zero or more", raw)
	}
	timeUnit := map[string]float64{"ns": 1e-3, "us": 1, "µs": 1, "μs": 1, "ms": 1e3, "s": 1e6}
	switch kind {
	case Latency:
		f, ok := timeUnit[unit]
		if !ok {
			return 0, fmt.Errorf("%q needs a time unit: ns, us (or µs), ms or s, such as 5ms", raw)
		}
		return v * f, nil
	case CostUs:
		if unit == "" {
			return v, nil
		}
		f, ok := timeUnit[unit]
		if !ok {
			return 0, fmt.Errorf("%q: CPU cost is microseconds; write a plain number (15) or a time unit (15us)", raw)
		}
		return v * f, nil
	case Ratio:
		return percent(raw, v, unit)
	case PerSecond:
		if unit == "" || unit == "/s" {
			return v, nil
		}
		return 0, fmt.Errorf("%q: a rate is a plain number per second (400 or 400/s)", raw)
	}
	if unit != "" {
		return 0, fmt.Errorf("%q: a count is a plain number", raw)
	}
	return v, nil
}

// Format writes a value of kind in its natural unit, such as 7.21ms, 0.05% or 12.
func Format(kind Kind, v float64) string {
	switch kind {
	case Latency:
		switch {
		case v >= 1e6:
			return fmt.Sprintf("%.2fs", v/1e6)
		case v >= 1e3:
			return fmt.Sprintf("%.2fms", v/1e3)
		case v >= 100:
			return fmt.Sprintf("%.0fµs", v)
		default:
			return fmt.Sprintf("%.1fµs", v)
		}
	case CostUs:
		switch {
		case v >= 100:
			return fmt.Sprintf("%.0fµs", v)
		case v >= 10:
			return fmt.Sprintf("%.1fµs", v)
		default:
			return fmt.Sprintf("%.2fµs", v)
		}
	case Ratio:
		return strconv.FormatFloat(v*100, 'g', 4, 64) + "%"
	case PerSecond:
		return fmt.Sprintf("%.1f/s", v)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

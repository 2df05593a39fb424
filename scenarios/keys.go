package scenarios

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/threshold"
	"github.com/wssbench/wssbench/bench/workload"
	"gopkg.in/yaml.v3"
)

// decodeInto decodes a scenario's top-level node into cfg key by key, so
// that every error names its line and key in YAML words: an unknown key with
// the valid keys (derived from the yaml tags of bench.Config, or of
// bench.Matrix under matrix:) and a did-you-mean, a key set twice, a value of
// the wrong type with what the key takes.
func decodeInto(doc *yaml.Node, cfg *bench.Config) error {
	n := doc
	if n.Kind == 0 { // an empty file
		return nil
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a scenario is a mapping of keys, such as \"mode: steady\", not %s", n.Line, nodeWords(n))
	}
	return decodeMapping(n, reflect.ValueOf(cfg).Elem(), "")
}

// decodeMapping decodes the mapping n into the struct v; section is "" at
// the top and "matrix" under matrix:.
func decodeMapping(n *yaml.Node, v reflect.Value, section string) error {
	fields := fieldsOf(v.Type())
	seen := map[string]int{}
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Value == "<<" {
			// A YAML merge key: let yaml.v3 merge, with its own checks.
			return decodeWhole(n, v)
		}
		if first, ok := seen[k.Value]; ok {
			errs = append(errs, fmt.Errorf("line %d: key %q is set twice (first on line %d)", k.Line, k.Value, first))
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			errs = append(errs, unknownKey(k, v.Type(), section))
			continue
		}
		if err := decodeValue(val, v.Field(idx), prefixed(section, k.Value)); err != nil {
			errs = append(errs, err)
		} else if err := checkValue(val, v.Field(idx), k.Value, prefixed(section, k.Value)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// decodeWhole decodes n into v with yaml.v3's strict decoding.
func decodeWhole(n *yaml.Node, v reflect.Value) error {
	var buf strings.Builder
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(n); err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(buf.String()))
	dec.KnownFields(true)
	return dec.Decode(v.Addr().Interface())
}

// decodeValue decodes the value of key (written "matrix: size" under
// matrix:) into the field f.
func decodeValue(val *yaml.Node, f reflect.Value, key string) error {
	if t := f.Type(); t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
		if val.Kind == yaml.ScalarNode && val.Tag == "!!null" {
			f.Set(reflect.Zero(t))
			return nil
		}
		if val.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: %s: %s is not a mapping of %s keys", val.Line, key, nodeWords(val), key)
		}
		if f.IsNil() {
			f.Set(reflect.New(t.Elem()))
		}
		return decodeMapping(val, f.Elem(), key)
	}
	if t := f.Type(); t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && val.Kind == yaml.SequenceNode {
		// A list of mappings (roles, steps, stages): each decoded as strictly
		// as the top level, its keys named by their place.
		out := reflect.MakeSlice(t, len(val.Content), len(val.Content))
		var errs []error
		for i, item := range val.Content {
			where := fmt.Sprintf("%s[%d]", key, i+1)
			if item.Kind != yaml.MappingNode {
				errs = append(errs, fmt.Errorf("line %d: %s: %s is not a mapping of keys", item.Line, where, nodeWords(item)))
				continue
			}
			if err := decodeMapping(item, out.Index(i), where); err != nil {
				errs = append(errs, err)
			}
		}
		f.Set(out)
		return errors.Join(errs...)
	}
	if bad := fraction(val, f.Type()); bad != nil {
		return fmt.Errorf("line %d: %s: %s is not %s", bad.Line, key, nodeWords(bad.Node), typeWords(bad.goType))
	}
	err := val.Decode(f.Addr().Interface())
	var te *yaml.TypeError
	if err == nil {
		return nil
	}
	if !errors.As(err, &te) {
		// A type's own message (a bad duration), which names its line.
		msg := err.Error()
		if rest, ok := strings.CutPrefix(msg, fmt.Sprintf("line %d: ", val.Line)); ok {
			msg = rest
		}
		return fmt.Errorf("line %d: %s: %s", val.Line, key, msg)
	}
	// In a list, name the item that does not fit.
	if val.Kind == yaml.SequenceNode && f.Kind() == reflect.Slice {
		for _, item := range val.Content {
			if item.Decode(reflect.New(f.Type().Elem()).Interface()) != nil {
				return fmt.Errorf("line %d: %s: %s is not %s", item.Line, key, nodeWords(item), typeWords(f.Type().Elem()))
			}
		}
	}
	return fmt.Errorf("line %d: %s: %s is not %s", val.Line, key, nodeWords(val), typeWords(f.Type()))
}

// checkValue checks, with its line, a value whose meaning is more than its
// type: a frame template, a regular expression, a role's share, a stage's
// duration. The plan checks how the settings fit together.
func checkValue(val *yaml.Node, f reflect.Value, key, where string) error {
	var err error
	switch {
	case key == "send" && f.Kind() == reflect.String:
		_, err = workload.ParseTemplate(f.String())
	case key == "regex" && f.Kind() == reflect.String:
		if _, cerr := regexp.Compile(f.String()); cerr != nil {
			err = fmt.Errorf("%q does not compile: %v", f.String(), cerr)
		}
	case key == "share" && f.Kind() == reflect.String && f.String() != "":
		_, err = workload.ParseShare(f.String())
	case key == "duration" && strings.HasPrefix(where, "stages[") && f.Interface().(bench.Duration) <= 0:
		err = fmt.Errorf("%s goes backwards or stands still in time: each stage needs a positive duration, such as 30s", val.Value)
	}
	if err != nil {
		return fmt.Errorf("line %d: %s: %v", val.Line, where, err)
	}
	return nil
}

// badNode is a value that does not fit goType.
type badNode struct {
	*yaml.Node
	goType reflect.Type
}

// fraction finds a number with a fractional part where t (or, for a list,
// its items) takes a whole number: yaml.v3 would truncate it silently.
func fraction(n *yaml.Node, t reflect.Type) *badNode {
	if t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode {
		for _, item := range n.Content {
			if b := fraction(item, t.Elem()); b != nil {
				return b
			}
		}
		return nil
	}
	if t == durationType || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!float" {
		return nil
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
	default:
		return nil
	}
	if v, err := strconv.ParseFloat(n.Value, 64); err == nil && v == math.Trunc(v) {
		return nil
	}
	return &badNode{Node: n, goType: t}
}

// unknownKey explains a key that is not one of t's.
func unknownKey(k *yaml.Node, t reflect.Type, section string) error {
	keys := keysOf(t)
	under, list := "", "valid keys"
	if section != "" {
		under, list = " under "+section+":", "valid "+section+" keys"
	}
	msg := fmt.Sprintf("line %d: unknown key %q%s;", k.Line, k.Value, under)
	if s := threshold.Nearest(k.Value, keys); s != "" {
		msg += fmt.Sprintf(" did you mean %q?", s)
	}
	return fmt.Errorf("%s %s: %s", msg, list, strings.Join(keys, ", "))
}

func prefixed(section, key string) string {
	if section == "" {
		return key
	}
	return section + ": " + key
}

// keysOf lists the YAML keys of struct type t, from its yaml tags, in field order.
func keysOf(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if k := yamlKey(t.Field(i)); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// fieldsOf maps the YAML keys of struct type t to field indexes.
func fieldsOf(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		if k := yamlKey(t.Field(i)); k != "" {
			out[k] = i
		}
	}
	return out
}

func yamlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	k, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if k == "-" {
		return ""
	}
	if k == "" {
		return strings.ToLower(f.Name) // yaml.v3's default key
	}
	return k
}

// nodeWords describes a YAML value the way its author wrote it.
func nodeWords(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		if n.Alias != nil {
			return nodeWords(n.Alias)
		}
	}
	return fmt.Sprintf("%q", n.Value)
}

// durationType is written as a duration, not as the number it holds.
var durationType = reflect.TypeOf(bench.Duration(0))

// typeWords says what a value of Go type t is written as in YAML.
func typeWords(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 10s or 250ms"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + plural(t.Elem())
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "a mapping"
	}
	return "a value of another kind"
}

func plural(t reflect.Type) string {
	switch w := typeWords(t); w {
	case "true or false":
		return "true or false values"
	default:
		return strings.TrimPrefix(w, "a ") + "s"
	}
}

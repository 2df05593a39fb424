package scenarios

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wssbench/wssbench/bench"
)

// TestLoadUnknownKeyListsValidKeys checks that an unknown key is named with
// its line, a did-you-mean when one is close, and the valid keys in YAML
// words (those under matrix: for a matrix key), never a Go type.
func TestLoadUnknownKeyListsValidKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"typo", "mode: steady\ndurashun: 5s\n",
			[]string{`line 2: unknown key "durashun"`, `did you mean "duration"?`, "valid keys:", "conns", "msg_rate", "matrix", "thresholds"}},
		{"far from anything", "mode: steady\nbananas: 5\n",
			[]string{`line 2: unknown key "bananas"; valid keys:`, "duration"}},
		{"Go field name", "Conns: 5\n", []string{`line 1: unknown key "Conns"`, `did you mean "conns"?`}},
		{"under matrix", "mode: steady\nmatrix:\n  tls_max: [\"1.2\", \"1.3\"]\n  tls_maxx: [\"1.2\"]\n",
			[]string{`line 4: unknown key "tls_maxx" under matrix:`, `did you mean "tls_max"?`, "valid matrix keys:", "topology", "chain_length", "size"}},
		{"top-level key under matrix", "matrix:\n  conns: [1, 2]\n", []string{`line 2: unknown key "conns" under matrix:`, "valid matrix keys:"}},
		{"set twice", "conns: 5\nmode: steady\nconns: 6\n", []string{`line 3: key "conns" is set twice (first on line 1)`}},
		{"not a mapping", "- conns: 5\n", []string{"line 1", "mapping of keys", "a list"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "s.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if !bench.IsInputError(err) {
				t.Fatalf("Load = %v, want an input error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, goWord := range []string{"bench.Config", "bench.Matrix", "not found in type"} {
				if strings.Contains(err.Error(), goWord) {
					t.Errorf("error %q names Go's %q", err, goWord)
				}
			}
		})
	}
}

// TestLoadTypeErrorsInYAMLWords checks that a value of the wrong type names
// its line, its key and what the key takes, in YAML words rather than Go types
// (int, []string, !!str).
func TestLoadTypeErrorsInYAMLWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"word for a number", "mode: steady\nconns: many\n", []string{`line 2: conns: "many" is not a whole number`}},
		{"fraction for a whole number", "conns: 1.5\n", []string{`line 1: conns: "1.5" is not a whole number`}},
		{"word for a rate", "msg_rate: fast\n", []string{`line 1: msg_rate: "fast" is not a number`}},
		{"word for a flag", "binary: maybe\n", []string{`line 1: binary: "maybe" is not true or false`}},
		{"scalar for a list", "thresholds: 5\n", []string{`line 1: thresholds: "5" is not a list of strings`}},
		{"mapping for a string", "label:\n  a: b\n", []string{`line 2: label: a mapping is not a string`}},
		{"list for a number", "conns: [1, 2]\n", []string{`line 1: conns: a list is not a whole number`}},
		{"matrix value", "matrix:\n  size: [64, big]\n", []string{`line 2: matrix: size: "big" is not a whole number`}},
		{"matrix not a mapping", "matrix: 5\n", []string{`line 1: matrix: "5" is not a mapping of matrix keys`}},
		{"bad duration", "duration: tenseconds\n", []string{"line 1", "duration", "tenseconds", "10s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(strings.NewReader(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, goWord := range []string{"!!", "unmarshal", "[]string", " int", "float64", "bench."} {
				if strings.Contains(err.Error(), goWord) {
					t.Errorf("error %q names Go's or YAML's internal %q", err, goWord)
				}
			}
		})
	}
}

// TestValidKeysFollowStructTags checks that the keys Load accepts are
// exactly the yaml tags of bench.Config and bench.Matrix, so the list in
// its messages cannot drift from the config type.
func TestValidKeysFollowStructTags(t *testing.T) {
	t.Parallel()
	for _, typ := range []reflect.Type{reflect.TypeOf(bench.Config{}), reflect.TypeOf(bench.Matrix{})} {
		var want []string
		for i := range typ.NumField() {
			if tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ","); tag != "" && tag != "-" {
				want = append(want, tag)
			}
		}
		if got := keysOf(typ); !reflect.DeepEqual(got, want) {
			t.Errorf("keys of %s = %q, want %q", typ, got, want)
		}
	}
	// Every key of a shipped scenario is one of them.
	for _, name := range Shipped() {
		if _, err := Load(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

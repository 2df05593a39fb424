// Package scenarios loads scenario files, the YAML encoding of bench.Config,
// and holds the scenarios shipped with wssbench.
package scenarios

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/wssbench/wssbench/bench"
	"gopkg.in/yaml.v3"
)

//go:embed *.yaml
var shipped embed.FS

// Shipped lists the names of the scenarios that come with wssbench.
func Shipped() []string {
	entries, _ := fs.ReadDir(shipped, ".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Load reads a scenario from a file, or a shipped scenario by name (such as
// "steady-echo"). Settings the file leaves out keep bench.Default's values.
func Load(name string) (bench.Config, error) {
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		short := strings.TrimSuffix(path.Base(name), ".yaml")
		if sb, serr := shipped.ReadFile(short + ".yaml"); serr == nil && !strings.Contains(name, "/") {
			b, err = sb, nil
		}
	}
	if err != nil {
		return bench.Config{}, &bench.InputError{Err: fmt.Errorf("scenario %s: %w (shipped scenarios: %s)", name, err, strings.Join(Shipped(), ", "))}
	}
	cfg, err := Decode(bytes.NewReader(b))
	if err != nil {
		return cfg, &bench.InputError{Err: fmt.Errorf("scenario %s: %w", name, err)}
	}
	return cfg, nil
}

// Decode reads one scenario over the defaults. An unknown key or a value of
// the wrong type is an error in YAML words that names its line and key (an
// unknown key lists the valid ones). Whether the settings can work together
// is the plan's to say (bench.Config.Plan), once flags have overridden them.
func Decode(r io.Reader) (bench.Config, error) {
	cfg := bench.Default()
	var doc yaml.Node
	if err := yaml.NewDecoder(r).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return cfg, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := decodeInto(&doc, &cfg); err != nil {
		return cfg, errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return cfg, nil
}

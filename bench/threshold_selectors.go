package bench

import (
	"fmt"
	"strings"

	"github.com/wssbench/wssbench/bench/threshold"
)

// stageLabel is the name of the i-th stage (from 0) of a config: its own,
// or stage1, stage2, ... by position when it has none.
func stageLabel(stages []Stage, i int) string {
	if n := stages[i].Name; n != "" {
		return n
	}
	return fmt.Sprintf("stage%d", i+1)
}

// parseThresholds parses the config's threshold expressions and checks that
// each selector names a stage or a role the config has ([stage=peak] in a
// run without such a stage is bad input before any load, with the names it
// has).
func (c *Config) parseThresholds() ([]threshold.Threshold, error) {
	ts, err := threshold.ParseAll(c.Thresholds)
	if err != nil {
		return nil, err
	}
	stages := make([]string, len(c.Stages))
	for i := range c.Stages {
		stages[i] = stageLabel(c.Stages, i)
	}
	roles := make([]string, len(c.Roles))
	for i, r := range c.Roles {
		roles[i] = r.Name
	}
	for _, t := range ts {
		sel := t.Selector
		names, plural := stages, "stages"
		switch sel.Key {
		case "":
			continue
		case threshold.SelectRole:
			names, plural = roles, "roles"
		}
		if contains(names, sel.Value) {
			continue
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("threshold %q: the config has no %s, so [%s=%s] selects nothing; add %s: to the scenario, or leave out the selector",
				t.Expr, plural, sel.Key, sel.Value, plural)
		}
		msg := fmt.Sprintf("threshold %q: the config has no %s %q; its %s are %s", t.Expr, sel.Key, sel.Value, plural, strings.Join(names, ", "))
		if s := threshold.Nearest(sel.Value, names); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	return ts, nil
}

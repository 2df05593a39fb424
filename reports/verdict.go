package reports

import "github.com/wssbench/wssbench/bench"

// failing reports whether any reason fails the run and is not tolerated by a threshold.
func failing(reasons []bench.Reason) bool {
	for _, r := range reasons {
		if r.Kind.Fails() && r.ToleratedBy == "" {
			return true
		}
	}
	return false
}

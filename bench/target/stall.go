package target

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Stall is a window in which the server echoes nothing: it starts At after
// the first connection completed its upgrade (so it falls in the load, however
// long the driver took to start) and lasts For. A frame read in the window is
// echoed when it ends; frames behind it wait in the socket, so a client sees
// no echo for For, as from a server paused by a long GC or a full disk.
type Stall struct {
	// At is when the stall starts, since the first upgraded connection.
	At time.Duration `json:"at"`
	// For is how long it lasts.
	For time.Duration `json:"for"`
}

// ParseStall parses "FOR@AT", such as 1s@5s: stall for 1 s, 5 s after the
// first upgraded connection.
func ParseStall(v string) (Stall, error) {
	f, a, ok := strings.Cut(v, "@")
	if !ok {
		return Stall{}, fmt.Errorf("stall %q must be FOR@AT, such as 1s@5s (stall 1 s, 5 s after the first connection is up)", v)
	}
	d, err := time.ParseDuration(strings.TrimSpace(f))
	if err != nil {
		return Stall{}, fmt.Errorf("stall %q: the length before @ must be a duration such as 1s or 500ms: %w", v, err)
	}
	at, err := time.ParseDuration(strings.TrimSpace(a))
	if err != nil {
		return Stall{}, fmt.Errorf("stall %q: the start after @ must be a duration such as 5s: %w", v, err)
	}
	s := Stall{At: at, For: d}
	if err := s.Validate(); err != nil {
		return Stall{}, err
	}
	return s, nil
}

// String returns the stall as ParseStall reads it.
func (s Stall) String() string { return s.For.String() + "@" + s.At.String() }

// Validate reports a stall that cannot happen.
func (s Stall) Validate() error {
	if s.For <= 0 {
		return fmt.Errorf("stall %s: its length must be more than 0", s)
	}
	if s.At < 0 {
		return fmt.Errorf("stall %s: its start must not be negative", s)
	}
	return nil
}

// sortedStalls returns a sorted copy, so the windows can be walked in order.
func sortedStalls(in []Stall) []Stall {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b Stall) int { return int(a.At - b.At) })
	return out
}

// stallLeft returns how long the stall windows (sorted) that cover t, since
// the first upgrade, last from t on; 0 when t is in none. Windows that
// overlap or touch count as one.
func stallLeft(stalls []Stall, t time.Duration) time.Duration {
	end := t
	for _, s := range stalls {
		if s.At > end {
			break
		}
		if e := s.At + s.For; e > end {
			end = e
		}
	}
	return end - t
}

package workload

import (
	"fmt"
	"time"
)

// StagePoint is one stage's end: when it ends (from the run's start) and the
// targets the load reaches there.
type StagePoint struct {
	Name        string
	End         time.Duration
	Conns       float64
	ConnectRate float64
	MsgRate     float64
}

// Stages is a piecewise-linear load shape: from the start values at 0, each
// stage moves linearly to its targets by its end.
type Stages struct {
	// Start is the shape at 0 (no connections; the config's rates).
	Start StagePoint
	// Points are the stages' ends, in order.
	Points []StagePoint
}

// StageSpec is one stage as configured.
type StageSpec struct {
	Name        string
	Duration    time.Duration
	Conns       int
	ConnectRate float64
	MsgRate     float64
}

// NewStages checks the stages and lays them end to end. A stage that does
// not move forward in time, or has negative targets, is an error naming it.
func NewStages(connectRate, msgRate float64, specs []StageSpec) (*Stages, error) {
	s := &Stages{Start: StagePoint{ConnectRate: connectRate, MsgRate: msgRate}}
	var at time.Duration
	seen := map[string]int{}
	for i, sp := range specs {
		name := sp.Name
		if name == "" {
			name = fmt.Sprintf("stage%d", i+1)
		}
		if j, ok := seen[name]; ok {
			return nil, fmt.Errorf("stage %d: the name %q is taken by stage %d", i+1, name, j)
		}
		seen[name] = i + 1
		switch {
		case sp.Duration <= 0:
			return nil, fmt.Errorf("stage %d (%s): duration %v goes backwards or stands still in time; each stage needs a positive duration, such as 30s", i+1, name, sp.Duration)
		case sp.Conns < 0:
			return nil, fmt.Errorf("stage %d (%s): conns must not be negative (got %d)", i+1, name, sp.Conns)
		case sp.ConnectRate < 0 || sp.MsgRate < 0:
			return nil, fmt.Errorf("stage %d (%s): rates must not be negative", i+1, name)
		}
		at += sp.Duration
		s.Points = append(s.Points, StagePoint{Name: name, End: at, Conns: float64(sp.Conns), ConnectRate: sp.ConnectRate, MsgRate: sp.MsgRate})
	}
	if len(s.Points) == 0 {
		return nil, fmt.Errorf("no stages")
	}
	return s, nil
}

// Length is when the last stage ends.
func (s *Stages) Length() time.Duration { return s.Points[len(s.Points)-1].End }

// MaxConns is the most connections any stage asks for.
func (s *Stages) MaxConns() int {
	m := 0.0
	for _, p := range s.Points {
		m = max(m, p.Conns)
	}
	return int(m)
}

// At returns the shape at t: its stage (index into Points) and the linear
// targets there. Past the end it holds the last stage's targets.
func (s *Stages) At(t time.Duration) (stage int, p StagePoint) {
	prev := s.Start
	var from time.Duration
	for i, pt := range s.Points {
		if t < pt.End {
			f := float64(t-from) / float64(pt.End-from)
			f = max(0, f)
			return i, StagePoint{
				Name:        pt.Name,
				End:         pt.End,
				Conns:       prev.Conns + f*(pt.Conns-prev.Conns),
				ConnectRate: prev.ConnectRate + f*(pt.ConnectRate-prev.ConnectRate),
				MsgRate:     prev.MsgRate + f*(pt.MsgRate-prev.MsgRate),
			}
		}
		prev, from = pt, pt.End
	}
	return len(s.Points) - 1, s.Points[len(s.Points)-1]
}

// Bounds returns when stage i starts and ends.
func (s *Stages) Bounds(i int) (start, end time.Duration) {
	if i > 0 {
		start = s.Points[i-1].End
	}
	return start, s.Points[i].End
}

// Scale returns the shape with every stage's connections and connect rate
// times f: one process's share of a run split over several.
func (s *Stages) Scale(f float64) *Stages {
	out := &Stages{Start: s.Start}
	out.Start.ConnectRate *= f
	for _, p := range s.Points {
		p.Conns *= f
		p.ConnectRate *= f
		out.Points = append(out.Points, p)
	}
	return out
}

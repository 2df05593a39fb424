package bench

import (
	"fmt"
	"time"

	"github.com/wssbench/wssbench/bench/metrics"
)

// mergeWorkload merges what the parts of one run measured of its workload
// into m (whose StartedAt is already the earliest part's): roles by name,
// reach summed, stages by index, the storm's counts summed, every histogram
// added exactly. Parts that disagree where they must agree (where a reach
// count came from, a stage's rate per connection) leave a warning.
func mergeWorkload(m *Result, parts []*Result) {
	m.Roles = mergeRoles(parts)
	m.Reach = mergeReach(m, parts)
	m.Stages = mergeStages(m, parts)
	m.Storm = mergeStorm(m.StartedAt, parts)
}

// mergeRoles adds the parts' roles by name, in the order they first appear.
func mergeRoles(parts []*Result) []RoleResult {
	var out []RoleResult
	at := map[string]int{}
	for _, p := range parts {
		for _, r := range p.Roles {
			i, ok := at[r.Name]
			if !ok {
				i = len(out)
				at[r.Name] = i
				out = append(out, RoleResult{Name: r.Name, Errors: map[string]int64{}, ErrorSamples: map[string]string{},
					Latency: metrics.NewHistogram(), Delivery: metrics.NewHistogram()})
			}
			o := &out[i]
			o.Connections += r.Connections
			o.Planned += r.Planned
			o.FramesSent += r.FramesSent
			o.FramesReceived += r.FramesReceived
			for k, v := range r.Errors {
				o.Errors[k] += v
			}
			for k, v := range r.ErrorSamples {
				if _, seen := o.ErrorSamples[k]; !seen {
					o.ErrorSamples[k] = v
				}
			}
			o.Latency = addHistogram(o.Latency, r.Latency)
			o.Delivery = addHistogram(o.Delivery, r.Delivery)
		}
	}
	return out
}

// mergeReach sums the parts' reach: received and expected added, the ratio
// taken again. A reach known to some parts only, or counted from different
// sources, is left out with a warning: half a count is not the run's.
func mergeReach(m *Result, parts []*Result) *Reach {
	var out *Reach
	for _, p := range parts {
		r := p.Reach
		if r == nil {
			continue
		}
		if out == nil {
			out = &Reach{Source: r.Source}
		}
		if r.Source != out.Source {
			m.Warnings = appendNew(m.Warnings, fmt.Sprintf("reach left out of the merged run: its parts counted what was owed from different sources (%s and %s)", out.Source, r.Source))
			return nil
		}
		out.Received += r.Received
		out.Expected += r.Expected
	}
	if out == nil {
		return nil
	}
	for _, p := range parts {
		if p.Reach == nil {
			m.Warnings = appendNew(m.Warnings, "reach left out of the merged run: some of its parts have no reach figure")
			return nil
		}
	}
	if out.Expected > 0 {
		out.Ratio = float64(out.Received) / float64(out.Expected)
	}
	return out
}

// mergeStages adds the parts' stages by index: counts and histograms
// added, the window from the earliest start to the latest end. Each part
// holds its share of a stage's connections and connect rate (the driver
// processes of a split run and the shards of one alike), so those are summed
// too; the frame rate is per connection and must agree.
func mergeStages(m *Result, parts []*Result) []StageResult {
	var out []StageResult
	for _, p := range parts {
		off := p.StartedAt.Sub(m.StartedAt)
		for _, s := range p.Stages {
			i := s.Index - 1
			if i < 0 {
				continue
			}
			for len(out) <= i {
				out = append(out, StageResult{Index: len(out) + 1})
			}
			o := &out[i]
			start, end := s.Start+off, s.End+off
			if o.Name == "" {
				o.Name, o.Start, o.End, o.MsgRate = s.Name, start, end, s.MsgRate
			} else {
				o.Start, o.End = min(o.Start, start), max(o.End, end)
				if s.MsgRate != o.MsgRate {
					m.Warnings = appendNew(m.Warnings, fmt.Sprintf("stage %s: the parts of the run had different frame rates (%g and %g per connection); the first is reported", o.Name, o.MsgRate, s.MsgRate))
				}
			}
			o.Conns += s.Conns
			o.ConnectRate += s.ConnectRate
			o.OpenAtEnd += s.OpenAtEnd
			o.Established += s.Established
			o.Closed += s.Closed
			o.FramesSent += s.FramesSent
			o.FramesReceived += s.FramesReceived
			o.Errors += s.Errors
			for k, h := range s.Histograms {
				o.Histograms[k] = addHistogram(o.Histograms[k], h)
			}
		}
	}
	return out
}

// mergeStorm sums the parts' storms: drops, reconnects and failures added,
// the drop at the earliest part's, back to full strength when the slowest
// part was (and recovered only if every part did), the handshakes added.
func mergeStorm(start time.Time, parts []*Result) *StormResult {
	var out *StormResult
	for _, p := range parts {
		s := p.Storm
		if s == nil {
			continue
		}
		at := p.StartedAt.Add(s.At).Sub(start)
		if out == nil {
			out = &StormResult{At: at, Recovered: true, TLSHandshake: metrics.NewHistogram(), ConnectTotal: metrics.NewHistogram()}
		}
		out.At = min(out.At, at)
		out.Dropped += s.Dropped
		out.Reconnected += s.Reconnected
		out.Failed += s.Failed
		out.Recovered = out.Recovered && s.Recovered
		out.BackToFull = max(out.BackToFull, s.BackToFull)
		out.TargetRestarted = out.TargetRestarted || s.TargetRestarted
		out.TLSHandshake = addHistogram(out.TLSHandshake, s.TLSHandshake)
		out.ConnectTotal = addHistogram(out.ConnectTotal, s.ConnectTotal)
	}
	return out
}

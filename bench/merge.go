package bench

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/metrics"
)

// mergeParts merges the results of the parts of one run (the driver
// processes of a run split over processes, or the shards of a run split over
// machines) into one, exactly: histograms added (never percentiles
// averaged), counters summed, timeline points and interval histograms
// aligned by interval, CPU and memory summed, each part's processes listed,
// and the workload's roles, reach, stages and storm (mergeWorkload).
// Its health is left to mergedHealth; its verdict is derived from it as from
// any run.
func mergeParts(cell *Cell, parts []*Result) *Result {
	first := parts[0]
	m := &Result{Config: cell.Config, Cell: cell, Repetition: first.Repetition, Topology: first.Topology,
		TargetURL: first.TargetURL, BuiltinTarget: first.BuiltinTarget, TargetInProcess: first.TargetInProcess,
		StartedAt: first.StartedAt, Layout: first.Layout}
	end := first.StartedAt.Add(first.Elapsed)
	st := &driver.Stats{Errors: map[string]int64{}, ErrorSamples: map[string]string{},
		TLSVersions: map[string]int64{}, CipherSuites: map[string]int64{}, Groups: map[string]int64{}, ALPN: map[string]int64{}}
	m.Stats = st
	var marks [][]driver.PhaseMark
	crosschecked := true
	var counts TargetCounts
	roles := map[string]int{}
	for _, p := range parts {
		if p.StartedAt.Before(m.StartedAt) {
			m.StartedAt = p.StartedAt
		}
		if e := p.StartedAt.Add(p.Elapsed); e.After(end) {
			end = e
		}
		addStats(st, p.Stats)
		marks = append(marks, p.Stats.Phases)
		for i, h := range p.Histograms {
			m.Histograms[i] = addHistogram(m.Histograms[i], h)
		}
		m.Clipped += p.Clipped
		addCPU(&m.CPU, p.CPU)
		addMemory(&m.Memory, p.Memory)
		m.Warnings = appendNew(m.Warnings, p.Warnings...)
		m.ChildFailures = append(m.ChildFailures, p.ChildFailures...)
		if cc := p.Crosscheck; cc != nil {
			counts.Upgraded += cc.TargetConnections
			if cc.TargetFramesIn == cc.TargetFrames {
				counts.FramesEchoed += cc.TargetFrames
			} else {
				// Rooms or pushes: what the target wrote is not what it took in.
				counts.DeliveriesWritten += cc.TargetFrames
				counts.FramesReceived += cc.TargetFramesIn
			}
		} else {
			crosschecked = false
		}
		for _, pr := range p.Processes {
			roles[pr.Role]++
			pr.Index = roles[pr.Role]
			m.Processes = append(m.Processes, pr)
		}
	}
	m.Elapsed = end.Sub(m.StartedAt)
	st.Phases = mergeMarks(marks)
	m.Timeline, m.Intervals = mergeIntervals(m.StartedAt, parts)
	if crosschecked && len(parts) > 0 && first.Crosscheck != nil {
		m.Crosscheck = crosscheck(m, st.Primed, counts)
	}
	mergeWorkload(m, parts)
	return m
}

func addStats(dst, src *driver.Stats) {
	dst.FramesDelivered += src.FramesDelivered
	dst.FramesPublished += src.FramesPublished
	dst.Attempted += src.Attempted
	dst.Established += src.Established
	dst.Failed += src.Failed
	dst.ClientCertRequested += src.ClientCertRequested
	dst.Resumed += src.Resumed
	dst.HelloRetry += src.HelloRetry
	dst.Handshakes += src.Handshakes
	dst.HandshakeBytesOut += src.HandshakeBytesOut
	dst.HandshakeBytesIn += src.HandshakeBytesIn
	dst.FramesSent += src.FramesSent
	dst.FramesReceived += src.FramesReceived
	dst.FramesLost += src.FramesLost
	dst.ClosedClean += src.ClosedClean
	// The sum of each part's peak: the parts hold their connections at once
	// (a barrier starts their windows together), so this is the run's peak.
	dst.PeakConcurrent += src.PeakConcurrent
	dst.Primed += src.Primed
	dst.Interrupted = dst.Interrupted || src.Interrupted
	for _, pair := range []struct{ to, from map[string]int64 }{
		{dst.Errors, src.Errors}, {dst.TLSVersions, src.TLSVersions}, {dst.CipherSuites, src.CipherSuites},
		{dst.Groups, src.Groups}, {dst.ALPN, src.ALPN},
	} {
		for k, v := range pair.from {
			pair.to[k] += v
		}
	}
	for k, v := range src.ErrorSamples {
		if _, ok := dst.ErrorSamples[k]; !ok {
			dst.ErrorSamples[k] = v
		}
	}
}

// addHistogram returns sum + h, copying so that no part's histogram is changed.
func addHistogram(sum, h *hdr.Histogram) *hdr.Histogram {
	if h == nil {
		return sum
	}
	if sum == nil {
		sum = metrics.NewHistogram()
	}
	sum.Merge(h)
	return sum
}

func addCPU(dst *CPU, src CPU) {
	dst.Driver += src.Driver
	dst.Target += src.Target
	dst.Proxy += src.Proxy
	for i, p := range []*PhaseCPU{&dst.DriverByPhase, &dst.TargetByPhase, &dst.ProxyByPhase} {
		q := [...]PhaseCPU{src.DriverByPhase, src.TargetByPhase, src.ProxyByPhase}[i]
		p.Connect += q.Connect
		p.Steady += q.Steady
		p.Close += q.Close
	}
}

func addMemory(dst *Memory, src Memory) {
	dst.DriverBaselineRSS += src.DriverBaselineRSS
	dst.DriverPeakRSS += src.DriverPeakRSS
	dst.TargetPeakRSS += src.TargetPeakRSS
	dst.ProxyBaselineRSS += src.ProxyBaselineRSS
	dst.ProxyPeakRSS += src.ProxyPeakRSS
	dst.DriverHeapInUse += src.DriverHeapInUse
	dst.DriverStackInUse += src.DriverStackInUse
}

// mergeMarks are the merged run's phases: it connects from the first part's
// start, is steady once the last part is, closes when the last part does
// (each part's window is the same length) and is done when the last part is.
func mergeMarks(parts [][]driver.PhaseMark) []driver.PhaseMark {
	at := map[string]time.Time{}
	for _, ms := range parts {
		for _, mk := range ms {
			t, ok := at[mk.Name]
			if !ok || (mk.Name == driver.PhaseConnect && mk.At.Before(t)) || (mk.Name != driver.PhaseConnect && mk.At.After(t)) {
				at[mk.Name] = mk.At
			}
		}
	}
	var out []driver.PhaseMark
	for _, name := range []string{driver.PhaseConnect, driver.PhaseSteady, driver.PhaseClose, driver.PhaseDone} {
		if t, ok := at[name]; ok {
			out = append(out, driver.PhaseMark{Name: name, At: t})
		}
	}
	return out
}

// mergeIntervals aligns the parts' intervals by their index (the parts
// start together and collect on the same period): the i-th interval of the
// merged run adds every part's i-th interval histograms, and its timeline
// point sums their counters, with percentiles from the added histograms. A
// part with fewer intervals keeps its last cumulative counts.
func mergeIntervals(start time.Time, parts []*Result) ([]TimelinePoint, []Interval) {
	n := 0
	for _, p := range parts {
		n = max(n, len(p.Intervals), len(p.Timeline))
	}
	var points []TimelinePoint
	var ivs []Interval
	for i := range n {
		var pt TimelinePoint
		var hs [metrics.NumMetrics]*hdr.Histogram
		var iv Interval
		for _, p := range parts {
			if len(p.Timeline) > 0 {
				tp := p.Timeline[min(i, len(p.Timeline)-1)]
				pt.Established += tp.Established
				pt.Open += tp.Open
				if i < len(p.Timeline) {
					pt.FramesPerSec += tp.FramesPerSec
					pt.Errors += tp.Errors
					pt.At = max(pt.At, p.StartedAt.Add(tp.At).Sub(start))
				}
			}
			if i >= len(p.Intervals) {
				continue
			}
			piv := p.Intervals[i]
			if iv.Start.IsZero() || piv.Start.Before(iv.Start) {
				iv.Start = piv.Start
			}
			if piv.End.After(iv.End) {
				iv.End = piv.End
			}
			for m, b := range piv.H {
				if b == nil {
					continue
				}
				// An interval that does not decode was encoded by this
				// program; leave it out rather than fail the merge.
				if h, err := hdr.Decode(b); err == nil {
					hs[m] = addHistogram(hs[m], h)
				}
			}
		}
		pt.ConnectTotalP50, pt.ConnectTotalP99 = p50p99(hs[metrics.ConnectTotal])
		pt.TLSHandshakeP50, pt.TLSHandshakeP99 = p50p99(hs[metrics.TLSHandshake])
		pt.RTTP50, pt.RTTP99 = p50p99(hs[metrics.RTT])
		points = append(points, pt)
		ivs = append(ivs, encodeInterval(metrics.Interval{Start: iv.Start, End: iv.End, H: hs}))
	}
	return points, ivs
}

// mergedHealth judges a merged run: its send lag from the added histogram,
// the CPU of all its driver processes against cores, and each part's own
// saturation named by the part.
func mergedHealth(res *Result, parts []*Result, names []string, cores int) Health {
	h := Health{Cores: cores}
	for i, p := range parts {
		h.GCCycles += p.Health.GCCycles
		h.GCPause += p.Health.GCPause
		if h.GOGC == "" {
			h.GOGC = p.Health.GOGC
		}
		for _, r := range p.Health.Reasons {
			h.Saturated = true
			h.Reasons = append(h.Reasons, reasonf(r.Kind, "%s: %s", names[i], r.Text))
		}
	}
	judge(&h, res)
	return h
}

// MergeShards merges the results of the shards of one run split over
// machines (wssbench run --shard I/N), as the parent of a run split over
// processes merges its driver processes. It first checks that they are the
// shards of one run: each a shard, of the same count and config, each index
// once and none missing, told the same start time, their load windows
// overlapping. names name the results in messages (their files). Every
// error is an *InputError.
func MergeShards(shards []*Result, names []string) (*Result, error) {
	if len(shards) == 0 {
		return nil, inputErr("no shard reports to merge")
	}
	byIndex := map[int]int{}
	first := shards[0]
	for i, r := range shards {
		sh := r.Shard
		switch {
		case r.NotRun != "":
			return nil, inputErr("%s: the shard did not run (%s)", names[i], r.NotRun)
		case sh == nil:
			return nil, inputErr("%s is not a shard report: it was written without --shard", names[i])
		case first.Shard == nil || sh.Count != first.Shard.Count:
			return nil, inputErr("%s is shard %d of %d, but %s is of %d: not shards of one run", names[i], sh.Index, sh.Count, names[0], first.Shard.Count)
		}
		if j, dup := byIndex[sh.Index]; dup {
			return nil, inputErr("%s and %s are both shard %d of %d: give each shard once", names[j], names[i], sh.Index, sh.Count)
		}
		byIndex[sh.Index] = i
		if diff := configDiff(first.Config, r.Config); diff != "" {
			return nil, inputErr("%s ran another config than %s (%s differ): not shards of one run", names[i], names[0], diff)
		}
		if !sh.StartAt.Equal(first.Shard.StartAt) {
			return nil, inputErr("%s was told to start at %s, %s at %s: not shards of one run (give every shard the same --start-at)",
				names[i], stamp(sh.StartAt), names[0], stamp(first.Shard.StartAt))
		}
		if r.Repetition != first.Repetition || cellName(r) != cellName(first) {
			return nil, inputErr("%s is run %q #%d, %s is %q #%d: merge the same run of each shard", names[i], cellName(r), r.Repetition, names[0], cellName(first), first.Repetition)
		}
	}
	var missing []string
	for i := 1; i <= first.Shard.Count; i++ {
		if _, ok := byIndex[i]; !ok {
			missing = append(missing, fmt.Sprint(i))
		}
	}
	if len(missing) > 0 {
		return nil, inputErr("shard(s) %s of %d missing: merge needs every shard's report (got %d)", strings.Join(missing, ", "), first.Shard.Count, len(shards))
	}
	if err := checkOverlap(shards, names); err != nil {
		return nil, err
	}
	order := slices.Sorted(maps.Keys(byIndex))
	sorted := make([]*Result, len(order))
	sortedNames := make([]string, len(order))
	cores := 0
	for k, idx := range order {
		sorted[k], sortedNames[k] = shards[byIndex[idx]], fmt.Sprintf("shard %d of %d", idx, first.Shard.Count)
		cores += max(1, sorted[k].Health.Cores)
	}
	for k, r := range sorted {
		for j := range r.Processes {
			r.Processes[j].Shard = order[k]
		}
	}
	cell := first.Cell
	m := mergeParts(cell, sorted)
	m.Layout = Layout{Conns: first.Config.Conns}
	for _, r := range sorted {
		m.Layout.Drivers += r.Layout.Drivers
		m.Layout.Targets += r.Layout.Targets
	}
	m.Health = mergedHealth(m, sorted, sortedNames, cores)
	sm := &ShardsMerged{Count: first.Shard.Count}
	var lo, hi time.Time
	for _, r := range sorted {
		sm.Shards = append(sm.Shards, *r.Shard)
		t := r.Shard.StartedAt
		if lo.IsZero() || t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	sm.StartSkew = hi.Sub(lo)
	m.Shards = sm
	return m, nil
}

func cellName(r *Result) string {
	if r.Cell == nil {
		return ""
	}
	return r.Cell.Name
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "once (no --start-at)"
	}
	return t.Format(time.RFC3339Nano)
}

// checkOverlap refuses shards whose load windows (connect to done) do not
// all overlap: they did not run at the same time.
func checkOverlap(shards []*Result, names []string) error {
	type window struct {
		from, to time.Time
		i        int
	}
	var ws []window
	for i, r := range shards {
		var w window
		w.i = i
		for _, mk := range r.Stats.Phases {
			switch mk.Name {
			case driver.PhaseConnect:
				w.from = mk.At
			case driver.PhaseDone:
				w.to = mk.At
			}
		}
		if w.from.IsZero() || w.to.IsZero() {
			return inputErr("%s has no load window (its phase marks are missing): a truncated or hand-made report?", names[i])
		}
		ws = append(ws, w)
	}
	sort.Slice(ws, func(a, b int) bool { return ws[a].from.Before(ws[b].from) })
	last := ws[len(ws)-1]
	for _, w := range ws {
		if !w.to.After(last.from) {
			return inputErr("%s ran %s to %s and %s began at %s: their loads did not overlap, so they are not shards of one run (start them with one --start-at)",
				names[w.i], stamp(w.from), stamp(w.to), names[last.i], stamp(last.from))
		}
	}
	return nil
}

// configDiff names the config keys in which a and b differ ("" when none).
func configDiff(a, b Config) string {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	if errA != nil || errB != nil {
		return "the configs"
	}
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal(ja, &ma) != nil || json.Unmarshal(jb, &mb) != nil {
		return "the configs"
	}
	var keys []string
	for k := range ma {
		if string(ma[k]) != string(mb[k]) {
			keys = append(keys, k)
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

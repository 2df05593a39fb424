package reports

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/metrics"
)

// Role is one role's figures (bench.Config.Roles), keyed by its name in
// Report.Roles.
type Role struct {
	// Connections counts the role's connections established; Planned how
	// many of the run's connections it was given.
	Connections int64      `json:"connections"`
	Planned     int64      `json:"planned"`
	Frames      RoleFrames `json:"frames"`
	// Errors counts the role's failures by class; ErrorSamples keeps the
	// first message of each (for an expect miss, what came instead).
	Errors       map[string]int64  `json:"errors"`
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
	// Latency is request-to-answer latency (echo or reply) from the
	// scheduled send time; Delivery the one-way latency of the stamped
	// frames the role received.
	Latency  H `json:"latency"`
	Delivery H `json:"delivery"`
	// Histograms are Latency and Delivery in full ("latency", "delivery"),
	// encoded as the run's histograms, so reports of a run's parts merge.
	Histograms map[string]string `json:"histograms,omitempty"`
}

// RoleFrames counts the data frames a role's connections sent and received.
type RoleFrames struct {
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
}

// ReachDetail is what the reach figure is made of.
type ReachDetail struct {
	// Received counts stamped frames the driver received; Expected those the
	// server owed; Source says where Expected comes from: "target" (the
	// built-in target's own count) or "fanout" (frames published times the
	// configured fan-out).
	Received int64  `json:"received"`
	Expected int64  `json:"expected"`
	Source   string `json:"source"`
}

// Stage is one stage of a staged run (bench.Config.Stages).
type Stage struct {
	// Name is the stage's name (stage1, stage2, ... unless configured);
	// Index counts from 1.
	Name  string `json:"name"`
	Index int    `json:"index"`
	// StartS and EndS bound the stage, in seconds from the run's start.
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
	// Conns, ConnectRate and MsgRate are the targets reached at the stage's end.
	Conns       int     `json:"conns"`
	ConnectRate float64 `json:"connect_rate"`
	MsgRate     float64 `json:"msg_rate"`
	// OpenAtEnd is connections open at its end; the others count what
	// happened during it.
	OpenAtEnd      int64 `json:"open_at_end"`
	Established    int64 `json:"established"`
	Closed         int64 `json:"closed"`
	FramesSent     int64 `json:"frames_sent"`
	FramesReceived int64 `json:"frames_received"`
	Errors         int64 `json:"errors"`
	// FramesPerS is frames received per second of the stage.
	FramesPerS   float64 `json:"frames_per_s"`
	TLSHandshake H       `json:"tls_handshake"`
	ConnectTotal H       `json:"connect_total"`
	RTT          H       `json:"ws_rtt"`
	Delivery     H       `json:"delivery"`
	// Histograms are the stage's non-empty histograms by metric name, in
	// full, encoded as the run's histograms.
	Histograms map[string]string `json:"histograms,omitempty"`
}

// Storm is what a reconnect storm did (bench.Config.Storm).
type Storm struct {
	// AtS is when the connections were dropped, in seconds from the run's start.
	AtS float64 `json:"at_s"`
	// Dropped counts the connections cut; Reconnected those that came
	// back; Failed the reconnect attempts that failed.
	Dropped     int64 `json:"dropped"`
	Reconnected int64 `json:"reconnected"`
	Failed      int64 `json:"failed"`
	// Recovered is set when the run got back to full strength, BackToFullS
	// seconds after the drop.
	Recovered   bool    `json:"recovered"`
	BackToFullS float64 `json:"back_to_full_s"`
	// TargetRestarted is set when the storm restarted the built-in target.
	TargetRestarted bool `json:"target_restarted"`
	// TLSHandshake and ConnectTotal are the reconnecting connections'.
	TLSHandshake H `json:"tls_handshake"`
	ConnectTotal H `json:"connect_total"`
	// Histograms are those two in full ("tls_handshake", "connect_total").
	Histograms map[string]string `json:"histograms,omitempty"`
}

// Names of the histograms a role and a storm keep in full.
const (
	roleLatency  = "latency"
	roleDelivery = "delivery"
)

// encodeNamed encodes the histograms by name, leaving out nil and empty ones.
func encodeNamed(hs map[string]*hdr.Histogram) map[string]string {
	out := map[string]string{}
	for name, h := range hs {
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		// Encode fails only on an unknown version; leave the histogram out.
		if b, err := h.Encode(hdr.V2CompressedEncodingCookieBase); err == nil {
			out[name] = string(b)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// decodeNamed decodes the histogram called name of hs; an empty one when
// absent. where names hs in the error.
func decodeNamed(hs map[string]string, name, where string) (*hdr.Histogram, error) {
	enc, ok := hs[name]
	if !ok || enc == "" {
		return metrics.NewHistogram(), nil
	}
	h, err := hdr.Decode([]byte(enc))
	if err != nil {
		return nil, fmt.Errorf("%s.histograms.%s: %w", where, name, err)
	}
	return h, nil
}

// workloadOf fills in the run's roles, reach, stages, storm and delivery.
func workloadOf(r *Report, res *bench.Result) {
	if h := res.Histograms[metrics.Delivery]; h != nil && h.TotalCount() > 0 {
		d := summarize(h)
		r.Frames.Delivery = &d
	}
	for _, ro := range res.Roles {
		if r.Roles == nil {
			r.Roles = map[string]Role{}
		}
		r.Roles[ro.Name] = Role{Connections: ro.Connections, Planned: ro.Planned,
			Frames: RoleFrames{Sent: ro.FramesSent, Received: ro.FramesReceived},
			Errors: nonNil(ro.Errors), ErrorSamples: ro.ErrorSamples,
			Latency: summarize(ro.Latency), Delivery: summarize(ro.Delivery),
			Histograms: encodeNamed(map[string]*hdr.Histogram{roleLatency: ro.Latency, roleDelivery: ro.Delivery})}
	}
	if rc := res.Reach; rc != nil {
		ratio := rc.Ratio
		r.Reach = &ratio
		r.ReachDetail = &ReachDetail{Received: rc.Received, Expected: rc.Expected, Source: rc.Source}
	}
	for _, s := range res.Stages {
		st := Stage{Name: s.Name, Index: s.Index, StartS: s.Start.Seconds(), EndS: s.End.Seconds(),
			Conns: s.Conns, ConnectRate: s.ConnectRate, MsgRate: s.MsgRate, OpenAtEnd: s.OpenAtEnd,
			Established: s.Established, Closed: s.Closed, FramesSent: s.FramesSent, FramesReceived: s.FramesReceived, Errors: s.Errors,
			TLSHandshake: summarize(s.Histograms[metrics.TLSHandshake]), ConnectTotal: summarize(s.Histograms[metrics.ConnectTotal]),
			RTT: summarize(s.Histograms[metrics.RTT]), Delivery: summarize(s.Histograms[metrics.Delivery])}
		if d := (s.End - s.Start).Seconds(); d > 0 {
			st.FramesPerS = float64(s.FramesReceived) / d
		}
		byName := map[string]*hdr.Histogram{}
		for m, h := range s.Histograms {
			byName[metrics.Metric(m).Name()] = h
		}
		st.Histograms = encodeNamed(byName)
		r.Stages = append(r.Stages, st)
	}
	if s := res.Storm; s != nil {
		r.Storm = &Storm{AtS: s.At.Seconds(), Dropped: s.Dropped, Reconnected: s.Reconnected, Failed: s.Failed,
			Recovered: s.Recovered, BackToFullS: s.BackToFull.Seconds(), TargetRestarted: s.TargetRestarted,
			TLSHandshake: summarize(s.TLSHandshake), ConnectTotal: summarize(s.ConnectTotal),
			Histograms: encodeNamed(map[string]*hdr.Histogram{"tls_handshake": s.TLSHandshake, "connect_total": s.ConnectTotal})}
	}
}

func nonNil[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

// RoleNames are the report's roles in the config's order, then any the
// config does not name, sorted.
func (r *Report) RoleNames() []string {
	var out []string
	for _, ro := range r.Config.Roles {
		if _, ok := r.Roles[ro.Name]; ok && !slices.Contains(out, ro.Name) {
			out = append(out, ro.Name)
		}
	}
	for _, name := range sortedKeys(r.Roles) {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// checkWorkloadHistograms decodes every role, stage and storm histogram,
// so a report whose histograms are damaged is refused when read.
func (r *Report) checkWorkloadHistograms() error {
	_, err := workloadBack(r)
	return err
}

// workloadBack turns the report's roles, reach, stages and storm back into
// what the run measured (Report.Result).
func workloadBack(r *Report) (*bench.Result, error) {
	res := &bench.Result{}
	for _, name := range r.RoleNames() {
		ro := r.Roles[name]
		where := "roles." + name
		lat, err := decodeNamed(ro.Histograms, roleLatency, where)
		if err != nil {
			return nil, err
		}
		del, err := decodeNamed(ro.Histograms, roleDelivery, where)
		if err != nil {
			return nil, err
		}
		res.Roles = append(res.Roles, bench.RoleResult{Name: name, Connections: ro.Connections, Planned: ro.Planned,
			FramesSent: ro.Frames.Sent, FramesReceived: ro.Frames.Received,
			Errors: maps.Clone(nonNil(ro.Errors)), ErrorSamples: maps.Clone(nonNil(ro.ErrorSamples)), Latency: lat, Delivery: del})
	}
	if d := r.ReachDetail; d != nil {
		rc := &bench.Reach{Received: d.Received, Expected: d.Expected, Source: d.Source}
		if r.Reach != nil {
			rc.Ratio = *r.Reach
		} else if d.Expected > 0 {
			rc.Ratio = float64(d.Received) / float64(d.Expected)
		}
		res.Reach = rc
	}
	for i, s := range r.Stages {
		bs := bench.StageResult{Name: s.Name, Index: s.Index, Start: seconds(s.StartS), End: seconds(s.EndS),
			Conns: s.Conns, ConnectRate: s.ConnectRate, MsgRate: s.MsgRate, OpenAtEnd: s.OpenAtEnd, Established: s.Established,
			Closed: s.Closed, FramesSent: s.FramesSent, FramesReceived: s.FramesReceived, Errors: s.Errors}
		for name := range s.Histograms {
			m, ok := metrics.ByName(name)
			if !ok {
				return nil, fmt.Errorf("stages[%d].histograms: unknown metric %q", i, name)
			}
			h, err := decodeNamed(s.Histograms, name, fmt.Sprintf("stages[%d]", i))
			if err != nil {
				return nil, err
			}
			bs.Histograms[m] = h
		}
		res.Stages = append(res.Stages, bs)
	}
	if s := r.Storm; s != nil {
		tls, err := decodeNamed(s.Histograms, "tls_handshake", "storm")
		if err != nil {
			return nil, err
		}
		ct, err := decodeNamed(s.Histograms, "connect_total", "storm")
		if err != nil {
			return nil, err
		}
		res.Storm = &bench.StormResult{At: seconds(s.AtS), Dropped: s.Dropped, Reconnected: s.Reconnected, Failed: s.Failed,
			Recovered: s.Recovered, BackToFull: seconds(s.BackToFullS), TargetRestarted: s.TargetRestarted,
			TLSHandshake: tls, ConnectTotal: ct}
	}
	return res, nil
}

// seconds is a duration written as seconds, to the nanosecond.
func seconds(v float64) time.Duration { return time.Duration(math.Round(v * float64(time.Second))) }

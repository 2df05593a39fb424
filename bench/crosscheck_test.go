package bench

import (
	"strings"
	"testing"

	"github.com/wssbench/wssbench/bench/driver"
)

// TestCrosscheck: the target's counts must account for the driver's, and a
// difference fails the verdict with both figures. Counts that disagree are a
// fault no healthy peer produces, so they are given here.
func TestCrosscheck(t *testing.T) {
	t.Parallel()
	st := &driver.Stats{Established: 10, FramesSent: 100, FramesReceived: 98, FramesLost: 2, Primed: 1}
	tests := []struct {
		name string
		tc   TargetCounts
		want string
	}{
		{"agree", TargetCounts{Upgraded: 11, FramesEchoed: 100}, ""},
		{"echoed but lost on the way back", TargetCounts{Upgraded: 11, FramesEchoed: 99}, ""},
		{"a connection the driver did not make", TargetCounts{Upgraded: 12, FramesEchoed: 100}, "the driver upgraded 11 connections, the target 12"},
		{"echoes the target never sent", TargetCounts{Upgraded: 11, FramesEchoed: 90}, "received 99 echoes, but the target echoed only 90"},
		{"more echoes than frames", TargetCounts{Upgraded: 11, FramesEchoed: 150}, "echoed 150 frames, more than the 101"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := &Result{Stats: st}
			r.Crosscheck = crosscheck(r, st.Primed, tc.tc)
			if r.Crosscheck.OK != (tc.want == "") || !strings.Contains(r.Crosscheck.Why, tc.want) {
				t.Fatalf("crosscheck %+v, want %q", r.Crosscheck, tc.want)
			}
			var found bool
			for _, why := range r.Reasons() {
				found = found || why.Kind == ReasonCrosscheck
			}
			if found != (tc.want != "") {
				t.Fatalf("reasons %+v", r.Reasons())
			}
		})
	}
}

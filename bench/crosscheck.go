package bench

import (
	"fmt"

	"github.com/wssbench/wssbench/bench/env"
)

// Crosscheck sets what the built-in target counted beside what the driver
// counted, so a driver that miscounts (or a proxy that drops frames
// silently) shows up.
type Crosscheck struct {
	// OK is set when the counts agree.
	OK bool
	// DriverConnections are connections the driver upgraded (the resumption
	// priming connection included); TargetConnections those the target upgraded.
	DriverConnections, TargetConnections int64
	// DriverFramesSent and DriverFramesReceived are data frames the driver
	// sent and received (priming included); TargetFrames those the target
	// wrote (echoes, room deliveries, pushes) and TargetFramesIn those it
	// took in (echoed, or received for its rooms).
	DriverFramesSent, DriverFramesReceived, TargetFrames, TargetFramesIn int64
	// Why says what disagrees, when not OK.
	Why string
}

// TargetCounts are what the built-in target counted over its life.
type TargetCounts env.TargetCounts

// crosscheck compares the target's counts with the driver's: every upgraded
// connection must be the driver's; the target must have written (echoes,
// room deliveries, pushes) at least what the driver received, and taken in
// (echoed, or received for its rooms) at most what the driver sent.
func crosscheck(r *Result, primed int64, tc TargetCounts) *Crosscheck {
	st := r.Stats
	wrote := tc.FramesEchoed + tc.DeliveriesWritten + tc.PushWritten
	in := tc.FramesEchoed + tc.FramesReceived
	c := &Crosscheck{DriverConnections: st.Established + primed, TargetConnections: tc.Upgraded,
		DriverFramesSent: st.FramesSent + primed, DriverFramesReceived: st.FramesReceived + primed, TargetFrames: wrote, TargetFramesIn: in}
	echo := tc.DeliveriesWritten == 0 && tc.PushWritten == 0 && tc.FramesReceived == 0
	switch {
	case c.DriverConnections != c.TargetConnections:
		c.Why = fmt.Sprintf("crosscheck: the driver upgraded %d connections, the target %d", c.DriverConnections, c.TargetConnections)
	case echo && c.TargetFrames < c.DriverFramesReceived:
		c.Why = fmt.Sprintf("crosscheck: the driver received %d echoes, but the target echoed only %d frames", c.DriverFramesReceived, c.TargetFrames)
	case echo && c.TargetFrames > c.DriverFramesSent:
		c.Why = fmt.Sprintf("crosscheck: the target echoed %d frames, more than the %d the driver sent", c.TargetFrames, c.DriverFramesSent)
	case !echo && c.TargetFrames < c.DriverFramesReceived:
		c.Why = fmt.Sprintf("crosscheck: the driver received %d frames, but the target wrote only %d (%d echoes, %d room deliveries, %d pushes)",
			c.DriverFramesReceived, wrote, tc.FramesEchoed, tc.DeliveriesWritten, tc.PushWritten)
	case !echo && in > c.DriverFramesSent:
		c.Why = fmt.Sprintf("crosscheck: the target took in %d frames, more than the %d the driver sent", in, c.DriverFramesSent)
	default:
		c.OK = true
	}
	return c
}

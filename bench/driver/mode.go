package driver

// Mode is what each connection does once it is up.
type Mode string

// The driver's modes.
const (
	// ModeSteady ramps all connections up, then exchanges echo frames for Duration.
	ModeSteady Mode = "steady"
	// ModeStorm repeats connect, one echo, close on Conns workers for Duration.
	ModeStorm Mode = "handshake-storm"
	// ModeHold ramps all connections up and holds them idle for Duration.
	ModeHold Mode = "connect-hold"
)

// modeTraits is the one table of what each mode does; everything that
// depends on the mode asks its methods, so a new mode is a row here, its
// connection loop, and its name in the docs.
var modeTraits = []struct {
	mode Mode
	// frames: connections send echo frames; holds: every connection is up
	// at once, and a steady phase follows the ramp (else connections churn).
	frames, holds bool
}{
	{ModeSteady, true, true},
	{ModeStorm, true, false},
	{ModeHold, false, true},
}

func (m Mode) traits() (frames, holds, ok bool) {
	for _, t := range modeTraits {
		if t.mode == m {
			return t.frames, t.holds, true
		}
	}
	return false, false, false
}

// ModeNames lists the valid modes.
func ModeNames() []string {
	out := make([]string, len(modeTraits))
	for i, t := range modeTraits {
		out[i] = string(t.mode)
	}
	return out
}

// String is the mode's name as written in a config.
func (m Mode) String() string { return string(m) }

// Valid reports whether m is a known mode.
func (m Mode) Valid() bool { _, _, ok := m.traits(); return ok }

// SendsFrames reports whether connections exchange echo frames.
func (m Mode) SendsFrames() bool { f, _, _ := m.traits(); return f }

// HoldsAll reports whether every connection is up at once, with a steady
// phase after the ramp; false for a mode whose connections churn (the storm),
// where the whole run is the connect phase.
func (m Mode) HoldsAll() bool { _, h, _ := m.traits(); return h }

// Streams reports whether the mode has a steady frame window: frames sent
// between the ramp and the close, so CPU per frame and send lag apply.
func (m Mode) Streams() bool { f, h, _ := m.traits(); return f && h }

// The phases of a run, as marked in Stats.Phases and passed to
// Config.OnPhase, in order. A storm has no steady phase: its connect phase is
// the whole run.
const (
	PhaseConnect = "connect"
	PhaseSteady  = "steady"
	PhaseClose   = "close"
	PhaseDone    = "done"
)

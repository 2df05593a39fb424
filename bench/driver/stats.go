package driver

import (
	"cmp"
	"crypto/tls"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wssbench/wssbench/bench/tlsconf"
)

// Stats is what a run counted. Latencies live in the metrics.Recorder.
type Stats struct {
	// Attempted, Established and Failed count connection attempts.
	Attempted, Established, Failed int64
	// Errors counts failures by class; ErrorSamples keeps the first message of each class.
	Errors       map[string]int64
	ErrorSamples map[string]string
	// TLSVersions, CipherSuites, Groups and ALPN count what each handshake
	// negotiated (ALPN "none" when no protocol was agreed).
	TLSVersions, CipherSuites, Groups, ALPN map[string]int64
	// ClientCertRequested counts handshakes in which the server asked for the
	// client certificate (a resumed handshake does not ask).
	ClientCertRequested int64
	// Resumed and HelloRetry count resumed handshakes and HelloRetryRequests.
	Resumed, HelloRetry int64
	// Handshakes counts completed TLS handshakes; HandshakeBytesOut/In sum their wire bytes.
	Handshakes, HandshakeBytesOut, HandshakeBytesIn int64
	// FramesSent and FramesReceived count steady-state (or storm) echo frames;
	// FramesLost are those sent and never echoed.
	FramesSent, FramesReceived, FramesLost int64
	// FramesDelivered counts stamped frames received (a workload in the
	// stamp latency mode): deliveries through the server.
	FramesDelivered int64
	// FramesPublished counts a workload's steady-pattern frames sent (its
	// steps' frames are in FramesSent only).
	FramesPublished int64
	// Roles are each named role's counts, in the workload's order.
	Roles []RoleStats
	// Storm is what the reconnect storm did (nil without one).
	Storm *StormStats
	// ClosedClean counts connections whose close handshake completed.
	ClosedClean int64
	// PeakConcurrent is the most connections open at once.
	PeakConcurrent int64
	// Phases holds when each phase began, in order: "connect", "steady", "close", "done".
	Phases []PhaseMark
	// Interrupted is set when the context was cancelled before the run ended.
	Interrupted bool
	// Primed counts the untimed connections (and their one frame each) that
	// Prime made before the load: 1 with resumption, else 0.
	Primed int64
}

// PhaseMark is the start of one phase of a run.
type PhaseMark struct {
	Name string
	At   time.Time
}

// tally holds the maps of a run under one lock; it is touched once per
// connection or per error, never per frame.
type tally struct {
	mu sync.Mutex
	s  Stats
	// certRequests is counted by the TLS client's certificate callback.
	certRequests atomic.Int64
}

func newTally() *tally {
	return &tally{s: Stats{
		Errors: map[string]int64{}, ErrorSamples: map[string]string{},
		TLSVersions: map[string]int64{}, CipherSuites: map[string]int64{}, Groups: map[string]int64{}, ALPN: map[string]int64{},
	}}
}

func (t *tally) fail(class string, err error) {
	t.mu.Lock()
	t.s.Errors[class]++
	if _, ok := t.s.ErrorSamples[class]; !ok && err != nil {
		msg := err.Error()
		if h := Hint(class, err); h != "" {
			msg += " (" + h + ")"
		}
		t.s.ErrorSamples[class] = msg
	}
	t.mu.Unlock()
}

func (t *tally) handshake(info *TLSInfo) {
	st := &info.State
	t.mu.Lock()
	t.s.Handshakes++
	t.s.TLSVersions[tls.VersionName(st.Version)]++
	t.s.CipherSuites[tls.CipherSuiteName(st.CipherSuite)]++
	t.s.Groups[tlsconf.GroupName(st.CurveID)]++
	t.s.ALPN[cmp.Or(st.NegotiatedProtocol, "none")]++
	if st.DidResume {
		t.s.Resumed++
	}
	if st.HelloRetryRequest {
		t.s.HelloRetry++
	}
	t.s.HandshakeBytesOut += info.BytesOut
	t.s.HandshakeBytesIn += info.BytesIn
	t.mu.Unlock()
}

package target

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/wsconn"
)

// TestPushStampsFramesAndStillEchoes: every connection receives frames
// {"seq":N,"ts":T} unasked, seq increasing and ts the wall-clock time they
// were written; frames the client sends are echoed among them.
func TestPushStampsFramesAndStillEchoes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		tlsOn bool
	}{{"ws", false}, {"wss", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := start(t, Config{PushRate: 200}, tc.tlsOn)
			began := time.Now().UnixNano()
			const clients, frames = 3, 10
			for k := range clients {
				c := ts.dial(t)
				var last int64
				for i := range frames {
					h, p, err := c.ReadFrame()
					if err != nil {
						t.Fatalf("client %d frame %d: %v", k, i, err)
					}
					now := time.Now().UnixNano()
					var f struct {
						Seq int64 `json:"seq"`
						TS  int64 `json:"ts"`
					}
					dec := json.NewDecoder(bytes.NewReader(p))
					dec.DisallowUnknownFields()
					if h.OpCode != ws.OpText || !h.Fin || dec.Decode(&f) != nil {
						t.Fatalf("client %d frame %d: op %v fin %v %q, want a whole text frame {\"seq\":N,\"ts\":T}", k, i, h.OpCode, h.Fin, p)
					}
					if f.Seq <= last || f.TS < began || f.TS > now {
						t.Fatalf("client %d frame %d: %s after seq %d; want seq increasing, ts in [%d, %d]", k, i, p, last, began, now)
					}
					last = f.Seq
				}
				echo := []byte("echo me")
				if err := c.WriteMessage(ws.OpBinary, echo); err != nil {
					t.Fatal(err)
				}
				for {
					h, p, err := c.ReadFrame()
					if err != nil {
						t.Fatalf("client %d waiting for its echo: %v", k, err)
					}
					if h.OpCode == ws.OpBinary {
						if !bytes.Equal(p, echo) {
							t.Fatalf("client %d: echo %q, want %q", k, p, echo)
						}
						break
					}
				}
				if !c.Close(ws.StatusNormalClosure, testLimit) {
					t.Fatalf("client %d: close handshake did not complete", k)
				}
			}
			ts.stop(t)
			got := ts.srv.Counts()
			if got.FramesEchoed != clients || got.PushWritten < clients*frames || got.Pushed < got.PushWritten || got.Closes != clients {
				t.Errorf("Counts = %+v, want %d echoed and closes, at least %d pushed and written, pushed >= written", got, clients, clients*frames)
			}
		})
	}
}

// TestPushSpreadsConnections: the connections' schedules are spread over
// the interval, not all at one instant: any number of them leaves no gap
// much wider than the interval over their number.
func TestPushSpreadsConnections(t *testing.T) {
	t.Parallel()
	interval := time.Second
	for _, n := range []int64{2, 5, 8, 100} {
		var phases []time.Duration
		for k := range n {
			p := pushPhase(k, interval)
			if p < 0 || p >= interval {
				t.Fatalf("connection %d: phase %v outside [0, %v)", k, p, interval)
			}
			phases = append(phases, p)
		}
		slices.Sort(phases)
		phases = append(phases, phases[0]+interval) // the gap that wraps round
		for i := 1; i < len(phases); i++ {
			if gap := phases[i] - phases[i-1]; gap > 3*interval/time.Duration(n) {
				t.Errorf("%d connections: a gap of %v between phases %v and %v", n, gap, phases[i-1], phases[i])
			}
		}
	}
}

// TestAbortCutsWithoutCloseFrame: Abort ends every connection with no close
// frame, Serve returns nil with exact counts, and a new server listens on
// the same address at once.
func TestAbortCutsWithoutCloseFrame(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{}, {Rooms: 2}, {PushRate: 50}} {
		ts := start(t, cfg, false)
		c := ts.dial(t)
		if err := c.WriteMessage(ws.OpBinary, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if cfg.Rooms == 0 {
			if _, _, err := c.ReadFrame(); err != nil {
				t.Fatal(err)
			}
		}
		ts.srv.Abort()
		for {
			_, _, err := c.ReadFrame()
			if err == nil {
				continue // a push frame written before the cut
			}
			var ce *wsconn.CloseError
			if errors.As(err, &ce) || !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("%+v: client read %v after Abort, want the connection cut (EOF or a reset)", cfg, err)
			}
			break
		}
		select {
		case err := <-ts.served:
			if err != nil {
				t.Fatalf("Serve after Abort: %v", err)
			}
		case <-time.After(testLimit):
			t.Fatal("Serve did not return after Abort")
		}
		ts.cancel()
		ts.cancel = nil
		if got := ts.srv.Counts(); got.Upgraded != 1 || got.Closes != 0 {
			t.Errorf("%+v: Counts = %+v, want 1 upgraded, 0 closes", cfg, got)
		}
		cfg.Listen = ts.srv.Addr().String()
		again := start(t, cfg, false)
		if again.srv.Addr().String() != cfg.Listen {
			t.Fatalf("the new server listens on %s, want %s", again.srv.Addr(), cfg.Listen)
		}
		again.dial(t)
	}
}

func TestValidateWorkloads(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"rooms", Config{Rooms: 3}, true},
		{"push", Config{PushRate: 0.5}, true},
		{"negative rooms", Config{Rooms: -1}, false},
		{"negative push", Config{PushRate: -1}, false},
		{"push NaN", Config{PushRate: nan()}, false},
		{"push too fast", Config{PushRate: 1e9}, false},
		{"negative queue", Config{Rooms: 2, RoomQueue: -1}, false},
		{"rooms and push", Config{Rooms: 3, PushRate: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate(%+v) = %v, want ok %v", tc.cfg, err, tc.ok)
			}
		})
	}
}

func nan() float64 { zero := 0.0; return zero / zero }

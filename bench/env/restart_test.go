package env

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/wsconn"
)

// dialEnv connects a client to the environment's URL (wss:// or ws://).
func dialEnv(t *testing.T, e *Env, path string) *wsconn.Conn {
	t.Helper()
	u, err := url.Parse(e.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = path
	nc, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if err := nc.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if u.Scheme == "wss" {
		tc := tls.Client(nc, &tls.Config{RootCAs: e.Chain().Pool(), ServerName: "localhost"})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		nc = tc
	}
	br, _, err := ws.Dialer{}.Upgrade(nc, u)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	o := wsconn.Options{Client: true}
	if br != nil {
		o.Reader = br
	}
	return wsconn.New(nc, o)
}

// echoOnce sends a frame and reads its echo.
func echoOnce(t *testing.T, c *wsconn.Conn) {
	t.Helper()
	if err := c.WriteMessage(ws.OpBinary, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadFrame(); err != nil || string(p) != "ping" {
		t.Fatalf("echo: %q, %v", p, err)
	}
}

// expectCut reads until the connection ends: it must end without a close frame.
func expectCut(t *testing.T, c *wsconn.Conn) {
	t.Helper()
	_, _, err := c.ReadFrame()
	var ce *wsconn.CloseError
	if errors.As(err, &ce) || !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("a client of the restarted target read %v, want its connection cut (EOF or a reset, no close frame)", err)
	}
}

// TestRestartInProcessTarget: a client of the in-process target is cut,
// a new one on the same URL echoes, and the counts hold both lives.
func TestRestartInProcessTarget(t *testing.T) {
	t.Parallel()
	for _, topo := range []Topology{Direct, Builtin} {
		t.Run(string(topo), func(t *testing.T) {
			t.Parallel()
			e, err := Start(context.Background(), Spec{Topology: topo})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Stop()
			before := e.URL()
			old := dialEnv(t, e, "/")
			echoOnce(t, old)
			if err := e.RestartTarget(context.Background()); err != nil {
				t.Fatal(err)
			}
			expectCut(t, old)
			if e.URL() != before {
				t.Fatalf("URL %s after the restart, want %s", e.URL(), before)
			}
			c := dialEnv(t, e, "/")
			echoOnce(t, c)
			if !c.Close(ws.StatusNormalClosure, 10*time.Second) {
				t.Fatal("close handshake after the restart did not complete")
			}
			counts, ok, err := e.StopAndCount()
			if err != nil || !ok {
				t.Fatalf("StopAndCount: %v, %v", ok, err)
			}
			if counts.Upgraded != 2 || counts.FramesEchoed != 2 || counts.Closes != 1 {
				t.Errorf("counts %+v, want 2 upgraded and echoed over both lives, 1 close", counts)
			}
			if e.Failure() != nil {
				t.Errorf("a restart is a failure: %v", e.Failure())
			}
		})
	}
}

// TestRestartTargetProcesses: every target process (two on one port) is
// cut off and killed by its PID, new ones start on the same port, and the
// old ones' counts are kept.
func TestRestartTargetProcesses(t *testing.T) {
	t.Setenv(helperEnv, "serve")
	e, err := Start(context.Background(), Spec{Topology: Direct, TargetArgv: helperArgv(), Targets: 2, Rooms: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	pids := e.TargetPIDs()
	old := dialEnv(t, e, "/")
	if err := e.RestartTarget(context.Background()); err != nil {
		t.Fatal(err)
	}
	expectCut(t, old)
	waitGone(t, 5*time.Second, pids...)
	now := e.TargetPIDs()
	if len(now) != 2 || now[0] == pids[0] || now[1] == pids[1] {
		t.Fatalf("target PIDs %v after the restart, before %v: want two new ones", now, pids)
	}
	// The new processes serve (each its own rooms: the two clients may be
	// in different processes).
	a, b := dialEnv(t, e, "/"), dialEnv(t, e, "/")
	for _, c := range []*wsconn.Conn{a, b} {
		if !c.Close(ws.StatusNormalClosure, 10*time.Second) {
			t.Fatal("close handshake after the restart did not complete")
		}
	}
	counts, ok, err := e.StopAndCount()
	if err != nil || !ok {
		t.Fatalf("StopAndCount: %+v, %v, %v", counts, ok, err)
	}
	// The old processes' real counts (1 upgraded in all), then the stand-in's
	// fixed counts from each new process as it exits.
	if want := 1 + 2*fakeCounts.Upgraded; counts.Upgraded != want {
		t.Errorf("counts %+v: %d upgraded, want %d (1 before the restart, %d from each new process)", counts, counts.Upgraded, want, fakeCounts.Upgraded)
	}
	if e.Failure() != nil {
		t.Errorf("a restart is a failure: %v", e.Failure())
	}
}

// TestRestartAfterStop is an error, not a start.
func TestRestartAfterStop(t *testing.T) {
	t.Parallel()
	e, err := Start(context.Background(), Spec{Topology: Direct})
	if err != nil {
		t.Fatal(err)
	}
	e.Stop()
	if err := e.RestartTarget(context.Background()); err == nil {
		t.Fatal("RestartTarget after Stop returned nil")
	}
}

// TestSpecWorkloadsReachTheTarget: Spec.Rooms and Spec.PushRate make the
// target a chat server or a push stream.
func TestSpecWorkloadsReachTheTarget(t *testing.T) {
	t.Parallel()
	t.Run("rooms", func(t *testing.T) {
		t.Parallel()
		e, err := Start(context.Background(), Spec{Topology: Direct, Rooms: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Stop()
		a, b := dialEnv(t, e, "/"), dialEnv(t, e, "/")
		if err := a.WriteMessage(ws.OpText, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		if _, p, err := b.ReadFrame(); err != nil || string(p) != "hello" {
			t.Fatalf("the other member read %q, %v", p, err)
		}
		counts, _, _ := e.StopAndCount()
		if counts.FramesReceived != 1 || counts.DeliveriesOwed != 1 || counts.DeliveriesWritten != 1 {
			t.Errorf("counts %+v, want 1 received, owed and written", counts)
		}
	})
	t.Run("push", func(t *testing.T) {
		t.Parallel()
		e, err := Start(context.Background(), Spec{Topology: Direct, PushRate: 100})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Stop()
		c := dialEnv(t, e, "/")
		if h, p, err := c.ReadFrame(); err != nil || h.OpCode != ws.OpText || len(p) == 0 || p[0] != '{' {
			t.Fatalf("read %v %q, %v; want a pushed frame", h.OpCode, p, err)
		}
	})
}

func TestTargetWorkloadArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rooms int
		push  float64
		want  string
	}{{0, 0, ""}, {3, 0, "--rooms 3"}, {0, 2.5, "--push 2.5"}} {
		if got := strings.Join(TargetWorkloadArgs(tc.rooms, tc.push), " "); got != tc.want {
			t.Errorf("TargetWorkloadArgs(%d, %v) = %q, want %q", tc.rooms, tc.push, got, tc.want)
		}
	}
}

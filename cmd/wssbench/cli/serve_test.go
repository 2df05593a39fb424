package cli

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/target"
	"github.com/wssbench/wssbench/bench/tlsconf"
	"github.com/wssbench/wssbench/bench/wsconn"
)

// serveChild is `wssbench serve` in its own process.
type serveChild struct {
	cmd    *exec.Cmd
	url    string
	ca     string
	lines  chan string // the rest of stdout
	stderr bytes.Buffer
}

func startServeChild(t *testing.T, args ...string) *serveChild {
	t.Helper()
	c := &serveChild{cmd: exec.Command(os.Args[0], append([]string{"serve"}, args...)...), lines: make(chan string, 16)}
	c.cmd.Stderr = &c.stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	sc := bufio.NewScanner(out)
	plain := false
	for _, a := range args {
		plain = plain || a == "--plain"
	}
	for (c.url == "" || c.ca == "" && !plain) && sc.Scan() {
		line := sc.Text()
		if u, ok := strings.CutPrefix(line, bench.ReadyPrefix); ok {
			c.url = u
		}
		if i := strings.Index(line, "--ca "); i >= 0 {
			c.ca = strings.TrimSpace(line[i+5:])
		}
	}
	if c.url == "" {
		t.Fatalf("serve printed no URL; stderr: %s", c.stderr.String())
	}
	go func() {
		defer close(c.lines)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	return c
}

// stop sends SIGTERM and returns the stdout lines printed after the URL.
func (c *serveChild) stop(t *testing.T) []string {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var lines []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				if err := c.cmd.Wait(); err != nil {
					t.Fatalf("serve after SIGTERM: %v; stderr: %s", err, c.stderr.String())
				}
				return lines
			}
			lines = append(lines, l)
		case <-timeout:
			t.Fatal("serve did not end within 10 s of SIGTERM")
		}
	}
}

// countsLine finds the one counts line and decodes it.
func countsLine(t *testing.T, lines []string) target.Counts {
	t.Helper()
	var found []string
	for _, l := range lines {
		if js, ok := strings.CutPrefix(l, ServeCountsPrefix); ok {
			found = append(found, js)
		}
	}
	if len(found) != 1 {
		t.Fatalf("serve printed %d counts lines, want exactly 1: %q", len(found), lines)
	}
	var c target.Counts
	dec := json.NewDecoder(strings.NewReader(found[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("counts line %q: %v", found[0], err)
	}
	return c
}

func dialWS(t *testing.T, raw string, tc *tls.Config) *wsconn.Conn {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if tc != nil {
		tc = tc.Clone()
		tc.ServerName = u.Hostname()
		tlc := tls.Client(nc, tc)
		if err := tlc.Handshake(); err != nil {
			t.Fatalf("TLS handshake with %s: %v", raw, err)
		}
		nc = tlc
	}
	br, _, err := ws.Dialer{}.Upgrade(nc, u)
	if err != nil {
		t.Fatal(err)
	}
	o := wsconn.Options{Client: true}
	if br != nil {
		o.Reader = br
	}
	return wsconn.New(nc, o)
}

func TestServePrintsCountsOnSIGTERM(t *testing.T) {
	t.Parallel()
	c := startServeChild(t, "--listen", "127.0.0.1:0", "--plain")
	ws1 := dialWS(t, c.url, nil)
	for range 5 {
		if err := ws1.WriteMessage(ws.OpText, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ws1.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}
	// The client stays: serve closes it with a close frame, which the
	// client answers from a goroutine.
	go func() {
		for {
			if _, _, err := ws1.ReadFrame(); err != nil {
				return
			}
		}
	}()
	got := countsLine(t, c.stop(t))
	want := target.Counts{Accepted: 1, Upgraded: 1, FramesEchoed: 5, Closes: 1}
	if got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
}

// TestServeListenEveryInterfaceURLWorks is defect 10: --listen 0.0.0.0:PORT
// printed wss://[::]:PORT/, which fails verification, and no warning. The URL
// must work (127.0.0.1, which the certificate names) and stderr must warn.
func TestServeListenEveryInterfaceURLWorks(t *testing.T) {
	t.Parallel()
	c := startServeChild(t, "--listen", "0.0.0.0:0")
	u, err := url.Parse(c.url)
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("URL %q, want host 127.0.0.1", c.url)
	}
	pool, err := tlsconf.LoadCAPool(c.ca)
	if err != nil {
		t.Fatal(err)
	}
	conn := dialWS(t, c.url, &tls.Config{RootCAs: pool})
	if err := conn.WriteMessage(ws.OpText, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conn.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, conn.NetConn())
	lines := c.stop(t)
	countsLine(t, lines)
	warn := c.stderr.String()
	for _, want := range []string{"every interface", "localhost", "127.0.0.1"} {
		if !strings.Contains(warn, want) {
			t.Errorf("stderr %q lacks %q", warn, want)
		}
	}
}

func TestServeBadStallExitsTwo(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"1s", "x@1s", "0s@1s"} {
		code, _, stderr := runMain("serve", "--listen", "127.0.0.1:0", "--stall", v)
		if code != ExitBadInput || !strings.Contains(stderr, "--stall") {
			t.Errorf("--stall %s: exit %d, stderr %q; want %d and a message naming --stall", v, code, stderr, ExitBadInput)
		}
	}
}

func TestServeBadWorkloadExitsTwo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rooms", "-1"}, "--rooms"},
		{[]string{"--push", "-1"}, "--push"},
		{[]string{"--push", "NaN"}, "--push"},
		{[]string{"--rooms", "3", "--push", "1"}, "do not go together"},
	} {
		code, _, stderr := runMain(append([]string{"serve", "--listen", "127.0.0.1:0"}, tc.args...)...)
		if code != ExitBadInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and a message with %q", tc.args, code, stderr, ExitBadInput, tc.want)
		}
	}
}

// TestServeRoomsAndAbort: `wssbench serve --rooms 2` delivers a member's
// message to the other member; SIGUSR1 cuts both without a close frame and
// prints the counts, and serve then waits to be killed.
func TestServeRoomsAndAbort(t *testing.T) {
	t.Parallel()
	c := startServeChild(t, "--listen", "127.0.0.1:0", "--plain", "--rooms", "2")
	a, b := dialWS(t, c.url, nil), dialWS(t, c.url, nil)
	if err := a.WriteMessage(ws.OpText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := b.ReadFrame(); err != nil || string(p) != "hello" {
		t.Fatalf("the other member read %q, %v", p, err)
	}
	if err := c.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*wsconn.Conn{a, b} {
		_, _, err := m.ReadFrame()
		var ce *wsconn.CloseError
		if err == nil || errors.As(err, &ce) {
			t.Fatalf("after SIGUSR1 a client read %v, want its connection cut", err)
		}
	}
	var line string
	select {
	case line = <-c.lines:
	case <-time.After(10 * time.Second):
		t.Fatal("no counts line within 10 s of SIGUSR1")
	}
	got := countsLine(t, []string{line})
	want := target.Counts{Accepted: 2, Upgraded: 2, FramesReceived: 1, DeliveriesOwed: 1, DeliveriesWritten: 1}
	if got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	if err := c.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("serve is gone after SIGUSR1 (%v); it must wait to be killed", err)
	}
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
}

// TestServePush: `wssbench serve --push` pushes stamped frames.
func TestServePush(t *testing.T) {
	t.Parallel()
	c := startServeChild(t, "--listen", "127.0.0.1:0", "--plain", "--push", "100")
	m := dialWS(t, c.url, nil)
	h, p, err := m.ReadFrame()
	var f struct{ Seq, TS int64 }
	if err != nil || h.OpCode != ws.OpText || json.Unmarshal(p, &f) != nil || f.Seq < 1 || f.TS <= 0 {
		t.Fatalf("read %v %q, %v; want a frame {\"seq\":N,\"ts\":T}", h.OpCode, p, err)
	}
	go func() {
		for {
			if _, _, err := m.ReadFrame(); err != nil {
				return
			}
		}
	}()
	if got := countsLine(t, c.stop(t)); got.Pushed < 1 || got.PushWritten < 1 {
		t.Errorf("counts %+v, want frames pushed and written", got)
	}
}

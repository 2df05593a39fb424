package cli

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
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

package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/wssbench/wssbench/bench/proc"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// nodeWSSource is the Node.js ws server (see its server.js for the protocol
// and the stats keys); nodeWSFiles are what it needs to install and run.
const nodeWSSource = "testdata/nodews"

var nodeWSFiles = []string{"server.js", "package.json", "package-lock.json"}

// nodeWSReadyPrefix and nodeWSStatsPrefix begin the server's ready line
// ("listening PORT") and its last line ("stats {JSON}").
const (
	nodeWSReadyPrefix = "listening "
	nodeWSStatsPrefix = "stats "
)

// nodeWSInstall is the server installed once per test binary: a copy of
// nodeWSSource in a temporary folder with its node_modules (the source
// folder is never written, so runs in parallel and read-only checkouts are
// fine). TestMain removes the folder.
var nodeWSInstall struct {
	once            sync.Once
	node, dir, skip string
	err             error
}

// nodeStats are the server's counts, from GET /stats or its final line; the
// JSON keys are documented at the top of server.js.
type nodeStats struct {
	Connections    int64 `json:"connections"`
	Open           int64 `json:"open"`
	FramesIn       int64 `json:"frames_in"`
	Joins          int64 `json:"joins"`
	Published      int64 `json:"published"`
	DeliveriesOwed int64 `json:"deliveries_owed"`
	DeliveriesSent int64 `json:"deliveries_sent"`
	Requests       int64 `json:"requests"`
	Replies        int64 `json:"replies"`
	Errors         int64 `json:"errors"`
}

// nodeWS is the Node.js ws server running as a child of the test: it dies
// with the test binary (bench/proc: Pdeathsig and a guard) and at the test's
// end (t.Cleanup).
type nodeWS struct {
	// URL is the server's wss:// URL on 127.0.0.1, ending in "/"; another
	// path names a room.
	URL string
	// CAFile is the PEM file of the CA that signed the server's certificate
	// (wssbench run --ca).
	CAFile string
	t      *testing.T
	child  *proc.Child
	client *http.Client
	mu     sync.Mutex
	final  *nodeStats
}

// installNodeWS copies the server to a temporary folder and installs its
// locked dependencies with npm ci, once per test binary. It returns the node
// program and the folder; when node or npm is missing it skips the test, or
// fails it under WSSBENCH_REQUIRE_NODE=1 (CI).
func installNodeWS(t *testing.T) (node, dir string) {
	t.Helper()
	in := &nodeWSInstall
	in.once.Do(func() {
		var err error
		for _, p := range []string{"node", "npm"} {
			if _, err = exec.LookPath(p); err != nil {
				in.skip = fmt.Sprintf("%s is not installed (Debian: apt-get install -y nodejs npm): the tests against the Node.js ws server need it", p)
				return
			}
		}
		in.node, _ = exec.LookPath("node")
		if in.dir, err = os.MkdirTemp("", "wssbench-nodews-"); err != nil {
			in.err = err
			return
		}
		for _, f := range nodeWSFiles {
			b, err := os.ReadFile(filepath.Join(nodeWSSource, f))
			if err == nil {
				err = os.WriteFile(filepath.Join(in.dir, f), b, 0o644)
			}
			if err != nil {
				in.err = err
				return
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		// --prefer-offline installs from npm's cache when it holds the
		// locked version, so only a first run needs the registry.
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--prefer-offline")
		cmd.Dir = in.dir
		cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			in.err = fmt.Errorf("npm ci in %s: %w\n%s", in.dir, err, out)
		}
	})
	if in.skip != "" {
		if os.Getenv("WSSBENCH_REQUIRE_NODE") == "1" {
			t.Fatal(in.skip + ", and WSSBENCH_REQUIRE_NODE=1 (CI) does not let it skip")
		}
		t.Skip(in.skip)
	}
	if in.err != nil {
		t.Fatalf("install the Node.js ws server: %v", in.err)
	}
	return in.node, in.dir
}

// removeNodeWSInstall removes the installed copy, if any; TestMain calls it
// after the tests.
func removeNodeWSInstall() {
	if d := nodeWSInstall.dir; d != "" {
		os.RemoveAll(d)
	}
}

// startNodeWS starts the Node.js ws server on 127.0.0.1 with a fresh
// certificate and a free port; args are more server flags (--rooms 3). It
// skips the test when node or npm is missing (see installNodeWS).
func startNodeWS(t *testing.T, args ...string) *nodeWS {
	t.Helper()
	node, dir := installNodeWS(t)
	chain, err := tlsconf.NewChain(tlsconf.CertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, caFile, err := chain.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	argv := append([]string{node, filepath.Join(dir, "server.js"),
		"--cert", certFile, "--key", keyFile, "--host", "127.0.0.1", "--port", "0"}, args...)
	child, port, err := proc.Start(context.Background(), proc.StartOptions{Name: "Node.js ws server", Argv: argv,
		ReadyPrefix: nodeWSReadyPrefix, ReadyTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !child.Exited() {
			_ = child.StopWith(syscall.SIGKILL, 5*time.Second)
		}
	})
	return &nodeWS{
		URL:    "wss://127.0.0.1:" + port + "/",
		CAFile: caFile,
		t:      t,
		child:  child,
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: chain.Pool()}, DisableKeepAlives: true}},
	}
}

// decodeNodeStats decodes the server's counts, refusing keys nodeStats does
// not know: the two stay in step.
func decodeNodeStats(b []byte) (nodeStats, error) {
	var s nodeStats
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&s); err != nil {
		return s, fmt.Errorf("the server's stats %q: %w", b, err)
	}
	return s, nil
}

// Stats returns the server's counts now (GET /stats).
func (n *nodeWS) Stats() nodeStats {
	n.t.Helper()
	resp, err := n.client.Get("https" + strings.TrimPrefix(n.URL, "wss") + "stats")
	if err != nil {
		n.t.Fatalf("GET /stats: %v", err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		n.t.Fatalf("GET /stats: %s %v: %s", resp.Status, err, body.Bytes())
	}
	s, err := decodeNodeStats(body.Bytes())
	if err != nil {
		n.t.Fatal(err)
	}
	return s
}

// Stop sends the server SIGTERM, waits for it to exit with status 0 and
// returns the counts of its final line. A second call returns them again.
func (n *nodeWS) Stop() nodeStats {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.final != nil {
		return *n.final
	}
	// The child leads a process group of its own, which is node alone.
	if err := n.child.Stop(10 * time.Second); err != nil {
		n.t.Fatalf("stop the Node.js ws server: %v\nstderr:\n%s", err, n.child.Stderr())
	}
	if err := n.child.ExitErr(); err != nil {
		n.t.Fatalf("the Node.js ws server ended with %v after SIGTERM, not exit status 0\nstderr:\n%s", err, n.child.Stderr())
	}
	var line string
	for _, l := range strings.Split(n.child.Stdout(), "\n") {
		if strings.HasPrefix(l, nodeWSStatsPrefix) {
			line = strings.TrimPrefix(l, nodeWSStatsPrefix)
		}
	}
	if line == "" {
		n.t.Fatalf("the Node.js ws server printed no stats line\nstdout:\n%s\nstderr:\n%s", n.child.Stdout(), n.child.Stderr())
	}
	s, err := decodeNodeStats([]byte(line))
	if err != nil {
		n.t.Fatal(err)
	}
	n.final = &s
	return s
}

// nodeClient is a gobwas/ws client of the Node.js ws server: a third-party
// client for a third-party server, so the protocol test relies on neither
// of wssbench's own framing nor its target.
type nodeClient struct {
	t    *testing.T
	name string
	conn net.Conn
	r    io.Reader
}

// dialNode connects to url (the server's URL or a path under it) over TLS,
// trusting only the server's CA.
func dialNode(t *testing.T, n *nodeWS, name, url string) *nodeClient {
	t.Helper()
	pool, err := tlsconf.LoadCAPool(n.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dialer{TLSConfig: &tls.Config{RootCAs: pool}}.Dial(ctx, url)
	if err != nil {
		t.Fatalf("%s: dial %s: %v", name, url, err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &nodeClient{t: t, name: name, conn: conn, r: conn}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	return c
}

// send writes one frame.
func (c *nodeClient) send(op ws.OpCode, frame string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := wsutil.WriteClientMessage(c.conn, op, []byte(frame)); err != nil {
		c.t.Fatalf("%s: send %q: %v", c.name, frame, err)
	}
}

// read returns the next data frame, within 5 s.
func (c *nodeClient) read() (ws.OpCode, string) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, op, err := wsutil.ReadServerData(struct {
		io.Reader
		io.Writer
	}{c.r, c.conn})
	if err != nil {
		c.t.Fatalf("%s: read: %v", c.name, err)
	}
	return op, string(b)
}

// expect reads the next data frame and fails unless it is op and frame.
func (c *nodeClient) expect(op ws.OpCode, frame string) {
	c.t.Helper()
	if gotOp, got := c.read(); gotOp != op || got != frame {
		c.t.Fatalf("%s: got %v %q, want %v %q", c.name, gotOp, got, op, frame)
	}
}

// roundTrip sends a req and expects its res as the very next frame: the
// server answers in order, so any frame it had sent this connection before
// (a delivery nobody expected) would come first.
func (c *nodeClient) roundTrip(id string) {
	c.t.Helper()
	c.send(ws.OpText, `{"type":"req","id":`+id+`,"pad":"x"}`)
	c.expect(ws.OpText, `{"type":"res","id":`+id+`}`)
}

// close sends a close frame and closes the connection.
func (c *nodeClient) close() {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	body := ws.NewCloseFrameBody(ws.StatusNormalClosure, "")
	if err := wsutil.WriteClientMessage(c.conn, ws.OpClose, body); err != nil {
		c.t.Fatalf("%s: close: %v", c.name, err)
	}
	c.conn.Close()
}

// waitNodeStats polls /stats until it equals want or 5 s pass (a delivery is
// counted in its send callback, a close when the socket has gone), and
// returns the last reading.
func waitNodeStats(n *nodeWS, want nodeStats) nodeStats {
	n.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := n.Stats()
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNodeWSServerSpeaksItsProtocol proves the fixture: rooms filled in
// connection order and named by path, pub to exactly the other members with
// its bytes and opcode, req/res, join, errors that keep the connection, and
// counts in /stats and the final line that match what the test did.
func TestNodeWSServerSpeaksItsProtocol(t *testing.T) {
	t.Parallel()
	n := startNodeWS(t, "--rooms", "3")
	if !strings.HasPrefix(n.URL, "wss://127.0.0.1:") || !strings.HasSuffix(n.URL, "/") {
		t.Fatalf("URL %q, want wss://127.0.0.1:PORT/", n.URL)
	}
	// Rooms of 3 in connection order: a, b and c are in #0, d alone in #1.
	var cs []*nodeClient
	for _, name := range []string{"a", "b", "c", "d"} {
		cs = append(cs, dialNode(t, n, name, n.URL))
	}
	a, b, c, d := cs[0], cs[1], cs[2], cs[3]

	// A text pub reaches b and c, byte for byte; a itself and d get nothing.
	pub1 := `{"type":"pub", "from":"a","text":"h\u00e9llo ✓"}`
	a.send(ws.OpText, pub1)
	b.expect(ws.OpText, pub1)
	c.expect(ws.OpText, pub1)
	for i, cl := range cs {
		cl.roundTrip(fmt.Sprint(i + 1))
	}
	// A binary pub stays binary.
	pub2 := `{"type":"pub","from":"b"}`
	b.send(ws.OpBinary, pub2)
	a.expect(ws.OpBinary, pub2)
	c.expect(ws.OpBinary, pub2)
	b.roundTrip("5")

	// join moves d to #0, where a pub from d reaches the three others.
	d.send(ws.OpText, `{"type":"join","room":"#0"}`)
	d.expect(ws.OpText, `{"type":"joined","room":"#0","members":4}`)
	pub3 := `{"type":"pub","from":"d"}`
	d.send(ws.OpText, pub3)
	for _, cl := range cs[:3] {
		cl.expect(ws.OpText, pub3)
	}
	d.roundTrip(`"six"`)

	// Garbage is answered with an error and the connection stays.
	for _, bad := range []string{`not json`, `{"type":"nope"}`, `[1,2]`, `{"type":"req"}`, `{"type":"join","room":7}`} {
		a.send(ws.OpText, bad)
		if op, got := a.read(); op != ws.OpText || !strings.HasPrefix(got, `{"type":"error","error":"`) {
			t.Fatalf("after %q: got %v %q, want an error frame", bad, op, got)
		}
	}
	a.roundTrip("7")

	// A path names the room: e and f share /room/a, away from #0.
	e := dialNode(t, n, "e", n.URL+"room/a")
	f := dialNode(t, n, "f", n.URL+"room/a?x=1")
	pub4 := `{"type":"pub","from":"f"}`
	f.send(ws.OpText, pub4)
	e.expect(ws.OpText, pub4)
	for _, cl := range cs {
		cl.roundTrip("8")
	}

	want := nodeStats{
		Connections:    6,
		Open:           6,
		Joins:          1,                 // d
		Published:      4,                 // pub1 to pub4
		DeliveriesOwed: 2 + 2 + 3 + 1,     // b c, a c, a b c, e
		DeliveriesSent: 2 + 2 + 3 + 1,     //
		Requests:       4 + 1 + 1 + 1 + 4, // the round trips
		Replies:        4 + 1 + 1 + 1 + 4, //
		Errors:         5,                 // the garbage
	}
	// Every frame the clients sent was one of those (close frames are not data).
	want.FramesIn = want.Published + want.Joins + want.Requests + want.Errors
	if got := waitNodeStats(n, want); got != want {
		t.Errorf("/stats %+v\nwant   %+v", got, want)
	}
	for _, cl := range append(cs, e, f) {
		cl.close()
	}
	want.Open = 0
	if got := waitNodeStats(n, want); got != want {
		t.Errorf("/stats after the closes %+v\nwant   %+v", got, want)
	}
	if got := n.Stop(); got != want {
		t.Errorf("final stats %+v\nwant   %+v", got, want)
	}
	if got := n.Stop(); got != want {
		t.Errorf("a second Stop returned %+v", got)
	}
}

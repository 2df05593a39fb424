//go:build linux

package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/bench/target"
	"github.com/wssbench/wssbench/reports"
)

// netnsLab is a few "machines" on one box: a network namespace for the
// target, one per shard, and a "switch" namespace holding a Linux bridge that
// a veth pair connects each machine to. Nothing is made, moved or changed in
// the root namespace: every link is created inside the switch namespace with
// its peer put straight into the machine's namespace. Addresses come from
// 10.213.X.0/24 (X from the pid): the target is .1, shard i is .(10+i).
type netnsLab struct {
	t      *testing.T
	ctx    context.Context
	prefix string // namespace names start with it, such as wsb1234b-
	subnet string // the /24 without its last octet, such as 10.213.7

	Target string   // the target's namespace
	Shards []string // the shards' namespaces, shard i+1 at i
	Switch string   // the namespace holding the bridge

	mu    sync.Mutex
	made  []string // namespaces to delete, in order made
	procs []*labProc
}

// labProc is a process the lab started, with its stdout lines as they come.
type labProc struct {
	cmd   *exec.Cmd
	lines chan string // stdout, line by line; closed at EOF
	done  chan struct{}
	err   error // Wait's, once done is closed

	mu     sync.Mutex
	out    []string     // every stdout line so far, for messages
	errBuf bytes.Buffer // stderr
}

func (p *labProc) stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.out, "\n")
}

func (p *labProc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errBuf.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// newNetnsLab makes the namespaces, bridge and links for shards shards, or
// skips the test where namespaces cannot be made. tag keeps two tests' labs
// apart within one test process. Everything goes at the test's end.
func newNetnsLab(ctx context.Context, t *testing.T, tag string, shards int) *netnsLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root (ip netns add); run the test as root to simulate machines on one box")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("the ip command (iproute2) is not installed: apt-get install -y iproute2")
	}
	pid := os.Getpid()
	l := &netnsLab{
		t: t, ctx: ctx,
		prefix: fmt.Sprintf("wsb%d%s-", pid, tag),
		// Each lab's addresses live only in its own namespaces, so they cannot
		// clash with anything; a per-process subnet only keeps `ip` output
		// from two labs apart for whoever reads it.
		subnet: fmt.Sprintf("10.213.%d", 1+(pid+int(tag[0]))%250),
	}
	l.Target, l.Switch = l.prefix+"t", l.prefix+"sw"
	for i := 1; i <= shards; i++ {
		l.Shards = append(l.Shards, fmt.Sprintf("%ss%d", l.prefix, i))
	}
	t.Cleanup(l.cleanup)

	// The first namespace tells whether this box lets us make any.
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", l.Switch).CombinedOutput(); err != nil {
		t.Skipf("ip netns add fails here (a container without CAP_SYS_ADMIN?): %v: %s", err, bytes.TrimSpace(out))
	}
	l.made = append(l.made, l.Switch)
	l.ip("-n", l.Switch, "link", "set", "lo", "up")
	l.ip("-n", l.Switch, "link", "add", "br0", "type", "bridge")
	l.ip("-n", l.Switch, "link", "set", "br0", "up")
	machines := append([]string{l.Target}, l.Shards...)
	for i, ns := range machines {
		l.ip("netns", "add", ns)
		l.mu.Lock()
		l.made = append(l.made, ns)
		l.mu.Unlock()
		// Both ends are made in the switch namespace, the peer going straight
		// into the machine's: no link ever exists in the root namespace.
		port := fmt.Sprintf("p%d", i)
		l.ip("-n", l.Switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
		l.ip("-n", l.Switch, "link", "set", port, "master", "br0")
		l.ip("-n", l.Switch, "link", "set", port, "up")
		l.ip("-n", ns, "addr", "add", l.addr(i)+"/24", "dev", "eth0")
		l.ip("-n", ns, "link", "set", "lo", "up")
		l.ip("-n", ns, "link", "set", "eth0", "up")
	}
	for i, ns := range machines {
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "ip", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "inet "+l.addr(i)+"/24") || !l.linkUp(ns) {
			t.Fatalf("%s: eth0 lacks %s/24 or is down (%v):\n%s", ns, l.addr(i), err, out)
		}
	}
	// The root namespace must not hold the subnet, so that the load can only
	// have gone between the lab's namespaces.
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if strings.HasPrefix(a.String(), l.subnet+".") {
				t.Fatalf("the root namespace has %s, in the lab's subnet %s.0/24", a, l.subnet)
			}
		}
	}
	return l
}

// addr is machine i's address: 0 the target, i shard i.
func (l *netnsLab) addr(i int) string {
	if i == 0 {
		return l.subnet + ".1"
	}
	return fmt.Sprintf("%s.%d", l.subnet, 10+i)
}

func (l *netnsLab) linkUp(ns string) bool {
	out, err := exec.CommandContext(l.ctx, "ip", "-n", ns, "link", "show", "dev", "eth0").CombinedOutput()
	// The flags, such as <BROADCAST,MULTICAST,UP,LOWER_UP>.
	return err == nil && (strings.Contains(string(out), ",UP,") || strings.Contains(string(out), ",UP>"))
}

// ip runs one ip(8) command and fails the test if it fails.
func (l *netnsLab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.CommandContext(l.ctx, "ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// cmd is the test binary standing in for wssbench (see TestMain) in
// namespace ns, in a process group of its own, killed with it when the
// test's context ends.
func (l *netnsLab) cmd(ns string, args ...string) *exec.Cmd {
	c := exec.CommandContext(l.ctx, "ip", append([]string{"netns", "exec", ns, os.Args[0]}, args...)...)
	c.Env = append(os.Environ(), "WSSBENCH_TEST_CHILD=1")
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	return c
}

// start starts c and keeps it for the cleanup.
func (l *netnsLab) start(c *exec.Cmd) *labProc {
	l.t.Helper()
	pr, pw := io.Pipe()
	p := &labProc{cmd: c, lines: make(chan string, 256), done: make(chan struct{})}
	c.Stdout = pw
	c.Stderr = lockedWriter{&p.mu, &p.errBuf}
	if err := c.Start(); err != nil {
		l.t.Fatalf("start %s: %v", strings.Join(c.Args, " "), err)
	}
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.out = append(p.out, sc.Text())
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default: // nobody is reading; p.out keeps it
			}
		}
		close(p.lines)
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		p.err = c.Wait()
		pw.Close()
		close(p.done)
	}()
	return p
}

// wait waits for p to end, or for the test's context.
func (l *netnsLab) wait(p *labProc) error {
	select {
	case <-p.done:
		return p.err
	case <-l.ctx.Done():
		<-p.done // CommandContext kills the group; WaitDelay bounds the rest
		return fmt.Errorf("%w (%v)", l.ctx.Err(), p.err)
	}
}

// cleanup kills every process the lab started that is still running (its
// whole process group), then deletes every namespace it made; deleting a
// machine's namespace deletes its veth pair, and the switch's the bridge.
func (l *netnsLab) cleanup() {
	l.mu.Lock()
	procs, made := l.procs, l.made
	l.mu.Unlock()
	for _, p := range procs {
		select {
		case <-p.done:
			continue
		default:
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			l.t.Errorf("process %d did not end after SIGKILL", p.cmd.Process.Pid)
		}
	}
	for i := len(made) - 1; i >= 0; i-- {
		// Not l.ctx: it may be what ran out.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if out, err := exec.CommandContext(ctx, "ip", "netns", "del", made[i]).CombinedOutput(); err != nil {
			l.t.Errorf("ip netns del %s: %v: %s", made[i], err, bytes.TrimSpace(out))
		}
		cancel()
	}
}

// labServe is `wssbench serve` running in a namespace.
type labServe struct {
	p       *labProc
	URL, CA string
}

// serve starts `serve --listen ADDR:0` in the target namespace and reads its
// URL and CA file.
func (l *netnsLab) serve() *labServe {
	l.t.Helper()
	s := &labServe{p: l.start(l.cmd(l.Target, "serve", "--listen", l.addr(0)+":0"))}
	timeout := time.After(20 * time.Second)
	for s.URL == "" || s.CA == "" {
		select {
		case line, ok := <-s.p.lines:
			if !ok {
				<-s.p.done
				l.t.Fatalf("serve ended before its URL and CA (%v)\nstdout:\n%s\nstderr:\n%s", s.p.err, s.p.stdout(), s.p.stderr())
			}
			if strings.HasPrefix(line, bench.ReadyPrefix) {
				s.URL = strings.TrimPrefix(line, bench.ReadyPrefix)
			}
			if i := strings.Index(line, "--ca "); i >= 0 {
				s.CA = strings.TrimSpace(line[i+5:])
			}
		case <-timeout:
			l.t.Fatalf("serve printed no URL and CA in 20 s\nstdout:\n%s\nstderr:\n%s", s.p.stdout(), s.p.stderr())
		}
	}
	// A SIGKILLed serve leaves its generated key folder: remove it either way.
	l.t.Cleanup(func() { os.RemoveAll(filepath.Dir(s.CA)) })
	return s
}

// stop sends SIGTERM to serve and returns the counts it prints as it ends.
func (l *netnsLab) stop(s *labServe) target.Counts {
	l.t.Helper()
	if err := syscall.Kill(-s.p.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		l.t.Fatalf("SIGTERM to serve: %v", err)
	}
	var counts string
	for line := range s.p.lines {
		if strings.HasPrefix(line, ServeCountsPrefix) {
			counts = strings.TrimPrefix(line, ServeCountsPrefix)
		}
	}
	if err := l.wait(s.p); err != nil {
		l.t.Fatalf("serve exited with %v after SIGTERM\nstderr:\n%s", err, s.p.stderr())
	}
	if counts == "" {
		// The channel drops lines nobody read in time; the log keeps them all.
		for _, line := range strings.Split(s.p.stdout(), "\n") {
			if strings.HasPrefix(line, ServeCountsPrefix) {
				counts = strings.TrimPrefix(line, ServeCountsPrefix)
			}
		}
	}
	var c target.Counts
	if err := json.Unmarshal([]byte(counts), &c); err != nil {
		l.t.Fatalf("serve's counts line %q: %v\nstdout:\n%s", counts, err, s.p.stdout())
	}
	return c
}

// dial opens a TCP connection from namespace ns to addr and closes it: the
// network path works before any load goes over it.
func (l *netnsLab) dial(ns, addr string) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is moved into ns and never unlocked: when this goroutine
		// returns, the runtime ends the thread instead of reusing it.
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		// The socket is made on this thread, so in ns; it stays there.
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			c.Close()
		}
		errc <- err
	}()
	return <-errc
}

// readRun reads a one-run report.
func readRun(t *testing.T, path string) *reports.Report {
	t.Helper()
	doc, err := reports.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Runs) != 1 {
		t.Fatalf("%s: %d runs, want 1", path, len(doc.Runs))
	}
	return doc.Runs[0]
}

// runArgs are the `run` flags for the target s (whose certificate names
// localhost, 127.0.0.1 and ::1, not the lab address: hence --server-name).
func runArgs(s *labServe, more ...string) []string {
	return append([]string{"run", "--target", s.URL, "--ca", s.CA, "--server-name", "localhost", "-q"}, more...)
}

// TestNetnsLabConnects is the lab's plumbing: one plain run from a shard's
// namespace to the target's, over the bridge.
func TestNetnsLabConnects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	dir := t.TempDir() // before the lab, so its processes are gone when the folder goes
	lab := newNetnsLab(ctx, t, "a", 1)
	srv := lab.serve()
	if want := "wss://" + lab.addr(0) + ":"; !strings.HasPrefix(srv.URL, want) {
		t.Fatalf("serve's URL %q does not start %q", srv.URL, want)
	}
	u, _ := url.Parse(srv.URL)
	if err := lab.dial(lab.Shards[0], u.Host); err != nil {
		t.Fatalf("no TCP path from %s to the target %s: %v", lab.Shards[0], u.Host, err)
	}
	out := filepath.Join(dir, "r.json")
	p := lab.start(lab.cmd(lab.Shards[0], runArgs(srv, "--conns", "5", "--connect-rate", "0", "--duration", "1s", "--msg-rate", "5", "--out", out)...))
	if err := lab.wait(p); err != nil {
		t.Fatalf("run from %s: %v\nstdout:\n%s\nstderr:\n%s", lab.Shards[0], err, p.stdout(), p.stderr())
	}
	c := lab.stop(srv)
	r := readRun(t, out)
	if r.Connections.Established != 5 || r.Connections.Failed != 0 {
		t.Errorf("connections %+v, want 5 established", r.Connections)
	}
	if r.Target.URL != srv.URL {
		t.Errorf("the report's target %q, want %q", r.Target.URL, srv.URL)
	}
	// One accepted connection more than upgraded: the dial above.
	if c.Upgraded != 5 || c.Accepted != 6 || c.Closes != 5 {
		t.Errorf("target counts %+v, want 5 upgraded, 6 accepted (one the TCP probe), 5 closes", c)
	}
	if r.Frames.Received == 0 || c.FramesEchoed != r.Frames.Received {
		t.Errorf("the target echoed %d frames, the driver received %d", c.FramesEchoed, r.Frames.Received)
	}
}

// TestShardsInNetworkNamespaces is a multi-machine run on one box: three
// shards, each in its own namespace, split 30 connections with --shard I/3,
// start together at --start-at, and load a target in a fourth namespace;
// `merge` makes one report of theirs, which must agree with the shards' sum
// and with the target's own counts.
func TestShardsInNetworkNamespaces(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	const shards, conns = 3, 30
	dir := t.TempDir() // before the lab, so its processes are gone when the folder goes
	lab := newNetnsLab(ctx, t, "b", shards)
	srv := lab.serve()
	// serve listens on the target namespace's own address, so its URL names
	// it (with 0.0.0.0 it would print 127.0.0.1). That address exists only on
	// the target namespace's eth0, behind the lab's bridge: the root namespace
	// holds no address in the subnet (newNetnsLab checked) and no route to it,
	// so the load went nowhere but between the test's namespaces.
	if want := "wss://" + lab.addr(0) + ":"; !strings.HasPrefix(srv.URL, want) {
		t.Fatalf("serve's URL %q does not start %q", srv.URL, want)
	}
	u, _ := url.Parse(srv.URL)
	for _, ns := range lab.Shards {
		if err := lab.dial(ns, u.Host); err != nil {
			t.Fatalf("no TCP path from %s to the target %s: %v", ns, u.Host, err)
		}
	}

	startAt := time.Now().Add(3 * time.Second).Format(time.RFC3339Nano)
	files := make([]string, shards)
	procs := make([]*labProc, shards)
	for i, ns := range lab.Shards {
		files[i] = filepath.Join(dir, fmt.Sprintf("shard-%d.json", i+1))
		procs[i] = lab.start(lab.cmd(ns, runArgs(srv, "--conns", fmt.Sprint(conns), "--connect-rate", "0", "--duration", "2s", "--msg-rate", "5",
			"--shard", fmt.Sprintf("%d/%d", i+1, shards), "--start-at", startAt, "--out", files[i])...))
	}
	failed := false
	for i, p := range procs {
		if err := lab.wait(p); err != nil {
			failed = true
			t.Errorf("shard %d/%d in %s: %v\nstdout:\n%s\nstderr:\n%s", i+1, shards, lab.Shards[i], err, p.stdout(), p.stderr())
		}
	}
	if failed {
		t.FailNow()
	}

	merged := filepath.Join(dir, "merged.json")
	// In process, in the root namespace: merge reads files, no network.
	if code, stdout, stderr := runMain(append(append([]string{"merge"}, files...), "--out", merged)...); code != ExitOK {
		t.Fatalf("merge: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	counts := lab.stop(srv)

	var est, recv int64
	union := metrics.NewHistogram()
	for i, f := range files {
		r := readRun(t, f)
		if r.Connections.Established != conns/shards {
			t.Errorf("shard %d/%d established %d connections, want %d", i+1, shards, r.Connections.Established, conns/shards)
		}
		if r.Target.URL != srv.URL {
			t.Errorf("shard %d/%d's target %q, want %q", i+1, shards, r.Target.URL, srv.URL)
		}
		est += r.Connections.Established
		recv += r.Frames.Received
		h, err := r.Histogram(metrics.RTT.Name())
		if err != nil || h == nil {
			t.Fatalf("shard %d/%d: no %s histogram (%v)", i+1, shards, metrics.RTT.Name(), err)
		}
		if dropped := union.Merge(h); dropped != 0 {
			t.Fatalf("shard %d/%d: %d %s values fell outside the histogram's bounds", i+1, shards, dropped, metrics.RTT.Name())
		}
	}
	m := readRun(t, merged)
	if m.Connections.Established != conns || est != conns || counts.Upgraded != conns {
		t.Errorf("established: merged %d, shards' sum %d, the target upgraded %d; want %d each", m.Connections.Established, est, counts.Upgraded, conns)
	}
	if m.Frames.Received == 0 || m.Frames.Received != recv || counts.FramesEchoed != recv {
		t.Errorf("frames: merged received %d, shards' sum %d, the target echoed %d", m.Frames.Received, recv, counts.FramesEchoed)
	}
	mh, err := m.Histogram(metrics.RTT.Name())
	if err != nil || mh == nil {
		t.Fatalf("merged report: no %s histogram (%v)", metrics.RTT.Name(), err)
	}
	sameHistogram(t, mh, union)
	if want := float64(union.ValueAtQuantile(99)) / 1e3; m.Frames.RTT.P99Us != want {
		t.Errorf("merged frames.rtt.p99_us %v, want the shards' union's %v", m.Frames.RTT.P99Us, want)
	}
	if m.Target.URL != srv.URL {
		t.Errorf("merged target %q, want %q", m.Target.URL, srv.URL)
	}
	checkShardsKey(t, merged, shards)
}

// sameHistogram compares the merged report's histogram with the union of
// the shards' at the figures a report shows.
func sameHistogram(t *testing.T, got, want *hdr.Histogram) {
	t.Helper()
	if got.TotalCount() != want.TotalCount() {
		t.Errorf("ws_rtt count: merged %d, shards' union %d", got.TotalCount(), want.TotalCount())
	}
	for _, q := range []float64{50, 90, 99, 99.9} {
		if g, w := got.ValueAtQuantile(q), want.ValueAtQuantile(q); g != w {
			t.Errorf("ws_rtt p%v: merged %d ns, shards' union %d ns", q, g, w)
		}
	}
	if got.Max() != want.Max() {
		t.Errorf("ws_rtt max: merged %d ns, shards' union %d ns", got.Max(), want.Max())
	}
}

// checkShardsKey checks the merged report's raw JSON for a "shards" key
// saying n shards: a number, a list of n, or an object with "count": n. It
// looks at the top level and, for a series-shaped file, at the first run.
func checkShardsKey(t *testing.T, path string, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	raw, ok := top["shards"]
	if !ok {
		var runs []map[string]json.RawMessage
		if err := json.Unmarshal(top["runs"], &runs); err == nil && len(runs) > 0 {
			raw, ok = runs[0]["shards"]
		}
	}
	if !ok {
		t.Fatalf("%s has no \"shards\" key", path)
	}
	if got, err := shardCount(raw); err != nil || got != n {
		t.Errorf("%s: shards %s: count %d (%v), want %d", path, raw, got, err, n)
	}
}

func shardCount(raw json.RawMessage) (int, error) {
	var num int
	if json.Unmarshal(raw, &num) == nil {
		return num, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		return len(list), nil
	}
	var obj struct {
		Count *int `json:"count"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Count != nil {
		return *obj.Count, nil
	}
	return 0, errors.New("neither a number, a list nor an object with a count")
}

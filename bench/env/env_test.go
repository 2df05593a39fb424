package env

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench/proc"
	"github.com/wssbench/wssbench/bench/target"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// helperEnv makes the test binary a helper process: "serve", a stand-in
// for `wssbench serve`; or "parent" (with a topology), a run that starts an
// environment and waits to be killed.
const helperEnv = "WSSBENCH_ENV_TEST_HELPER"

// fakeCounts is what the stand-in target prints as it exits.
var fakeCounts = TargetCounts{Accepted: 3, Upgraded: 2, FramesEchoed: 41, Closes: 1}

func TestMain(m *testing.M) {
	switch mode := os.Getenv(helperEnv); {
	case mode == "serve":
		os.Exit(serveHelper(os.Args[1:]))
	case strings.HasPrefix(mode, "parent "):
		os.Exit(parentHelper(Topology(strings.TrimPrefix(mode, "parent "))))
	}
	os.Exit(m.Run())
}

// serveHelper serves the built-in target with the flags env passes (those
// it needs; the cli test checks all of them against the real flags) and
// prints the counts line on SIGTERM.
func serveHelper(args []string) int {
	var plain bool
	var cert, key string
	cfg := target.Config{Listen: listenAddr}
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--plain":
			plain = true
		case "--cert":
			i++
			cert = args[i]
		case "--key":
			i++
			key = args[i]
		case "--listen":
			i++
			cfg.Listen = args[i]
		case "--reuseport":
			cfg.ReusePort = true
		case "--rooms":
			i++
			cfg.Rooms, _ = strconv.Atoi(args[i])
		case "--push":
			i++
			cfg.PushRate, _ = strconv.ParseFloat(args[i], 64)
		}
	}
	if !plain {
		c, err := tlsconf.LoadKeyPair(cert, key)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{c}}
	}
	srv, err := target.Listen(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	// AbortSignal as serve answers it: cut, the real counts, wait to be killed.
	abort := make(chan os.Signal, 1)
	signal.Notify(abort, AbortSignal)
	go func() {
		<-abort
		srv.Abort()
	}()
	fmt.Println(ReadyPrefix + srv.URL())
	if err := srv.Serve(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if ctx.Err() == nil {
		b, _ := json.Marshal(srv.Counts())
		fmt.Printf("%s%s\n", CountsPrefix, b)
		<-ctx.Done()
		return 0
	}
	fmt.Printf("%s{\"accepted\":%d,\"upgraded\":%d,\"frames_echoed\":%d,\"closes\":%d}\n", CountsPrefix,
		fakeCounts.Accepted, fakeCounts.Upgraded, fakeCounts.FramesEchoed, fakeCounts.Closes)
	return 0
}

// helperArgv runs the test binary as the stand-in target.
func helperArgv() []string { return []string{os.Args[0], "-test.run=^$"} }

// parentHelper starts an environment whose target is a child, prints the
// PIDs of everything it started and its folder, and waits to be killed.
func parentHelper(t Topology) int {
	os.Setenv(helperEnv, "serve")
	e, err := Start(context.Background(), Spec{Topology: t, TargetArgv: helperArgv(), ProxyArgv: nil})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	pids := []int{e.TargetPID()}
	if p := e.ProxyPID(); p > 0 {
		pids = append(pids, p)
		pids = append(pids, proc.Descendants(p)...)
	}
	fmt.Println("dir", e.dir)
	fmt.Println("pids", strings.Trim(fmt.Sprint(pids), "[]"))
	time.Sleep(time.Minute)
	return 0
}

// waitGone waits up to d for every pid to have exited.
func waitGone(t *testing.T, d time.Duration, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(d)
	for _, p := range pids {
		for proc.Alive(p) {
			if time.Now().After(deadline) {
				t.Fatalf("pid %d still running %v later", p, d)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func haveProgram(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed (apt-get install -y %s)", name, name)
	}
}

func TestTopologyTable(t *testing.T) {
	t.Parallel()
	if got := fmt.Sprint(Topologies()); got != "[direct builtin nginx haproxy]" {
		t.Fatalf("Topologies() = %s", got)
	}
	for _, c := range []struct {
		t        Topology
		proxied  bool
		external string
	}{{Direct, false, ""}, {Builtin, true, ""}, {Nginx, true, "nginx"}, {HAProxy, true, "haproxy"}} {
		if !c.t.Valid() || c.t.Proxied() != c.proxied || string(c.t.ExternalProxy()) != c.external {
			t.Errorf("%s: valid %v, proxied %v, external %q", c.t, c.t.Valid(), c.t.Proxied(), c.t.ExternalProxy())
		}
	}
	if Topology("envoy").Valid() {
		t.Error("envoy is valid")
	}
	if _, err := Start(context.Background(), Spec{Topology: "envoy"}); err == nil || !strings.Contains(err.Error(), "direct, builtin, nginx, haproxy") {
		t.Errorf("Start(envoy) = %v", err)
	}
}

func TestParseCounts(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, stdout string
		want         TargetCounts
		ok           bool
	}{
		{"none", "some line\n", TargetCounts{}, false},
		{"one", "x\n" + CountsPrefix + `{"accepted":5,"upgraded":4,"frames_echoed":100,"closes":3}` + "\n", TargetCounts{Accepted: 5, Upgraded: 4, FramesEchoed: 100, Closes: 3}, true},
		{"rooms and push", CountsPrefix + `{"accepted":1,"frames_received":2,"deliveries_owed":3,"deliveries_written":4,"deliveries_dropped":5,"pushed":6,"push_written":7}`,
			TargetCounts{Accepted: 1, FramesReceived: 2, DeliveriesOwed: 3, DeliveriesWritten: 4, DeliveriesDropped: 5, Pushed: 6, PushWritten: 7}, true},
		{"last wins", CountsPrefix + `{"accepted":1}` + "\n" + CountsPrefix + `{"accepted":2}`, TargetCounts{Accepted: 2}, true},
		{"broken", CountsPrefix + `{"accepted":`, TargetCounts{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ParseCounts(c.stdout)
			if got != c.want || ok != c.ok {
				t.Fatalf("ParseCounts = %+v, %v; want %+v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestRemoveStaleTouchesOnlyDeadRunFolders(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	// A PID that is surely not running: a process that has been reaped.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := dead.Process.Pid
	mk := func(name string) string {
		p := filepath.Join(tmp, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := mk(fmt.Sprintf("wssbench-run-%d-12345", deadPID))
	keep := []string{
		mk(fmt.Sprintf("wssbench-run-%d-12345", os.Getpid())), // this process
		mk(fmt.Sprintf("wssbench-run-%d-99", os.Getppid())),   // alive
		mk("wssbench-run-12345678"),                           // the old naming: owner unknown
		mk(fmt.Sprintf("wssbench-run-%d-abc", deadPID)),       // not the pattern
		mk(fmt.Sprintf("wssbench-nginx-%d-1", deadPID)),       // another prefix
	}
	file := filepath.Join(tmp, fmt.Sprintf("wssbench-run-%d-777", deadPID))
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(tmp, fmt.Sprintf("wssbench-run-%d-778", deadPID))
	if err := os.Symlink(keep[0], link); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, file, link)
	if got := removeStale(tmp); len(got) != 1 || got[0] != stale {
		t.Fatalf("removed %v, want only %s", got, stale)
	}
	for _, p := range keep {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed", p)
		}
	}
}

// TestChildTargetCountsAndStop starts a child target, stops it and reads the
// counts it printed as it exited.
func TestChildTargetCountsAndStop(t *testing.T) {
	t.Setenv(helperEnv, "serve")
	e, err := Start(context.Background(), Spec{Topology: Direct, TargetArgv: helperArgv()})
	if err != nil {
		t.Fatal(err)
	}
	pid, dir := e.TargetPID(), e.dir
	if pid == 0 || e.InProcess() || !strings.HasPrefix(e.URL(), "wss://127.0.0.1:") {
		t.Fatalf("pid %d, in process %v, url %s", pid, e.InProcess(), e.URL())
	}
	if !strings.HasPrefix(filepath.Base(dir), fmt.Sprintf("wssbench-run-%d-", os.Getpid())) {
		t.Fatalf("run folder %s is not named after this process", dir)
	}
	counts, ok, err := e.StopAndCount()
	if err != nil || !ok || counts != fakeCounts {
		t.Fatalf("StopAndCount = %+v, %v, %v; want %+v", counts, ok, err, fakeCounts)
	}
	if e.Failure() != nil {
		t.Fatalf("a stopped target is a failure: %v", e.Failure())
	}
	waitGone(t, time.Second, pid)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("run folder left: %v", err)
	}
}

// TestInProcessTarget checks the in-process path: the target's own counts
// (none, as nothing connected), and no failure when stopped.
func TestInProcessTarget(t *testing.T) {
	t.Parallel()
	e, err := Start(context.Background(), Spec{Topology: Builtin})
	if err != nil {
		t.Fatal(err)
	}
	if !e.InProcess() || e.TargetPID() != 0 || e.ProxyPID() != 0 {
		t.Fatalf("in process %v, pids %d %d", e.InProcess(), e.TargetPID(), e.ProxyPID())
	}
	if c, ok, err := e.StopAndCount(); err != nil || !ok || c != (TargetCounts{}) {
		t.Fatalf("StopAndCount = %+v, %v, %v", c, ok, err)
	}
}

// TestKilledNginxMasterIsAFailure kills nginx's master mid-run, as defect 4
// did: the environment says so at once, its workers die, and its CPU cannot
// be read as 0.
func TestKilledNginxMasterIsAFailure(t *testing.T) {
	haveProgram(t, "nginx")
	e, err := Start(context.Background(), Spec{Topology: Nginx})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	master := e.ProxyPID()
	workers := proc.Descendants(master)
	if len(workers) == 0 {
		t.Fatal("nginx has no workers")
	}
	if err := syscall.Kill(master, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.Failed():
	case <-time.After(3 * time.Second):
		t.Fatal("the master's death was not noticed in 3 s")
	}
	want := fmt.Sprintf("nginx (pid %d) exited during the run: signal: killed", master)
	if err := e.Failure(); err == nil || err.Error() != want {
		t.Fatalf("Failure() = %v, want %q", err, want)
	}
	waitGone(t, 3*time.Second, workers...)
	if _, err := proc.TreeCPU(master); !errors.Is(err, proc.ErrExited) {
		t.Fatalf("TreeCPU of the dead master: %v", err)
	}
	if _, _, err := e.StopAndCount(); err == nil || err.Error() != want {
		t.Fatalf("StopAndCount error %v, want %q", err, want)
	}
}

// TestChildrenDieWithParent kills a run with SIGKILL, which can clean up
// nothing, and checks its target and proxy (nginx with its workers where
// installed) die within seconds and the next Start removes its folder.
func TestChildrenDieWithParent(t *testing.T) {
	topologies := []Topology{Direct}
	for _, p := range []Topology{Nginx, HAProxy} {
		if _, err := exec.LookPath(string(p)); err == nil {
			topologies = append(topologies, p)
		}
	}
	for _, topo := range topologies {
		t.Run(string(topo), func(t *testing.T) {
			parent := exec.Command(os.Args[0], "-test.run=^$")
			parent.Env = append(os.Environ(), helperEnv+"=parent "+string(topo))
			out, err := parent.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := parent.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = parent.Process.Kill(); _ = parent.Wait() }()
			var dir string
			var pids []int
			sc := bufio.NewScanner(out)
			for pids == nil && sc.Scan() {
				f := strings.Fields(sc.Text())
				switch {
				case len(f) == 2 && f[0] == "dir":
					dir = f[1]
				case len(f) > 1 && f[0] == "pids":
					for _, s := range f[1:] {
						p, err := strconv.Atoi(s)
						if err != nil {
							t.Fatalf("helper said %q", sc.Text())
						}
						pids = append(pids, p)
					}
				default:
					t.Fatalf("helper said %q", sc.Text())
				}
			}
			if dir == "" || len(pids) == 0 {
				t.Fatal("the helper printed no folder or PIDs")
			}
			if topo == Nginx && len(pids) < 3 {
				t.Fatalf("nginx without workers: pids %v", pids)
			}
			for _, p := range pids {
				if !proc.Alive(p) {
					t.Fatalf("pid %d of %v is not running", p, pids)
				}
			}
			if err := parent.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = parent.Wait()
			start := time.Now()
			waitGone(t, 5*time.Second, pids...)
			t.Logf("%s: pids %v gone %v after the parent's SIGKILL", topo, pids, time.Since(start).Round(time.Millisecond))
			if _, err := os.Stat(dir); err != nil {
				t.Fatalf("the killed run's folder is already gone (%v): nothing left to test", err)
			}
			e, err := Start(context.Background(), Spec{Topology: Direct})
			if err != nil {
				t.Fatal(err)
			}
			e.Stop()
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the next Start left the stale folder %s: %v", dir, err)
			}
		})
	}
}

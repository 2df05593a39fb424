package bench

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench/proc"
)

// childrenNamed returns the PIDs of this process's children whose command is name.
func childrenNamed(t *testing.T, name string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(s[j+1:])
		if len(f) > 1 && s[i+1:j] == name && f[1] == strconv.Itoa(os.Getpid()) && f[0] != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

// TestProxyDeathFailsTheRun is defect 4 of issue 9: nginx's master killed
// mid-run left the run ok, with negative proxy CPU, and its worker
// listening. The death fails the run with the child's name and exit status,
// no CPU figure is negative, and nothing of nginx is left.
func TestProxyDeathFailsTheRun(t *testing.T) {
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Skip("nginx is not installed (apt-get install -y nginx)")
	}
	t.Parallel()
	cfg := Default()
	cfg.Conns, cfg.ConnectRate, cfg.Duration, cfg.MsgRate = 10, 0, Duration(1500*time.Millisecond), 10
	cfg.Topology = []string{TopologyNginx}
	p, err := cfg.Plan()
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var killed []int
	// The target runs in this process (the test binary is no wssbench); nginx is a child.
	opt := Options{Interval: 100 * time.Millisecond, Progress: func(pr Progress) {
		if pr.Phase != "steady" {
			return
		}
		once.Do(func() {
			killed = childrenNamed(t, "nginx")
			for _, pid := range killed {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		})
	}}
	s, err := Run(context.Background(), p, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(killed) == 0 {
		t.Fatal("found no nginx master to kill")
	}
	r := s.Runs[0]
	var died string
	for _, why := range r.Reasons() {
		if why.Kind == ReasonChildDied {
			died = why.Text
		}
	}
	if !strings.Contains(died, "nginx") || !strings.Contains(died, "killed") {
		t.Fatalf("reasons %+v: want the nginx death with its exit status", r.Reasons())
	}
	for _, c := range []time.Duration{r.CPU.Proxy, r.CPU.ProxyByPhase.Connect, r.CPU.ProxyByPhase.Steady, r.CPU.ProxyByPhase.Close} {
		if c < 0 {
			t.Fatalf("negative proxy CPU: %+v", r.CPU)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range killed {
		for proc.Alive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if proc.Alive(pid) {
			t.Fatalf("nginx %d still alive", pid)
		}
	}
}

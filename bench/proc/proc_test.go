package proc

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuSink keeps busy loops from being optimised away.
var cpuSink int

func TestReadSelf(t *testing.T) {
	t.Parallel()
	// Burn a little CPU so the counters move.
	// Burn CPU until /proc, which counts in 10 ms ticks, has seen some (the
	// sink keeps the compiler from dropping the loop); give up after 5 s.
	var c time.Duration
	var err error
	for deadline := time.Now().Add(5 * time.Second); c == 0 && err == nil && time.Now().Before(deadline); {
		for i := 0; i < 10_000_000; i++ {
			cpuSink += i % 7
		}
		c, err = CPU(os.Getpid())
	}
	if err != nil || c <= 0 {
		t.Fatalf("CPU(self) = %v, %v after 5 s of busy loops", c, err)
	}
	if SelfCPU() <= 0 {
		t.Fatal("SelfCPU is zero after a busy loop")
	}
	m, err := ReadMemory(0)
	if err != nil || m.RSS <= 0 || m.Peak < m.RSS {
		t.Fatalf("ReadMemory = %+v, %v", m, err)
	}
	if _, err := CPU(1 << 30); err == nil {
		t.Fatal("CPU of a missing pid gave no error")
	}
}

func TestStartReadyAndStop(t *testing.T) {
	t.Parallel()
	c, line, err := Start(context.Background(), StartOptions{Name: "sh", Argv: []string{"sh", "-c", "echo noise; echo READY hello; exec sleep 30"}, ReadyPrefix: "READY "})
	if err != nil {
		t.Fatal(err)
	}
	if line != "hello" {
		t.Fatalf("ready line %q, want hello", line)
	}
	start := time.Now()
	c.Stop(5 * time.Second)
	if !c.Exited() || time.Since(start) > 4*time.Second {
		t.Fatalf("child not stopped by SIGTERM promptly (exited %v after %v)", c.Exited(), time.Since(start))
	}
}

func TestStartShowsStderrOfAFailingChild(t *testing.T) {
	t.Parallel()
	_, _, err := Start(context.Background(), StartOptions{Name: "broken", Argv: []string{"sh", "-c", "echo 'bad config line 3' >&2; exit 1"}, ReadyPrefix: "READY"})
	if err == nil || !strings.Contains(err.Error(), "bad config line 3") || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("err = %v, want the child's stderr quoted", err)
	}
	_, _, err = Start(context.Background(), StartOptions{Name: "missing", Argv: []string{"/nonexistent/wssbench-proxy"}})
	if err == nil {
		t.Fatal("starting a missing program gave no error")
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	t.Parallel()
	b := &tailBuffer{max: 10}
	for i := 0; i < 5; i++ {
		if _, err := b.Write([]byte("0123456789")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Write([]byte("END")); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "3456789END" {
		t.Fatalf("tail %q", got)
	}
}

func TestTreeCPUCountsChildren(t *testing.T) {
	t.Parallel()
	// A shell whose child burns CPU: the shell itself uses almost none.
	c, _, err := Start(context.Background(), StartOptions{Name: "tree", Argv: []string{"sh", "-c", "(i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo READY; sleep 3) & wait"}, ReadyPrefix: "READY"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.StopWith(syscall.SIGKILL, time.Second)
	own, err := CPU(c.PID())
	if err != nil {
		t.Fatal(err)
	}
	tree, err := TreeCPU(c.PID())
	if err != nil {
		t.Fatal(err)
	}
	if tree <= own || tree < 50*time.Millisecond {
		t.Fatalf("tree CPU %v, own %v: the busy child was not counted", tree, own)
	}
	if rss, err := TreePeakRSS(c.PID()); err != nil || rss <= 0 {
		t.Fatalf("TreePeakRSS = %d, %v", rss, err)
	}
}

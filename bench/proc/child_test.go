package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary the parent in TestChildrenDieWithParent.
const helperEnv = "WSSBENCH_PROC_TEST_PARENT"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(parentHelper())
	}
	os.Exit(m.Run())
}

// parentHelper starts a child with a grandchild, prints both PIDs and waits
// to be killed.
func parentHelper() int {
	c, line, err := Start(context.Background(), StartOptions{Name: "sh", Argv: []string{"sh", "-c", "sleep 60 & echo READY $!; wait"}, ReadyPrefix: "READY "})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("pids", c.PID(), line)
	time.Sleep(time.Minute)
	return 0
}

// waitGone waits up to d for every pid to have exited.
func waitGone(t *testing.T, d time.Duration, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(d)
	for _, p := range pids {
		for Alive(p) {
			if time.Now().After(deadline) {
				t.Fatalf("pid %d still running %v later", p, d)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// startTree starts sh with a sleeping grandchild and returns both PIDs.
func startTree(t *testing.T, script string) (*Child, int) {
	t.Helper()
	c, line, err := Start(context.Background(), StartOptions{Name: "tree", Argv: []string{"sh", "-c", script}, ReadyPrefix: "READY "})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.StopWith(syscall.SIGKILL, time.Second) })
	grandchild, err := strconv.Atoi(line)
	if err != nil {
		t.Fatalf("ready line %q", line)
	}
	return c, grandchild
}

func TestUnexpectedExitIsNoticedAndItsGroupKilled(t *testing.T) {
	t.Parallel()
	c, grandchild := startTree(t, "sleep 60 & echo READY $!; wait")
	if c.Unexpected() != nil || Lookup(c.PID()) != c {
		t.Fatalf("a running child: Unexpected %v, Lookup %v", c.Unexpected(), Lookup(c.PID()))
	}
	// As someone killing nginx's master would.
	if err := syscall.Kill(c.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("the child's death was not noticed in 3 s")
	}
	want := fmt.Sprintf("tree (pid %d) exited during the run: signal: killed", c.PID())
	if err := c.Unexpected(); err == nil || err.Error() != want {
		t.Fatalf("Unexpected() = %v, want %q", err, want)
	}
	waitGone(t, 3*time.Second, grandchild)
	if _, err := TreeCPU(c.PID()); !errors.Is(err, ErrExited) {
		t.Fatalf("TreeCPU of a dead child: %v, want ErrExited", err)
	}
	if _, err := CPU(c.PID()); !errors.Is(err, ErrExited) {
		t.Fatalf("CPU of a dead child: %v, want ErrExited", err)
	}
	if err := c.Stop(time.Second); err == nil || err.Error() != want {
		t.Fatalf("Stop after the death: %v, want %q", err, want)
	}
	if Lookup(c.PID()) != nil {
		t.Fatal("a stopped child is still in Lookup")
	}
}

func TestStopEndsTheGroupAndKeepsTheLastOutput(t *testing.T) {
	t.Parallel()
	c, grandchild := startTree(t, `trap 'echo bye; exit 0' TERM; sleep 60 & echo READY $!; echo after ready; wait`)
	// The shell may not have printed its second line yet: a TERM before it
	// would run the trap first.
	for deadline := time.Now().Add(5 * time.Second); c.Stdout() == "" && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Stop(5 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	waitGone(t, time.Second, grandchild)
	if out := c.Stdout(); out != "after ready\nbye\n" {
		t.Fatalf("stdout after the ready line %q", out)
	}
	if c.Unexpected() != nil {
		t.Fatalf("a stopped child counts as unexpected: %v", c.Unexpected())
	}
}

func TestStopKillsAChildThatIgnoresSIGTERM(t *testing.T) {
	t.Parallel()
	c, grandchild := startTree(t, `trap '' TERM; sleep 60 & echo READY $!; wait`)
	start := time.Now()
	err := c.Stop(200 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "was killed") || time.Since(start) > 3*time.Second {
		t.Fatalf("Stop = %v after %v, want a kill after the grace", err, time.Since(start))
	}
	waitGone(t, time.Second, grandchild)
}

// TestChildrenDieWithParent kills a parent process with SIGKILL, which can
// run no cleanup, and checks its child and grandchild die anyway.
func TestChildrenDieWithParent(t *testing.T) {
	t.Parallel()
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), helperEnv+"=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = parent.Process.Kill(); _ = parent.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	var child, grandchild int
	if _, serr := fmt.Sscanf(line, "pids %d %d", &child, &grandchild); err != nil || serr != nil {
		t.Fatalf("helper said %q (%v, %v)", line, err, serr)
	}
	if !Alive(child) || !Alive(grandchild) {
		t.Fatal("the helper's children are not running")
	}
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	waitGone(t, 5*time.Second, child, grandchild)
}

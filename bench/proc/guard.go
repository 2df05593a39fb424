package proc

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// guardScript waits for a line on stdin: "done" when the harness has stopped
// the child itself; anything else, end of file included (the harness died and
// the kernel closed its end of the pipe), kills the child's whole group.
const guardScript = `read line; [ "$line" = done ] || kill -KILL -"$1"`

// guardExitWait bounds how long release waits for the guard to exit.
const guardExitWait = 2 * time.Second

// guard is a /bin/sh process that kills a child's process group with SIGKILL
// if this process dies before the child was stopped. It runs in a group of
// its own, so a terminal's Ctrl-C, which goes to the harness's group, leaves
// it alone, and it holds no Pdeathsig: it must outlive the harness.
type guard struct {
	w    *os.File
	done chan struct{}
}

// startGuard starts the guard of process group pgid.
func startGuard(pgid int) (*guard, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/bin/sh", "-c", guardScript, "wssbench-guard", strconv.Itoa(pgid))
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("start the guard that kills it with this process: %w", err)
	}
	g := &guard{w: w, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(g.done)
	}()
	return g, nil
}

// release tells the guard its child is gone and waits for it to exit.
func (g *guard) release() {
	// An error means the guard has died already; its group kill, if any, is done.
	_, _ = g.w.WriteString("done\n")
	g.w.Close()
	select {
	case <-g.done:
	case <-time.After(guardExitWait):
	}
}

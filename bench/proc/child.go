package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// outputTail is how much of a child's stdout and stderr a Child keeps.
const outputTail = 8 << 10

// drainWait bounds how long a child that has exited may keep its output
// pipes open through a descendant that escaped the group kill.
const drainWait = time.Second

// Child is a process started by the harness. It runs in its own process
// group, which Stop ends as a whole (nginx's workers with their master); it
// dies with the harness, even one killed with SIGKILL (see Start); and it is
// watched: an exit before Stop is recorded (Unexpected) and what is left of
// its group is killed at once.
type Child struct {
	// Name labels the child in messages ("built-in target", "nginx").
	Name string
	cmd  *exec.Cmd
	pid  int
	// stdout keeps the child's output after the ready line, stderr all of
	// its error output: the last outputTail bytes of each.
	stdout, stderr *tailBuffer
	outDone        chan struct{}
	errDone        chan struct{}
	guard          *guard
	stopping       atomic.Bool
	// done is closed once the child has exited and its group is gone; err
	// and unexpected are set before.
	done       chan struct{}
	err        error
	unexpected error
	stdin      io.WriteCloser
	onLine     func(string)
}

// StartOptions describe a child to start.
type StartOptions struct {
	// Name labels the child in messages.
	Name string
	// Argv is the program and its arguments.
	Argv []string
	// ReadyPrefix, if set, makes Start wait for a stdout line beginning with it
	// and return the rest of that line.
	ReadyPrefix string
	// ReadyTimeout bounds the wait (default 10 s).
	ReadyTimeout time.Duration
	// Env is added to the child's environment.
	Env []string
	// Stdin, if set, gives the child a pipe for its stdin (Child.Stdin); the
	// child sees EOF when this process dies or closes it.
	Stdin bool
	// OnLine, if set, is called with each stdout line after the ready line
	// (without its newline), in order, from the goroutine that reads them.
	OnLine func(line string)
}

// running are the children started and not yet stopped, by PID, for Lookup.
var running sync.Map

// Lookup returns the child with this PID that Start started and Stop has not
// yet stopped, or nil. It lets a caller watch a child that another package
// started (the external proxies) by the PID that package exposes.
func Lookup(pid int) *Child {
	c, ok := running.Load(pid)
	if !ok {
		return nil
	}
	return c.(*Child)
}

// Start runs a child process in its own process group. With a ReadyPrefix it
// waits for that line on stdout and returns what followed the prefix; a child
// that exits first is an error that quotes its stderr. Stdout after the ready
// line is read on (so the child never blocks on it) and its tail kept for
// Stdout.
//
// The child dies with this process, whatever ends it: it gets SIGKILL from the
// kernel when the thread that started it exits (Pdeathsig; Start holds that
// thread locked for the child's life), and a small guard process (/bin/sh,
// in a group of its own) kills the child's whole group with SIGKILL when this
// process dies before Stop, so grandchildren such as nginx's workers die too.
func Start(ctx context.Context, o StartOptions) (*Child, string, error) {
	if len(o.Argv) == 0 {
		return nil, "", fmt.Errorf("start %s: no program given", o.Name)
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 10 * time.Second
	}
	cmd := exec.Command(o.Argv[0], o.Argv[1:]...)
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c := &Child{Name: o.Name, cmd: cmd, stdout: &tailBuffer{max: outputTail}, stderr: &tailBuffer{max: outputTail},
		outDone: make(chan struct{}), errDone: make(chan struct{}), done: make(chan struct{})}
	// Pipes of our own, not exec's: Wait then returns when the child exits,
	// not when the last grandchild holding the pipe does, and it does not
	// close stdout under the reader before the child's last line is read.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, "", err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	c.onLine = o.OnLine
	if o.Stdin {
		if c.stdin, err = cmd.StdinPipe(); err != nil {
			outR.Close()
			outW.Close()
			errR.Close()
			errW.Close()
			return nil, "", err
		}
	}
	err = startLocked(cmd, c.done)
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, "", fmt.Errorf("start %s (%s): %w", o.Name, o.Argv[0], err)
	}
	c.pid = cmd.Process.Pid
	ready := make(chan string, 1)
	go c.readStdout(outR, o.ReadyPrefix, ready)
	go func() {
		defer close(c.errDone)
		defer errR.Close()
		_, _ = io.Copy(c.stderr, errR)
	}()
	if c.guard, err = startGuard(c.pid); err != nil {
		_ = syscall.Kill(-c.pid, syscall.SIGKILL)
		_ = cmd.Wait()
		close(c.done)
		return nil, "", fmt.Errorf("start %s: %w", o.Name, err)
	}
	running.Store(c.pid, c)
	go c.wait()
	if o.ReadyPrefix == "" {
		return c, "", nil
	}
	t := time.NewTimer(o.ReadyTimeout)
	defer t.Stop()
	select {
	case line := <-ready:
		return c, line, nil
	case <-c.done:
		running.CompareAndDelete(c.pid, c)
		return nil, "", fmt.Errorf("%s exited before it was ready (%v); its stderr:\n%s", o.Name, exitText(c.err), c.stderr.String())
	case <-t.C:
		_ = c.Stop(time.Second)
		return nil, "", fmt.Errorf("%s not ready after %v; its stderr:\n%s", o.Name, o.ReadyTimeout, c.stderr.String())
	case <-ctx.Done():
		_ = c.Stop(time.Second)
		return nil, "", ctx.Err()
	}
}

// startLocked starts cmd from a goroutine locked to its OS thread until done
// is closed: the kernel sends Pdeathsig when the thread that forked the child
// exits, not the process, and Go may end idle threads of its own.
func startLocked(cmd *exec.Cmd, done <-chan struct{}) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		errc <- err
		if err == nil {
			<-done
		}
	}()
	return <-errc
}

// readStdout sends the first line that starts with prefix to ready and keeps
// the rest of stdout, until the pipe closes.
func (c *Child) readStdout(r *os.File, prefix string, ready chan<- string) {
	defer close(c.outDone)
	defer r.Close()
	br := bufio.NewReader(r)
	sent := prefix == ""
	for {
		line, err := br.ReadString('\n')
		if !sent && strings.HasPrefix(line, prefix) && (err == nil || err == io.EOF) {
			ready <- strings.TrimSpace(strings.TrimPrefix(line, prefix))
			sent = true
		} else if line != "" {
			_, _ = c.stdout.Write([]byte(line))
			if c.onLine != nil && sent {
				c.onLine(strings.TrimRight(line, "\r\n"))
			}
		}
		if err != nil {
			return
		}
	}
}

// wait reaps the child, kills what is left of its group, releases the guard
// and records whether the exit came before Stop.
func (c *Child) wait() {
	err := c.cmd.Wait()
	// Descendants outlive a master that died (nginx's workers): end them. The
	// group's id cannot be reused while any of them is alive.
	_ = syscall.Kill(-c.pid, syscall.SIGKILL)
	c.guard.release()
	t := time.NewTimer(drainWait)
	defer t.Stop()
	for _, d := range []chan struct{}{c.outDone, c.errDone} {
		select {
		case <-d:
		case <-t.C:
		}
	}
	c.err = err
	if !c.stopping.Load() {
		c.unexpected = fmt.Errorf("%s (pid %d) exited during the run: %s", c.Name, c.pid, exitText(err))
	}
	close(c.done)
}

// exitText is how a process ended, as exec words it ("exit status 1",
// "signal: killed").
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// PID returns the child's process id, which is also its process group id.
func (c *Child) PID() int { return c.pid }

// Stderr returns the child's last stderr output (complete once it has exited).
func (c *Child) Stderr() string { return c.stderr.String() }

// Stdout returns the child's last stdout output after the ready line
// (complete once it has exited).
func (c *Child) Stdout() string { return c.stdout.String() }

// Stdin is the write end of the child's stdin, nil unless StartOptions.Stdin.
func (c *Child) Stdin() io.WriteCloser { return c.stdin }

// ExitErr is how the child ended, once Done is closed: nil for exit status 0,
// else an *exec.ExitError.
func (c *Child) ExitErr() error {
	<-c.done
	return c.err
}

// Done is closed once the child has exited, for whatever reason.
func (c *Child) Done() <-chan struct{} { return c.done }

// Exited reports whether the child has exited.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Unexpected returns nil while the child runs and after an exit that Stop
// asked for; for a child that exited before Stop was called, it returns an
// error naming the child, its PID and how it ended, such as
// "nginx (pid 1234) exited during the run: signal: killed".
func (c *Child) Unexpected() error {
	if !c.Exited() {
		return nil
	}
	return c.unexpected
}

// ExpectExit marks the child's exit from now on as asked for, not a
// failure, as Stop does, for a caller that ends it another way (a signal the
// child answers by exiting, or a kill after one). Stop still ends it.
func (c *Child) ExpectExit() { c.stopping.Store(true) }

// Signal sends sig to the child by its PID (not its group), if it is still running.
func (c *Child) Signal(sig os.Signal) error {
	if c.Exited() {
		return nil
	}
	return c.cmd.Process.Signal(sig)
}

// Stop asks the child's process group to end with SIGTERM, waits up to grace,
// then kills the group with SIGKILL. It returns once the child has exited;
// see StopWith for the error.
func (c *Child) Stop(grace time.Duration) error {
	return c.StopWith(syscall.SIGTERM, grace)
}

// StopWith is Stop with a chosen first signal (nginx stops gracefully on
// SIGQUIT, haproxy on SIGUSR1). The error is the Unexpected one for a child
// that had exited before; one that says so for a child that had to be killed
// after grace, or that exited with a status other than 0 or sig; else nil.
// It may be called more than once.
func (c *Child) StopWith(sig os.Signal, grace time.Duration) error {
	c.stopping.Store(true)
	defer running.CompareAndDelete(c.pid, c)
	if c.Exited() {
		return c.stopErr(sig, false)
	}
	if s, ok := sig.(syscall.Signal); ok {
		// An error means the group is already gone; wait has reaped it or will.
		_ = syscall.Kill(-c.pid, s)
	} else {
		_ = c.cmd.Process.Signal(sig)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
		return c.stopErr(sig, false)
	case <-t.C:
		_ = syscall.Kill(-c.pid, syscall.SIGKILL)
		<-c.done
		return c.stopErr(sig, true)
	}
}

func (c *Child) stopErr(sig os.Signal, killed bool) error {
	if c.unexpected != nil {
		return c.unexpected
	}
	if killed {
		return fmt.Errorf("%s (pid %d) did not exit within the grace period after %v and was killed", c.Name, c.pid, sig)
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == sig {
			return nil
		}
		return fmt.Errorf("%s (pid %d) %s when stopped with %v", c.Name, c.pid, exitText(c.err), sig)
	}
	return c.err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

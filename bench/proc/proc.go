// Package proc starts the child processes a run needs (the built-in target,
// proxies), stops them by their own PID, and reads CPU time and memory of
// processes from /proc.
package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; it is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// CPU returns the user+system CPU time a process has used so far.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it start past ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat format", pid)
	}
	// utime and stime are fields 14 and 15 of the whole line: 12 and 13 after ')'.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// SelfCPU returns this process's user+system CPU time, with microsecond resolution.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Memory is a process's resident memory in bytes.
type Memory struct {
	// RSS is the resident set now; Peak the highest it has been (VmHWM).
	RSS, Peak int64
}

// ReadMemory reads VmRSS and VmHWM of a process (pid 0 is this process).
func ReadMemory(pid int) (Memory, error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &m.RSS
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &m.Peak
		default:
			continue
		}
		fs := strings.Fields(line)
		if len(fs) >= 2 {
			kb, err := strconv.ParseInt(fs[1], 10, 64)
			if err == nil {
				*dst = kb * 1024
			}
		}
	}
	return m, sc.Err()
}

// Child is a process started by the harness.
type Child struct {
	// Name labels the child in messages ("target", "nginx").
	Name string
	cmd  *exec.Cmd
	// stderr keeps the child's last output, to show when it fails.
	stderr *tailBuffer
	done   chan struct{}
	err    error
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
}

// Start runs a child process. With a ReadyPrefix it waits for that line on
// stdout and returns what followed the prefix; a child that exits first is an
// error that quotes its stderr.
func Start(ctx context.Context, o StartOptions) (*Child, string, error) {
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 10 * time.Second
	}
	cmd := exec.Command(o.Argv[0], o.Argv[1:]...)
	cmd.Env = append(os.Environ(), o.Env...)
	// A grandchild that keeps our pipes open must not keep Wait from returning
	// once the child itself has exited.
	cmd.WaitDelay = 2 * time.Second
	c := &Child{Name: o.Name, cmd: cmd, stderr: &tailBuffer{max: 8 << 10}, done: make(chan struct{})}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s (%s): %w", o.Name, o.Argv[0], err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			if !sent && o.ReadyPrefix != "" && strings.HasPrefix(sc.Text(), o.ReadyPrefix) {
				ready <- strings.TrimSpace(strings.TrimPrefix(sc.Text(), o.ReadyPrefix))
				sent = true
			}
		}
		// Drain whatever else comes so the child never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	if o.ReadyPrefix == "" {
		return c, "", nil
	}
	t := time.NewTimer(o.ReadyTimeout)
	defer t.Stop()
	select {
	case line := <-ready:
		return c, line, nil
	case <-c.done:
		return nil, "", fmt.Errorf("%s exited before it was ready (%v); its stderr:\n%s", o.Name, c.err, c.stderr.String())
	case <-t.C:
		c.Stop(time.Second)
		return nil, "", fmt.Errorf("%s not ready after %v; its stderr:\n%s", o.Name, o.ReadyTimeout, c.stderr.String())
	case <-ctx.Done():
		c.Stop(time.Second)
		return nil, "", ctx.Err()
	}
}

// PID returns the child's process id.
func (c *Child) PID() int { return c.cmd.Process.Pid }

// Stderr returns the child's last stderr output.
func (c *Child) Stderr() string { return c.stderr.String() }

// Exited reports whether the child has exited.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the child by its PID, if it is still running.
func (c *Child) Signal(sig os.Signal) error {
	if c.Exited() {
		return nil
	}
	return c.cmd.Process.Signal(sig)
}

// Stop asks the child to end with SIGTERM, waits up to grace, then kills it.
// It returns once the child has exited.
func (c *Child) Stop(grace time.Duration) {
	c.StopWith(syscall.SIGTERM, grace)
}

// StopWith is Stop with a chosen first signal (nginx stops gracefully on
// SIGQUIT, haproxy on SIGUSR1).
func (c *Child) StopWith(sig os.Signal, grace time.Duration) {
	if c.Exited() {
		return
	}
	// An error means the process is already gone; Wait has reaped it or will.
	_ = c.cmd.Process.Signal(sig)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.done
	}
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

// TreeCPU returns the CPU time of pid and all its descendants now running
// (nginx does its work in worker processes under the master).
func TreeCPU(pid int) (time.Duration, error) {
	total, err := CPU(pid)
	if err != nil {
		return 0, err
	}
	for _, child := range descendants(pid) {
		// A descendant that exited between the scan and the read is skipped.
		if c, err := CPU(child); err == nil {
			total += c
		}
	}
	return total, nil
}

// TreePeakRSS returns the sum of the peak RSS of pid and its descendants.
func TreePeakRSS(pid int) (int64, error) {
	m, err := ReadMemory(pid)
	if err != nil {
		return 0, err
	}
	total := m.Peak
	for _, child := range descendants(pid) {
		if cm, err := ReadMemory(child); err == nil {
			total += cm.Peak
		}
	}
	return total, nil
}

// descendants lists the running descendants of pid, read from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			parent[p] = pp
		}
	}
	var out []int
	frontier := []int{pid}
	for len(frontier) > 0 {
		next := frontier[0]
		frontier = frontier[1:]
		for p, pp := range parent {
			if pp == next {
				out = append(out, p)
				frontier = append(frontier, p)
			}
		}
	}
	return out
}

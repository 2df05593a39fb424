// Package proc starts the child processes a run needs (the built-in target,
// proxies), watches them, stops them with their whole process group, makes
// sure they die with the harness, and reads CPU time and memory of processes
// from /proc.
package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; it is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// ErrExited is wrapped by the readings of a process that is gone: one that
// does not exist, or a zombie (exited, not yet reaped). A reading of such a
// process is not 0 CPU but no reading at all, so a caller must not subtract it.
var ErrExited = errors.New("the process has exited")

// stat is what wssbench reads of /proc/PID/stat.
type stat struct {
	state                        byte
	ppid                         int
	utime, stime, cutime, cstime int64 // clock ticks
}

// readStat reads /proc/PID/stat; a process that is not there wraps ErrExited.
func readStat(pid int) (stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return stat{}, fmt.Errorf("pid %d: %w", pid, ErrExited)
	}
	if err != nil {
		return stat{}, err
	}
	// The command name (field 2) may hold spaces; fields after it start past ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("unexpected /proc/%d/stat format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 || len(f[0]) != 1 {
		return stat{}, fmt.Errorf("unexpected /proc/%d/stat format", pid)
	}
	s := stat{state: f[0][0]}
	var errs [5]error
	s.ppid, errs[0] = strconv.Atoi(f[1])
	// utime, stime, cutime and cstime are fields 14 to 17 of the whole line: 12 to 15 after ')'.
	s.utime, errs[1] = strconv.ParseInt(f[11], 10, 64)
	s.stime, errs[2] = strconv.ParseInt(f[12], 10, 64)
	s.cutime, errs[3] = strconv.ParseInt(f[13], 10, 64)
	s.cstime, errs[4] = strconv.ParseInt(f[14], 10, 64)
	if err := errors.Join(errs[:]...); err != nil {
		return stat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return s, nil
}

// gone reports whether a process in this state has exited (zombie or dead).
func (s stat) gone() bool { return s.state == 'Z' || s.state == 'X' }

func ticks(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }

// CPU returns the user+system CPU time a process has used so far. A process
// that has exited (gone or a zombie) is an error wrapping ErrExited, never 0.
func CPU(pid int) (time.Duration, error) {
	s, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	if s.gone() {
		return 0, fmt.Errorf("pid %d: %w", pid, ErrExited)
	}
	return ticks(s.utime + s.stime), nil
}

// Alive reports whether pid is a process that has not exited (a zombie has).
func Alive(pid int) bool {
	s, err := readStat(pid)
	return err == nil && !s.gone()
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

// ReadMemory reads VmRSS and VmHWM of a process (pid 0 is this process). A
// process that is not there is an error wrapping ErrExited.
func ReadMemory(pid int) (Memory, error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Memory{}, fmt.Errorf("pid %d: %w", pid, ErrExited)
	}
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

// TreeCPU returns the CPU time of pid and all its descendants (nginx does its
// work in worker processes under the master), including what descendants that
// have exited and been reaped used: so it only grows while pid lives. A pid
// that has exited is an error wrapping ErrExited, never 0: a caller that
// subtracts two readings must not use one that failed.
func TreeCPU(pid int) (time.Duration, error) {
	root, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	if root.gone() {
		return 0, fmt.Errorf("pid %d: %w", pid, ErrExited)
	}
	total := root.utime + root.stime + root.cutime + root.cstime
	for _, child := range Descendants(pid) {
		// A descendant that was reaped between the scan and the read is
		// counted in its parent's cutime and cstime instead.
		if s, err := readStat(child); err == nil {
			total += s.utime + s.stime + s.cutime + s.cstime
		}
	}
	return ticks(total), nil
}

// TreePeakRSS returns the sum of the peak RSS of pid and its descendants.
func TreePeakRSS(pid int) (int64, error) {
	m, err := ReadMemory(pid)
	if err != nil {
		return 0, err
	}
	total := m.Peak
	for _, child := range Descendants(pid) {
		if cm, err := ReadMemory(child); err == nil {
			total += cm.Peak
		}
	}
	return total, nil
}

// Descendants lists the descendants of pid that /proc shows now (zombies
// included), read from the parent links in /proc/PID/stat.
func Descendants(pid int) []int {
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
		if s, err := readStat(p); err == nil {
			parent[p] = s.ppid
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

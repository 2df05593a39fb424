package bench

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// fdMargin is the open files a process needs besides its sockets.
const fdMargin = 64

// Limits are the resource limits a run is checked against.
type Limits struct {
	// OpenFiles is the soft RLIMIT_NOFILE of this process.
	OpenFiles uint64
	// PortLow and PortHigh bound the ephemeral port range.
	PortLow, PortHigh int
}

// ReadLimits reads the open-file limit and the ephemeral port range.
func ReadLimits() Limits {
	l := Limits{PortLow: 32768, PortHigh: 60999}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		l.OpenFiles = rl.Cur
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		// A malformed file keeps the kernel's default range.
		_, _ = fmt.Sscan(strings.TrimSpace(string(b)), &l.PortLow, &l.PortHigh)
	}
	return l
}

// Preflight refuses a run of the cell that cannot reach its connection count
// on this machine, before any load is sent, and says what to change.
func (cell *Cell) Preflight(l Limits, targetInProcess bool) error {
	c := &cell.Config
	conns := uint64(c.Conns)
	need := conns + fdMargin
	who := "the driver"
	if targetInProcess {
		need = 2*conns + fdMargin
		who = "the driver and the in-process target"
	}
	if l.OpenFiles > 0 && need > l.OpenFiles {
		max := (l.OpenFiles - fdMargin)
		if targetInProcess {
			max /= 2
		}
		return inputErr("--conns %d needs about %d open files for %s, but this process may open %d (ulimit -n): lower --conns to %d or less, or split the load over several driver processes",
			c.Conns, need, who, l.OpenFiles, max)
	}
	sources := len(cell.Driver.SourceIPs)
	if sources == 0 {
		sources = 1
	}
	ports := l.PortHigh - l.PortLow + 1
	// In a handshake storm closed connections linger in TIME_WAIT; only the
	// steady and hold modes hold every connection at once.
	perSource := (c.Conns + sources - 1) / sources
	if c.RunMode().HoldsAll() && perSource > ports*97/100 {
		return inputErr("--conns %d over %d source address(es) needs %d ephemeral ports per address, but the range %d-%d has %d: add source addresses, such as --source-ips 127.0.0.2-127.0.0.%d",
			c.Conns, sources, perSource, l.PortLow, l.PortHigh, ports, 2+c.Conns/(ports*9/10))
	}
	return nil
}

//go:build unix

package live

import (
	"syscall"
	"time"
)

// cpuMeter measures this process's CPU use between readings.
type cpuMeter struct {
	cpu time.Duration
	at  time.Time
}

// cores is the CPU this process used since the last reading, in cores (0
// on the first reading).
func (m *cpuMeter) cores() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	now := time.Now()
	var c float64
	if !m.at.IsZero() && now.After(m.at) {
		c = (cpu - m.cpu).Seconds() / now.Sub(m.at).Seconds()
	}
	m.cpu, m.at = cpu, now
	return c
}

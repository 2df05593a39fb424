//go:build !unix

package live

// cpuMeter reads no CPU where the platform has no getrusage.
type cpuMeter struct{}

func (m *cpuMeter) cores() float64 { return 0 }

package reports

import (
	"os"
	"runtime"
	"strings"
)

// Build says what produced the report and on which machine.
type Build struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
	// CPUModel is the "model name" of /proc/cpuinfo (the architecture where there is none).
	CPUModel string `json:"cpu_model"`
	// Cores is the number of logical CPUs the process could use.
	Cores int `json:"cores"`
	// OS and Arch are Go's GOOS and GOARCH; Kernel the kernel release
	// (/proc/sys/kernel/osrelease); OSRelease the distribution's PRETTY_NAME (/etc/os-release).
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Kernel    string `json:"kernel,omitempty"`
	OSRelease string `json:"os_release,omitempty"`
}

// Meta is what the binary knows about itself.
type Meta struct {
	// Version and Commit are set at build time (see the Makefile).
	Version, Commit string
}

// NewBuild describes this binary and the machine it runs on (a search
// report's build; a run's is set by FromSeries).
func NewBuild(meta Meta) Build {
	return Build{Version: meta.Version, Commit: meta.Commit, GoVersion: runtime.Version(), CPUModel: cpuModel(),
		Cores: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, Kernel: kernelRelease(), OSRelease: osRelease()}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func osRelease() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

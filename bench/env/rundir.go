package env

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/wssbench/wssbench/bench/proc"
)

// runDirPrefix starts the name of a run's temporary folder, which holds its
// certificates and keys and the external proxies' configs:
// wssbench-run-<pid of the harness>-<random digits>.
const runDirPrefix = "wssbench-run-"

// MakeRunDir makes a private temporary folder for one run's files, named
// after this process, so that a later run removes it if this process dies
// before it does. The caller removes it when the run ends.
func MakeRunDir() (string, error) {
	return os.MkdirTemp("", fmt.Sprintf("%s%d-", runDirPrefix, os.Getpid()))
}

// runDirOwner returns the PID in a run folder's name, or false for any name
// that is not exactly wssbench-run-<pid>-<digits>.
func runDirOwner(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, runDirPrefix)
	if !ok {
		return 0, false
	}
	pidText, random, ok := strings.Cut(rest, "-")
	if !ok || !allDigits(pidText) || !allDigits(random) {
		return 0, false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// removeStale removes the run folders in tmp that a run of this user left
// behind when it was killed: folders (not links, not files) named as
// makeRunDir names them whose owning process is no longer running. It touches
// nothing else, and returns what it removed.
func removeStale(tmp string) []string {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		pid, ok := runDirOwner(e.Name())
		if !ok || pid == os.Getpid() || proc.Alive(pid) {
			continue
		}
		path := filepath.Join(tmp, e.Name())
		fi, err := os.Lstat(path)
		if err != nil || !fi.IsDir() {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() {
			continue
		}
		// Best effort: what cannot be removed now is tried by the next run.
		if os.RemoveAll(path) == nil {
			removed = append(removed, path)
		}
	}
	return removed
}

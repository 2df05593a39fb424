package fleet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wssbench/wssbench/bench/driver"
)

// ErrParentGone is returned by a Link's waits when the parent closed the
// member's stdin (it died, or gave up on the run).
var ErrParentGone = errors.New("the parent process is gone (stdin closed)")

// Link is a member's side of the protocol: it reads its parent's lines from
// in and writes its own to out.
type Link struct {
	mu     sync.Mutex
	out    io.Writer
	start  chan time.Time
	steady chan struct{}
	gone   chan struct{}
}

// Join starts reading the parent's lines from in (the member's stdin).
func Join(in io.Reader, out io.Writer) *Link {
	l := &Link{out: out, start: make(chan time.Time, 1), steady: make(chan struct{}), gone: make(chan struct{})}
	go l.read(in)
	return l
}

func (l *Link) read(in io.Reader) {
	defer close(l.gone)
	sc := bufio.NewScanner(in)
	steadied := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, cmdStart):
			if ns, err := strconv.ParseInt(strings.TrimPrefix(line, cmdStart), 10, 64); err == nil {
				select {
				case l.start <- time.Unix(0, ns):
				default:
				}
			}
		case line == cmdSteady && !steadied:
			steadied = true
			close(l.steady)
		}
	}
}

// Gone is closed when the parent closed the member's stdin.
func (l *Link) Gone() <-chan struct{} { return l.gone }

func (l *Link) say(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A parent that stopped reading is seen as a closed stdin too.
	_, _ = fmt.Fprintf(l.out, Prefix+format+"\n", a...)
}

// Ready tells the parent the driver is built, and waits for the start time.
func (l *Link) Ready(ctx context.Context) (time.Time, error) {
	l.say("%s", lineReady)
	select {
	case at := <-l.start:
		return at, nil
	case <-l.gone:
		return time.Time{}, ErrParentGone
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// Up tells the parent every connection is up, and waits until every other
// member's are too.
func (l *Link) Up(ctx context.Context) error {
	l.say("%s", lineUp)
	select {
	case <-l.steady:
		return nil
	case <-l.gone:
		return ErrParentGone
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Phase tells the parent a phase began.
func (l *Link) Phase(name string) { l.say("%s%s", linePhase, name) }

// Progress sends the member's live counters.
func (l *Link) Progress(p driver.Progress) {
	b, err := json.Marshal(p)
	if err != nil {
		return
	}
	l.say("%s%s", lineProgress, b)
}

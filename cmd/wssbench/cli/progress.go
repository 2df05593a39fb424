package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/wssbench/wssbench/bench"
)

// progressLine prints the live progress of a run: rewritten in place on a
// terminal, one line every few seconds otherwise (CI logs).
type progressLine struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	lastLine time.Time
	wrote    bool
}

func newProgressLine(w io.Writer) *progressLine {
	p := &progressLine{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progressLine) update(pr bench.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("[%6.1fs] %-7s conns %d/%d up (%d open, %d failed)  frames/s %.0f  errors %d",
		pr.Elapsed.Seconds(), pr.Phase, pr.Established, pr.Target, pr.Open, pr.Failed, pr.FramesPerSec, pr.Errors)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.wrote = true
		return
	}
	if time.Since(p.lastLine) >= 5*time.Second {
		fmt.Fprintln(p.w, line)
		p.lastLine = time.Now()
	}
}

func (p *progressLine) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.wrote {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

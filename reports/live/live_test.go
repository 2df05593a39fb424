package live

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wssbench/wssbench/bench"
	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/metrics"
	"github.com/wssbench/wssbench/reports"
)

// served starts a page on a free loopback port, stopped at the test's end.
func served(t *testing.T, cfg Config) *Page {
	t.Helper()
	p := New(cfg)
	if err := p.Serve(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// feed gives p the i-th second of a fake run: an interval with samples in
// every histogram shown, then its progress with 100 more frames.
func feed(p *Page, i int) {
	iv := metrics.Interval{Start: time.Now().Add(-time.Second), End: time.Now()}
	for m := range iv.H {
		iv.H[m] = metrics.NewHistogram()
		for k := 1; k <= 50; k++ {
			// RecordValue fails only above the histogram's highest value.
			_ = iv.H[m].RecordValue(int64(k*(i+1)) * int64(time.Microsecond) * int64(m+1))
		}
	}
	p.Interval(iv)
	p.Progress(bench.Progress{Progress: driver.Progress{Attempted: 10, Established: 10, Open: 10, Phase: driver.PhaseSteady,
		FramesSent: int64(100 * (i + 1)), FramesReceived: int64(100 * (i + 1)), Errors: int64(i), ErrorsByClass: map[string]int64{"timeout": int64(i)}},
		Target: 10, Elapsed: time.Duration(i+1) * time.Second, FramesPerSec: 100})
}

type event struct {
	name string
	data []byte
}

// readEvents reads server-sent events from r onto a channel until r ends.
func readEvents(r io.Reader) <-chan event {
	ch := make(chan event, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					ch <- ev
				}
				ev = event{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = []byte(strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	return ch
}

func follow(t *testing.T, p *Page) <-chan event {
	t.Helper()
	resp, err := http.Get(p.URL() + "events")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("/events Content-Type %q", ct)
	}
	return readEvents(resp.Body)
}

func next(t *testing.T, ch <-chan event, name string) event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("the stream ended before a %q event", name)
			}
			if ev.name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %q event within 10 s", name)
		}
	}
}

// assetURL finds what a browser would fetch: src/href to another origin,
// url(...) in CSS, @import, <link> and external scripts.
var assetURL = regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?(https?:)?//|@import|<link\b|<script[^>]*\bsrc\s*=`)

func TestLivePageIsSelfContained(t *testing.T) {
	t.Parallel()
	p := served(t, Config{Title: "wssbench steady"})
	for i := range 3 {
		feed(p, i)
	}
	resp, err := http.Get(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	page := string(body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	if m := assetURL.FindString(page); m != "" {
		t.Errorf("the page fetches an asset: %q", m)
	}
	// Only the SVG namespace names an http URL, and no browser fetches it.
	if n, ns := strings.Count(page, "http://"), strings.Count(page, `xmlns="http://www.w3.org/2000/svg"`)+strings.Count(page, `xmlns:xlink="http://www.w3.org/1999/xlink"`); n != ns || strings.Contains(page, "https://") {
		t.Errorf("the page holds %d http:// URLs, %d of them SVG namespaces, or an https:// one", n, ns)
	}
	// The report's look, the state drawn in, and the script that follows the stream.
	for _, want := range []string{string(reports.StyleSheet()), `<div id="live">`, "300 received", "timeout ×2", `new EventSource("/events")`, "Frames received per second", ">99%</text>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %.80q", want)
		}
	}
	if n := strings.Count(page, "<svg"); n != 8 {
		t.Errorf("the page has %d plots, want 8 (setup and round trip percentiles, delivery, five over time)", n)
	}
	if resp, err := http.Get(p.URL() + "nothing"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing: %v %v", resp.Status, err)
	}
}

func TestLiveEventsFollowTheRun(t *testing.T) {
	t.Parallel()
	p := served(t, Config{})
	ch := follow(t, p)
	var frames []int64
	for i := range 3 {
		feed(p, i)
		// The stream may first repeat the state before this second's feed.
		var d progressEvent
		for d.FramesReceived != int64(100*(i+1)) {
			if err := json.Unmarshal(next(t, ch, "progress").data, &d); err != nil {
				t.Fatal(err)
			}
		}
		frames = append(frames, d.FramesReceived)
		if !strings.Contains(d.HTML, "<svg") || !strings.Contains(d.HTML, fmt.Sprintf("%d received", d.FramesReceived)) {
			t.Fatalf("event %d lacks its plots or counters: %.300s", i, d.HTML)
		}
	}
	for i := 1; i < len(frames); i++ {
		if frames[i] <= frames[i-1] {
			t.Fatalf("frames received did not increase from event to event: %v", frames)
		}
	}
	if len(frames) < 3 {
		t.Fatalf("three events with different frame counts, got %v", frames)
	}
}

// stuckClient opens /events with a small receive buffer and never reads.
func stuckClient(t *testing.T, p *Page) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: %s\r\n\r\n", p.Addr()); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLiveSlowClientLosesEventsNotTheRun(t *testing.T) {
	t.Parallel()
	p := served(t, Config{Buffer: 2, WriteTimeout: time.Minute})
	stuckClient(t, p)
	good := follow(t, p)
	// Each event is tens of KB: the stuck client's socket fills within a
	// few, then its buffer, then events are dropped for it.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; p.Dropped() == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no event dropped for a client that never reads, after %d events sent", p.sent.Load())
		}
		feed(p, i)
		next(t, good, "progress")
	}
	// The run's callbacks still return at once: they never wait on a client.
	start := time.Now()
	for i := range 100 {
		feed(p, 100+i)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("100 Interval and Progress calls with a stuck client took %v", took)
	}
	// The reading client still gets the page's count of drops, and the end.
	var d progressEvent
	for d.Dropped == 0 {
		feed(p, 300)
		if err := json.Unmarshal(next(t, good, "progress").data, &d); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Done(testSeries(t)); err != nil {
		t.Fatal(err)
	}
	next(t, good, "final")
}

// testSeries is a real run's report (testdata/run.json).
func testSeries(t *testing.T) *reports.Series {
	t.Helper()
	doc, err := reports.ReadFile("testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	return doc.Whole
}

func TestLiveDoneShowsTheFinalReport(t *testing.T) {
	t.Parallel()
	p := served(t, Config{})
	ch := follow(t, p)
	feed(p, 0)
	next(t, ch, "progress")
	sr := testSeries(t)
	if err := p.Done(sr); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := reportHTML(&want, sr); err != nil {
		t.Fatal(err)
	}
	var d finalEvent
	if err := json.Unmarshal(next(t, ch, "final").data, &d); err != nil {
		t.Fatal(err)
	}
	if d.HTML != want.String() || !d.OK || !strings.Contains(d.HTML, "Verdict: ok") {
		t.Errorf("the final event is not the --html report with its verdict (ok %v, %d bytes, want %d)", d.OK, len(d.HTML), want.Len())
	}
	// The stream ends after the final event, and the page is the report from now on.
	select {
	case ev, ok := <-ch:
		if ok {
			t.Errorf("an event after the final one: %s", ev.name)
		}
	case <-time.After(5 * time.Second):
		t.Error("the stream did not end after the final event")
	}
	resp, err := http.Get(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(body, want.Bytes()) {
		t.Errorf("GET / after Done is not the --html report (%d bytes, want %d)", len(body), want.Len())
	}
	// A client that comes later gets the final event at once.
	next(t, follow(t, p), "final")
}

func TestLiveServeBadAddress(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, addr := range []string{busy.Addr().String(), "127.0.0.1", "127.0.0.1:99999", "nosuchhost.invalid:80"} {
		err := New(Config{}).Serve(context.Background(), addr)
		if err == nil || !bench.IsInputError(err) || !strings.Contains(err.Error(), "--ui "+addr) {
			t.Errorf("Serve(%q) = %v, want an input error naming --ui", addr, err)
		}
	}
}

func TestLiveLoopback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr     string
		loopback bool
	}{{"127.0.0.1:0", true}, {"localhost:0", true}, {"[::1]:0", true}, {":0", false}} {
		t.Run(tc.addr, func(t *testing.T) {
			p := New(Config{})
			if err := p.Serve(context.Background(), tc.addr); err != nil {
				if strings.Contains(tc.addr, "::1") {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				t.Fatal(err)
			}
			defer p.Close()
			if got := p.Loopback(); got != tc.loopback {
				t.Errorf("Loopback() = %v for %s (%s)", got, tc.addr, p.Addr())
			}
		})
	}
}

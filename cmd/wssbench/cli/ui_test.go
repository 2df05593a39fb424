package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// uiStderr is a stderr that a test reads while Main writes it.
type uiStderr struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *uiStderr) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *uiStderr) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

var liveURL = regexp.MustCompile(`live page: (http://\S+/)\n`)

// uiRun is a run with --ui 127.0.0.1:0 in this process: its page's URL,
// and a channel that gets the exit code.
type uiRun struct {
	url    string
	code   chan int
	stdout strings.Builder
	stderr uiStderr
}

func startUIRun(t *testing.T, args ...string) *uiRun {
	t.Helper()
	r := &uiRun{code: make(chan int, 1)}
	go func() {
		r.code <- Main(append([]string{"run", "--ui", "127.0.0.1:0"}, args...), &r.stdout, &r.stderr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for r.url == "" {
		if m := liveURL.FindStringSubmatch(r.stderr.String()); m != nil {
			r.url = m[1]
			break
		}
		select {
		case code := <-r.code:
			t.Fatalf("run exited %d before serving its page:\n%s", code, r.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no live page line within 30 s:\n%s", r.stderr.String())
		}
	}
	t.Cleanup(func() {
		select {
		case <-r.code:
		case <-time.After(60 * time.Second):
			t.Errorf("the run did not end:\n%s", r.stderr.String())
		}
	})
	return r
}

// wait returns the run's exit code.
func (r *uiRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.code:
		r.code <- code // for the cleanup
		return code
	case <-time.After(60 * time.Second):
		t.Fatalf("the run did not end:\n%s", r.stderr.String())
		return -1
	}
}

type sse struct {
	name string
	data map[string]any
}

// events follows the page's /events until the final event.
func events(t *testing.T, url string) <-chan sse {
	t.Helper()
	resp, err := http.Get(url + "events")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan sse, 64)
	go func() {
		defer resp.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			if name, ok := strings.CutPrefix(line, "event: "); ok {
				ev.name = name
			} else if data, ok := strings.CutPrefix(line, "data: "); ok {
				ev.data = map[string]any{}
				if err := json.Unmarshal([]byte(data), &ev.data); err != nil {
					ev.data["error"] = err.Error()
				}
			} else if line == "" && ev.name != "" {
				ch <- ev
				ev = sse{}
			}
		}
	}()
	return ch
}

// TestUILiveRun follows a 3 s run on its live page: progress events with
// growing frame counts while it runs, then the final report, the same page
// as --html writes, served on for --ui-linger.
func TestUILiveRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	html := filepath.Join(dir, "r.html")
	r := startUIRun(t, "--conns", "20", "--connect-rate", "40", "--duration", "3s", "--msg-rate", "20", "-q",
		"--html", html, "--ui-linger", "5s")
	frames := map[float64]bool{}
	var final map[string]any
	for ev := range events(t, r.url) {
		switch ev.name {
		case "progress":
			if e, ok := ev.data["error"]; ok {
				t.Fatalf("progress event: %v", e)
			}
			if f := ev.data["frames_received"].(float64); f > 0 {
				frames[f] = true
			}
			if h, _ := ev.data["html"].(string); ev.data["phase"] != "starting" && !strings.Contains(h, "<svg") {
				t.Errorf("a progress event without plots: %.200s", h)
			}
		case "final":
			final = ev.data
		}
	}
	if len(frames) < 2 {
		t.Errorf("progress events carried %d different frame counts, want at least 2: %v", len(frames), frames)
	}
	if final == nil {
		t.Fatalf("no final event:\n%s", r.stderr.String())
	}
	if ok, _ := final["ok"].(bool); !ok || !strings.Contains(final["html"].(string), "Verdict: ok") {
		t.Errorf("the final event has no ok verdict: ok=%v", final["ok"])
	}
	// Served on while the process lingers: the report --html wrote.
	resp, err := http.Get(r.url)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if code := r.wait(t); code != ExitOK {
		t.Fatalf("exit %d\n%s", code, r.stderr.String())
	}
	want, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if string(page) != string(want) || final["html"] != string(want) {
		t.Errorf("the page after the run (%d bytes) and the final event (%d) are not the --html report (%d)", len(page), len(final["html"].(string)), len(want))
	}
	if !strings.Contains(r.stderr.String(), "serving the final report") || strings.Contains(r.stderr.String(), "warning") {
		t.Errorf("stderr:\n%s", r.stderr.String())
	}
}

func TestUIBadAddressExitsTwo(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"busy", []string{"--ui", busy.Addr().String()}, "address already in use"},
		{"no port", []string{"--ui", "127.0.0.1"}, "missing port"},
		{"bad port", []string{"--ui", "127.0.0.1:99999"}, "invalid port"},
		{"linger without ui", []string{"--ui-linger", "5s"}, "add --ui"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, stdout, stderr := runMain(append([]string{"run", "--conns", "5", "--duration", "30s"}, tc.args...)...)
			if code != ExitBadInput || !strings.Contains(stderr, tc.want) || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", code, stdout, stderr, tc.want)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v: the load ran before the address was checked", took)
			}
		})
	}
}

// TestUILiveChromium looks at the live page in headless Chromium: twice while
// the run goes (the counters move), once through the run to its end (the
// page's script puts the final report in place), and once after it.
func TestUILiveChromium(t *testing.T) {
	t.Parallel()
	chromiumBin(t)
	r := startUIRun(t, "--conns", "20", "--connect-rate", "40", "--duration", "5s", "--msg-rate", "20", "-q", "--ui-linger", "6s")
	received := regexp.MustCompile(`(\d+) received`)
	// The script's work: loaded during the run, the page follows it and ends
	// as the final report (Chromium dumps once the stream has ended).
	followed := make(chan string, 1)
	go func() {
		dom, console := chromiumDOM(t, r.url, "--virtual-time-budget=60000")
		if len(console) > 0 {
			t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
		}
		followed <- dom
	}()
	var seen []string
	for i := 0; i < 2; i++ {
		time.Sleep(1500 * time.Millisecond)
		dom, console := chromiumDOM(t, r.url)
		if len(console) > 0 {
			t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
		}
		m := received.FindStringSubmatch(dom)
		if m == nil || !strings.Contains(dom, `id="live"`) || strings.Count(dom, "<svg") < 5 {
			t.Fatalf("the live page during the run lacks its counters or plots:\n%.2000s", dom)
		}
		seen = append(seen, m[1])
	}
	if seen[0] == seen[1] {
		t.Errorf("frames received did not move between two looks 1.5 s apart: %v", seen)
	}
	var dom string
	select {
	case dom = <-followed:
	case <-time.After(60 * time.Second):
		t.Fatal("Chromium following the page did not finish")
	}
	if !strings.Contains(dom, `id="verdict"`) || !strings.Contains(dom, "Verdict: ok") || strings.Contains(dom, `id="live"`) {
		t.Errorf("the page that followed the run does not show the final report:\n%.2000s", dom)
	}
	after, _ := chromiumDOM(t, r.url)
	if !strings.Contains(after, "Verdict: ok") {
		t.Errorf("the page after the run lacks the verdict:\n%.2000s", after)
	}
	if code := r.wait(t); code != ExitOK {
		t.Fatalf("exit %d\n%s", code, r.stderr.String())
	}
}

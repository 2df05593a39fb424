package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// runReport runs wssbench run with args and returns its JSON report.
func runReport(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := runMain(append([]string{"run", "--quiet", "--out", out}, args...)...)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// num reads a number at a path of keys in a decoded report.
func num(t *testing.T, rep map[string]any, path ...string) int64 {
	t.Helper()
	var v any = rep
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("report: %v is not an object at %q", path, k)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("report lacks %v (at %q)", path, k)
		}
	}
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("report: %v is %v, not a number", path, v)
	}
	return int64(f)
}

// TestChatFanoutAgainstNodeWS drives a third-party chat server (Node.js,
// ws): publishers and subscribers in its rooms, an expect step on its
// answer, stamped delivery latency through it; wssbench's counts must be
// the server's own.
func TestChatFanoutAgainstNodeWS(t *testing.T) {
	t.Parallel()
	node := startNodeWS(t, "--rooms", "10")
	scenario := filepath.Join(t.TempDir(), "chat.yaml")
	if err := os.WriteFile(scenario, []byte(`
mode: steady
conns: 50
connect_rate: 200
duration: 2s
latency: {mode: stamp, field: ts, fanout: 9}
roles:
  - name: publishers
    share: 10%
    steps:
      - send: '{"type":"req","id":{{conn}}}'
      - expect: {field: type, equals: res, timeout: 5s}
    send: '{"type":"pub","ts":{{now_ns}},"from":{{conn}},"pad":"{{random 16}}"}'
    rate: 5
  - name: subscribers
    share: rest
`), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := runReport(t, "--scenario", scenario, "--target", node.URL, "--ca", node.CAFile)
	ns := node.Stop()

	if got := num(t, rep, "connections", "established"); got != 50 || ns.Connections != 50 {
		t.Fatalf("established %d, the server upgraded %d", got, ns.Connections)
	}
	if ns.Requests != 5 || ns.Replies != 5 {
		t.Fatalf("the server answered %d of %d requests; want the 5 publishers' steps", ns.Replies, ns.Requests)
	}
	pubSent := num(t, rep, "roles", "publishers", "frames", "sent")
	if pubSent-5 != ns.Published || ns.Published == 0 {
		t.Fatalf("the publishers sent %d frames (5 of them steps), the server saw %d published", pubSent, ns.Published)
	}
	if sent := num(t, rep, "frames", "sent"); sent != ns.FramesIn {
		t.Fatalf("the driver sent %d frames, the server received %d", sent, ns.FramesIn)
	}
	// Every room of 10 has one publisher, so each frame owes 9 deliveries:
	// the stated fanout is the server's own.
	if ns.DeliveriesOwed != 9*ns.Published {
		t.Fatalf("the server owed %d deliveries for %d frames: the publishers are not one per room", ns.DeliveriesOwed, ns.Published)
	}
	// What the driver sent reaches the server in order before its close, so
	// those counts are exact; a delivery the server sent as a subscriber
	// closed may be lost on the way, so the driver's count is at most the
	// server's (and on loopback almost all of it).
	delivered := num(t, rep, "reach_detail", "received")
	if delivered > ns.DeliveriesSent || 100*delivered < 99*ns.DeliveriesSent || num(t, rep, "reach_detail", "expected") != ns.DeliveriesOwed {
		t.Fatalf("the driver received %d deliveries of %d owed; the server sent %d of %d", delivered, num(t, rep, "reach_detail", "expected"), ns.DeliveriesSent, ns.DeliveriesOwed)
	}
	if r := rep["reach"].(float64); r < 0.99 {
		t.Fatalf("reach %v", r)
	}
	if got := num(t, rep, "roles", "subscribers", "delivery", "count") + num(t, rep, "roles", "publishers", "delivery", "count"); got != delivered {
		t.Fatalf("the roles' delivery histograms hold %d samples, %d delivered", got, delivered)
	}
}

// TestRepliesAgainstNodeWS matches the third-party server's answers to
// their requests by the id they carry.
func TestRepliesAgainstNodeWS(t *testing.T) {
	t.Parallel()
	node := startNodeWS(t)
	rep := runReport(t, "--target", node.URL, "--ca", node.CAFile, "--conns", "10", "--connect-rate", "0", "--duration", "1s",
		"--msg-rate", "10", "--latency", "reply:id", "--send", `{"type":"req","id":{{seq}},"from":{{conn}}}`)
	ns := node.Stop()
	replies := num(t, rep, "frames", "rtt", "count")
	if replies == 0 || replies != ns.Replies || num(t, rep, "frames", "lost") != 0 {
		t.Fatalf("%d answers matched to their requests, the server sent %d; lost %d", replies, ns.Replies, num(t, rep, "frames", "lost"))
	}
}

// TestShippedWorkloadsRunThroughProxies runs the shipped chat-fanout and
// push-stream scenarios, scaled down, through the built-in proxy: what the
// driver counts as delivered is what the built-in target wrote, and reach
// is taken against what the target owed. (How much of it a loaded machine
// delivers is the measurement, not the test's business: the scenario's
// reach threshold is replaced by a loose one.)
func TestShippedWorkloadsRunThroughProxies(t *testing.T) {
	t.Parallel()
	for _, sc := range []string{"chat-fanout", "push-stream"} {
		t.Run(sc, func(t *testing.T) {
			t.Parallel()
			rep := runReport(t, "--scenario", sc, "--conns", "200", "--connect-rate", "0", "--duration", "1s", "--topology", "builtin",
				"--threshold", "reach > 50%")
			cc := rep["crosscheck"].(map[string]any)
			if cc["ok"] != true {
				t.Fatalf("crosscheck %v", cc)
			}
			received, wrote := num(t, rep, "reach_detail", "received"), num(t, rep, "crosscheck", "frames", "target")
			// The frames the target wrote as the connections closed may be
			// lost on the way: never more received than written.
			if received == 0 || received > wrote || 2*received < wrote || num(t, rep, "frames", "received") != received {
				t.Fatalf("the driver received %d stamped frames (%d in all), the target wrote %d", received, num(t, rep, "frames", "received"), wrote)
			}
			if src := rep["reach_detail"].(map[string]any)["source"]; src != "target" {
				t.Fatalf("reach from %v, want the target's count", src)
			}
			if num(t, rep, "frames", "delivery", "count") != received {
				t.Fatal("the delivery histogram does not hold every delivery")
			}
		})
	}
}

package env

import (
	"encoding/json"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wssbench/wssbench/bench/tlsconf"
)

// The parent/child protocol: what `wssbench serve` and `wssbench proxy` print
// on stdout for the run that started them, and the flags the run passes.

// ReadyPrefix starts the line `wssbench serve` prints on stdout once it accepts
// connections; the URL follows it.
const ReadyPrefix = "wssbench serve: listening on "

// ProxyReadyPrefix is ReadyPrefix for `wssbench proxy`.
const ProxyReadyPrefix = "wssbench proxy: listening on "

// CountsPrefix starts the line `wssbench serve` prints on stdout just before
// it exits on SIGTERM; a TargetCounts in JSON follows it.
const CountsPrefix = "wssbench serve: counts "

// AbortSignal makes `wssbench serve` end as a crash would, for a restart:
// it stops accepting, cuts every connection at once without a close frame,
// prints its counts line (CountsPrefix) once the connections' work has
// ended, and waits to be killed. Env.RestartTarget sends it, then SIGKILL.
const AbortSignal = syscall.SIGUSR1

// TargetCounts are what the built-in target saw during its life (over all
// its lives, after RestartTarget). It mirrors target.Counts field for field.
type TargetCounts struct {
	// Accepted is TCP connections accepted.
	Accepted int64 `json:"accepted"`
	// Upgraded is connections upgraded to WebSocket.
	Upgraded int64 `json:"upgraded"`
	// FramesEchoed is data frames echoed back.
	FramesEchoed int64 `json:"frames_echoed"`
	// Closes is close handshakes completed.
	Closes int64 `json:"closes"`
	// FramesReceived is, with rooms, whole messages received from clients.
	FramesReceived int64 `json:"frames_received,omitempty"`
	// DeliveriesOwed is, with rooms, for each message received, the number
	// of other members its room had then.
	DeliveriesOwed int64 `json:"deliveries_owed,omitempty"`
	// DeliveriesWritten is, with rooms, deliveries written to members.
	DeliveriesWritten int64 `json:"deliveries_written,omitempty"`
	// DeliveriesDropped is, with rooms, deliveries not written: a member's
	// queue was full (a slow reader) or it was closing or gone. Owed is
	// written plus dropped.
	DeliveriesDropped int64 `json:"deliveries_dropped,omitempty"`
	// Pushed is, with a push rate, frames owed by the connections' schedules.
	Pushed int64 `json:"pushed,omitempty"`
	// PushWritten is, with a push rate, pushed frames written (a connection
	// behind its schedule skips what it cannot catch up).
	PushWritten int64 `json:"push_written,omitempty"`
}

// add sums the counts of several target processes (or lives of one).
func (c *TargetCounts) add(o TargetCounts) {
	c.Accepted += o.Accepted
	c.Upgraded += o.Upgraded
	c.FramesEchoed += o.FramesEchoed
	c.Closes += o.Closes
	c.FramesReceived += o.FramesReceived
	c.DeliveriesOwed += o.DeliveriesOwed
	c.DeliveriesWritten += o.DeliveriesWritten
	c.DeliveriesDropped += o.DeliveriesDropped
	c.Pushed += o.Pushed
	c.PushWritten += o.PushWritten
}

// ParseCounts finds the last CountsPrefix line in a target's stdout; false
// when there is none or it does not decode.
func ParseCounts(stdout string) (TargetCounts, bool) {
	lines := strings.Split(stdout, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		rest, ok := strings.CutPrefix(lines[i], CountsPrefix)
		if !ok {
			continue
		}
		var c TargetCounts
		if err := json.Unmarshal([]byte(strings.TrimSpace(rest)), &c); err != nil {
			return TargetCounts{}, false
		}
		return c, true
	}
	return TargetCounts{}, false
}

// builtinProxyWorkers is the cores the built-in proxy may use at once: one,
// as the generated nginx (worker_processes 1) and haproxy (nbthread 1)
// configs get, so the topologies are compared on equal terms.
const builtinProxyWorkers = 1

// listenAddr is where every server a run starts listens: loopback, a free port.
const listenAddr = "127.0.0.1:0"

// Files are the PEM files of a run's servers.
type Files struct {
	// CertFile and KeyFile are the leaf certificate (chain) and its key.
	CertFile, KeyFile string
	// ClientCAFile, if set, makes the servers require a client certificate
	// issued by this CA (mutual TLS).
	ClientCAFile string
}

// TargetArgs are the flags a run passes to `wssbench serve`: a free loopback
// port, and either --plain (behind a proxy) or the certificate and the
// server's TLS settings.
func TargetArgs(plain bool, f Files, server tlsconf.Profile) []string {
	return targetArgs(listenAddr, false, plain, f, server)
}

// targetArgs are TargetArgs listening on addr, with SO_REUSEPORT when the
// target is one of several processes on one port.
func targetArgs(addr string, reuse, plain bool, f Files, server tlsconf.Profile) []string {
	args := []string{"--listen", addr}
	if reuse {
		args = append(args, "--reuseport")
	}
	if plain {
		return append(args, "--plain")
	}
	args = append(args, "--cert", f.CertFile, "--key", f.KeyFile)
	return append(args, serverTLSArgs(server, f.ClientCAFile)...)
}

// TargetWorkloadArgs are the flags that make `wssbench serve` a chat server
// (rooms of this size) or a push stream (frames/s per connection); none for
// an echo server.
func TargetWorkloadArgs(rooms int, pushRate float64) []string {
	var args []string
	if rooms > 0 {
		args = append(args, "--rooms", strconv.Itoa(rooms))
	}
	if pushRate > 0 {
		args = append(args, "--push", strconv.FormatFloat(pushRate, 'g', -1, 64))
	}
	return args
}

// ProxyArgs are the flags a run passes to `wssbench proxy` in front of a
// plain target at backend (host:port).
func ProxyArgs(backend string, delay time.Duration, f Files, server tlsconf.Profile) []string {
	args := []string{"--listen", listenAddr, "--backend", "ws://" + backend + "/",
		"--cert", f.CertFile, "--key", f.KeyFile, "--delay", delay.String(), "--workers", strconv.Itoa(builtinProxyWorkers)}
	return append(args, serverTLSArgs(server, f.ClientCAFile)...)
}

// serverTLSArgs are the server TLS flags of wssbench serve and proxy.
func serverTLSArgs(server tlsconf.Profile, clientCA string) []string {
	n := server.Names()
	var args []string
	add := func(flag, v string) {
		if v != "" {
			args = append(args, flag, v)
		}
	}
	add("--tls-min", n.Min)
	add("--tls-max", n.Max)
	var suites12 []string
	for _, c := range n.Ciphers {
		// TLS 1.3 suites cannot be set on a Go server (Profile.Check says when that matters).
		if !strings.HasPrefix(c, "TLS_AES_") && !strings.HasPrefix(c, "TLS_CHACHA20_") {
			suites12 = append(suites12, c)
		}
	}
	add("--ciphers", strings.Join(suites12, ","))
	add("--groups", strings.Join(n.Groups, ","))
	add("--alpn", strings.Join(n.ALPN, ","))
	add("--client-ca", clientCA)
	return args
}

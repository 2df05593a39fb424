// Package bench is wssbench's engine: one canonical Config and its
// defaults; Plan, which resolves a config once into the cells of a series
// (validating is planning without running); and Run, which runs a plan's
// cells (starting what each needs through bench/env), drives the load and
// returns a Series of Results with typed verdict reasons. It is a library:
// it never exits the process, parses flags or installs signal handlers.
package bench

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/wssbench/wssbench/bench/driver"
	"github.com/wssbench/wssbench/bench/tlsconf"
)

// Config describes one benchmark run. A scenario file is its YAML encoding;
// every report embeds a copy.
type Config struct {
	// Label names the run in reports.
	Label string `yaml:"label,omitempty" json:"label,omitempty"`
	// Mode is steady (echo frames after the ramp), handshake-storm (connect,
	// one echo, close, repeatedly) or connect-hold (hold idle connections).
	Mode string `yaml:"mode" json:"mode"`
	// Target is a ws:// or wss:// URL; empty starts the built-in echo target on loopback.
	Target string `yaml:"target,omitempty" json:"target,omitempty"`
	// Conns is the number of connections (steady, connect-hold) or of
	// concurrent workers (handshake-storm).
	Conns int `yaml:"conns" json:"conns"`
	// ConnectRate is new connections per second during the ramp; 0 is as fast as possible.
	ConnectRate float64 `yaml:"connect_rate" json:"connect_rate"`
	// Duration is the steady-state window after all connections are up (the
	// whole storm in handshake-storm mode).
	Duration Duration `yaml:"duration" json:"duration"`
	// MsgRate is frames per second per connection, open loop; 0 is closed-loop ping-pong.
	MsgRate float64 `yaml:"msg_rate" json:"msg_rate"`
	// PayloadBytes is the size of each frame's payload.
	PayloadBytes int `yaml:"size" json:"size"`
	// Binary sends binary frames; otherwise text frames.
	Binary bool `yaml:"binary" json:"binary"`
	// CAFile is a PEM file of CAs to trust for the target's certificate.
	CAFile string `yaml:"ca,omitempty" json:"ca,omitempty"`
	// Insecure skips certificate verification (reported in every summary).
	Insecure bool `yaml:"insecure,omitempty" json:"insecure,omitempty"`
	// ServerName overrides the TLS server name (SNI and verification).
	ServerName string `yaml:"server_name,omitempty" json:"server_name,omitempty"`
	// Headers are extra upgrade request headers, each "Key: Value".
	Headers []string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// Subprotocols are offered in Sec-WebSocket-Protocol.
	Subprotocols []string `yaml:"subprotocols,omitempty" json:"subprotocols,omitempty"`
	// SourceIPs spreads connections over local addresses: "127.0.0.2-127.0.0.9" or a comma list.
	SourceIPs string `yaml:"source_ips,omitempty" json:"source_ips,omitempty"`
	// ConnectTimeout bounds TCP, TLS and upgrade of one connection together.
	ConnectTimeout Duration `yaml:"connect_timeout" json:"connect_timeout"`
	// FrameTimeout bounds the wait for one echo.
	FrameTimeout Duration `yaml:"frame_timeout" json:"frame_timeout"`
	// CertKey is the key type of the built-in target's generated certificate.
	CertKey string `yaml:"cert_key,omitempty" json:"cert_key,omitempty"`
	// Topology lists who terminates TLS in front of the built-in target:
	// direct, builtin, nginx, haproxy. Several make a comparison.
	Topology []string `yaml:"topology,omitempty" json:"topology,omitempty"`
	// Repeat runs every topology this many times, interleaved (A B C A B C).
	Repeat int `yaml:"repeat,omitempty" json:"repeat,omitempty"`
	// ProxyDelay is a one-way delay the builtin proxy adds in each direction.
	ProxyDelay Duration `yaml:"delay,omitempty" json:"delay,omitempty"`

	// TLSMin and TLSMax bound the TLS version, "1.2" or "1.3", on the client
	// and on every server wssbench starts (empty: 1.2 to 1.3).
	TLSMin string `yaml:"tls_min,omitempty" json:"tls_min,omitempty"`
	TLSMax string `yaml:"tls_max,omitempty" json:"tls_max,omitempty"`
	// Ciphers are IANA cipher suite names. TLS 1.2 suites restrict the client
	// and the servers; TLS 1.3 suites restrict the servers (a Go client
	// always offers all three).
	Ciphers []string `yaml:"ciphers,omitempty" json:"ciphers,omitempty"`
	// Groups are key exchange groups (X25519, P-256, X25519MLKEM768, ...), on
	// the client and on the servers.
	Groups []string `yaml:"groups,omitempty" json:"groups,omitempty"`
	// Resume is the share of connections that resume a TLS session: "off"
	// (default), "on" (all) or a share such as "50%".
	Resume string `yaml:"resume,omitempty" json:"resume,omitempty"`
	// ClientCert and ClientKey are PEM files of a client certificate for
	// mutual TLS; ClientCert "auto" issues one from the built-in target's CA.
	// The servers wssbench starts then require a client certificate.
	ClientCert string `yaml:"client_cert,omitempty" json:"client_cert,omitempty"`
	ClientKey  string `yaml:"client_key,omitempty" json:"client_key,omitempty"`
	// ALPN are the application protocols offered (and accepted by the servers).
	ALPN []string `yaml:"alpn,omitempty" json:"alpn,omitempty"`
	// ChainLength is the number of intermediate CAs in the built-in target's
	// certificate chain (0: the root signs the leaf).
	ChainLength int `yaml:"chain_length,omitempty" json:"chain_length,omitempty"`
	// Engine runs the connections once they are up: "loops" (event loops,
	// one per core; the default on Linux) or "goroutines" (a goroutine per
	// connection). The handshake storm always runs on goroutines.
	Engine string `yaml:"engine,omitempty" json:"engine,omitempty"`
	// TimerSlack is the loops engine's wake-up grid for sends (0: each frame
	// at its own due time, in nanoseconds): sends due within one step leave
	// in one turn, at most this late, which send_lag shows.
	TimerSlack Duration `yaml:"timer_slack" json:"timer_slack"`
	// Procs is how many driver processes share the load (0: as many as the
	// open-file limit needs, one when one process holds it). Each holds its
	// share of the connections; their figures are merged exactly.
	Procs int `yaml:"procs,omitempty" json:"procs,omitempty"`
	// TargetProcs is how many built-in target processes listen on the one
	// port (SO_REUSEPORT; 0: as many as the open-file limit needs).
	TargetProcs int `yaml:"target_procs,omitempty" json:"target_procs,omitempty"`
	// Latency says how a frame's latency is taken: echo (the default: the
	// frame comes back as sent), reply (a reply carries its request's
	// sequence) or stamp (frames carry their publisher's send time).
	Latency *Latency `yaml:"latency,omitempty" json:"latency,omitempty"`
	// Steps run on every connection as it comes up (sends and expects),
	// for a run without roles.
	Steps []Step `yaml:"steps,omitempty" json:"steps,omitempty"`
	// Send is the template of the steady pattern's frames, for a run
	// without roles (empty: the stamped echo payload of size bytes).
	Send string `yaml:"send,omitempty" json:"send,omitempty"`
	// Receive, for a run without roles, sends nothing in the steady window:
	// the connections only receive (a push stream).
	Receive bool `yaml:"receive,omitempty" json:"receive,omitempty"`
	// Roles split the connections into named roles, each with its own
	// steps and steady pattern, each reported on its own.
	Roles []Role `yaml:"roles,omitempty" json:"roles,omitempty"`
	// Stages shape the load over time: each stage moves the connections,
	// connect rate and frame rate linearly to its targets over its duration.
	Stages []Stage `yaml:"stages,omitempty" json:"stages,omitempty"`
	// Storm drops a share of the connections abruptly at a given time and
	// lets them reconnect.
	Storm *Storm `yaml:"storm,omitempty" json:"storm,omitempty"`
	// Rooms makes the built-in target a chat server: every data frame from
	// a connection is delivered to every other connection of its room, rooms
	// of this size filled in connection order (or named by the URL path).
	Rooms int `yaml:"rooms,omitempty" json:"rooms,omitempty"`
	// Capacity caps the frames per second the built-in target echoes over
	// all its connections (a token bucket; frames beyond wait): a server of
	// known capacity, to check a capacity search against.
	Capacity float64 `yaml:"capacity,omitempty" json:"capacity,omitempty"`
	// PushRate makes the built-in target push stamped frames to every
	// connection at this rate (frames/s per connection) without being asked.
	PushRate float64 `yaml:"push_rate,omitempty" json:"push_rate,omitempty"`
	// Matrix, if set, expands this config into one run per combination of
	// its values (a TLS matrix); see Cells.
	Matrix *Matrix `yaml:"matrix,omitempty" json:"matrix,omitempty"`
	// Thresholds are pass/fail expressions checked after the run, such as
	// "ws_rtt.p99 < 5ms" (grammar and metric names: package bench/threshold).
	Thresholds []string `yaml:"thresholds,omitempty" json:"thresholds,omitempty"`
}

// Default returns the configuration of the default benchmark: 1000 wss
// connections against the built-in target, 10 frames/s each of 64 bytes for 10 s.
func Default() Config {
	return Config{
		Mode:           string(driver.ModeSteady),
		Conns:          1000,
		ConnectRate:    500,
		Duration:       Duration(10 * time.Second),
		MsgRate:        10,
		PayloadBytes:   64,
		ConnectTimeout: Duration(10 * time.Second),
		FrameTimeout:   Duration(10 * time.Second),
		CertKey:        string(tlsconf.KeyECDSAP256),
		Engine:         string(driver.DefaultEngine()),
		TimerSlack:     Duration(time.Millisecond),
		Topology:       []string{TopologyDirect},
		Repeat:         1,
	}
}

// InputError is bad input: a setting that cannot work. The CLI exits 2 on it.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErr(format string, a ...any) error { return &InputError{Err: fmt.Errorf(format, a...)} }

// IsInputError reports whether err is bad input.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// RunMode is the config's mode, typed: what the mode does is asked of its
// methods (driver.Mode.SendsFrames, HoldsAll, Streams), never of its name.
func (c *Config) RunMode() driver.Mode { return driver.Mode(c.Mode) }

// topology is the one topology of a cell's config (direct when none is given).
func (c *Config) topology() string {
	if len(c.Topology) > 0 {
		return c.Topology[0]
	}
	return TopologyDirect
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ParseTarget checks a ws:// or wss:// URL.
func ParseTarget(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, inputErr("--target %q is not a URL: %v", s, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, inputErr("--target %q must start with ws:// or wss://", s)
	}
	if u.Hostname() == "" {
		return nil, inputErr("--target %q has no host; write it as wss://HOST:PORT/PATH", s)
	}
	if p := u.Port(); p != "" {
		if _, err := net.LookupPort("tcp", p); err != nil {
			return nil, inputErr("--target %q has a bad port %q", s, p)
		}
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

func splitHeader(h string) (string, string, error) {
	k, v, ok := strings.Cut(h, ":")
	k = strings.TrimSpace(k)
	if !ok || k == "" || strings.ContainsAny(k, " \t\r\n") {
		return "", "", inputErr("--header %q must look like 'Name: value'", h)
	}
	return k, strings.TrimSpace(v), nil
}

// ParseSourceIPs parses "127.0.0.2-127.0.0.9" (an IPv4 range) or a comma
// separated list of addresses. An empty string gives none.
func ParseSourceIPs(s string) ([]net.IP, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []net.IP
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if lo, hi, ok := strings.Cut(part, "-"); ok {
			a, b := net.ParseIP(strings.TrimSpace(lo)).To4(), net.ParseIP(strings.TrimSpace(hi)).To4()
			if a == nil || b == nil {
				return nil, inputErr("--source-ips range %q must be two IPv4 addresses, such as 127.0.0.2-127.0.0.9", part)
			}
			from, to := ipToUint(a), ipToUint(b)
			if to < from || to-from > 65535 {
				return nil, inputErr("--source-ips range %q is reversed or larger than 65536 addresses", part)
			}
			for v := from; v <= to; v++ {
				out = append(out, net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)))
			}
			continue
		}
		ip := net.ParseIP(part)
		if ip == nil {
			return nil, inputErr("--source-ips %q is not an IP address", part)
		}
		out = append(out, ip)
	}
	return out, nil
}

func ipToUint(ip net.IP) uint32 {
	return uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
}

// Engines lists the engines this machine runs (Config.Engine).
func Engines() []string { return driver.EngineNames() }

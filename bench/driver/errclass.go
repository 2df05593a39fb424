package driver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/wsconn"
)

// Error classes: failures during a run are counted by these names.
const (
	ErrDialRefused         = "dial_refused"
	ErrDialTimeout         = "dial_timeout"
	ErrAddrNotAvailable    = "addr_not_available"
	ErrTooManyFiles        = "too_many_open_files"
	ErrTLSUnknownAuthority = "tls_unknown_authority"
	ErrTLSHostname         = "tls_hostname_mismatch"
	ErrTLSExpired          = "tls_expired"
	ErrTLSBadCert          = "tls_bad_certificate"
	ErrTLSProtocolVersion  = "tls_protocol_version"
	ErrTLSHandshake        = "tls_handshake_failure"
	ErrTLSTimeout          = "tls_timeout"
	ErrTLSNotTLS           = "tls_not_tls"
	ErrUpgradeBadAccept    = "upgrade_bad_accept"
	ErrUpgradeBadResponse  = "upgrade_bad_response"
	ErrUpgradeTimeout      = "upgrade_timeout"
	ErrFrameEchoMismatch   = "frame_echo_mismatch"
	ErrFrameProtocol       = "frame_protocol_error"
	ErrFrameTimeout        = "frame_timeout"
	ErrReset               = "reset"
	ErrExpectTimeout       = "expect_timeout"
	ErrReplyUnmatched      = "reply_unmatched"
	ErrClosedByPeer        = "closed_by_peer"
	ErrOther               = "other"
)

// Phase names the step of a connection an error happened in.
type Phase int

// Connection phases, for error classification.
const (
	PhaseTCP Phase = iota
	PhaseTLS
	PhaseUpgrade
	PhaseFrame
)

// Classify maps an error from the given phase to one of the error classes.
// Upgrade rejections become "upgrade_status_NNN".
func Classify(p Phase, err error) string {
	if err == nil {
		return ""
	}
	var st ws.StatusError
	if errors.As(err, &st) {
		return fmt.Sprintf("upgrade_status_%d", int(st))
	}
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recordHdr tls.RecordHeaderError
	var ce *wsconn.CloseError
	var ne net.Error
	var nt *NotTLSError
	var cl *classError
	switch {
	case errors.As(err, &cl):
		return cl.class
	case errors.As(err, &unknown):
		return ErrTLSUnknownAuthority
	case errors.As(err, &host):
		return ErrTLSHostname
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return ErrTLSExpired
		}
		return ErrTLSBadCert
	case errors.As(err, &nt):
		return ErrTLSNotTLS
	case errors.As(err, &recordHdr):
		// Only the first record is checked for looking like TLS (its header
		// then holds what the server sent instead, such as "HTTP/"); a bad
		// record later in a handshake is a TLS server misbehaving.
		if recordHdr.Conn != nil || strings.Contains(recordHdr.Msg, "does not look like a TLS handshake") {
			return ErrTLSNotTLS
		}
		return ErrTLSHandshake
	case errors.Is(err, ErrEchoMismatch):
		return ErrFrameEchoMismatch
	case errors.Is(err, wsconn.ErrProtocol), errors.Is(err, wsconn.ErrFrameTooLarge):
		return ErrFrameProtocol
	case errors.As(err, &ce):
		return ErrClosedByPeer
	case errors.Is(err, ws.ErrHandshakeBadSecAccept):
		return ErrUpgradeBadAccept
	case errors.Is(err, ws.ErrHandshakeBadUpgrade), errors.Is(err, ws.ErrHandshakeBadConnection),
		errors.Is(err, ws.ErrHandshakeBadProtocol), errors.Is(err, ws.ErrHandshakeBadSubProtocol),
		errors.Is(err, ws.ErrHandshakeBadExtensions):
		return ErrUpgradeBadResponse
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrDialRefused
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return ErrAddrNotAvailable
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return ErrTooManyFiles
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ErrReset
	case errors.As(err, &ne) && ne.Timeout():
		return [...]string{ErrDialTimeout, ErrTLSTimeout, ErrUpgradeTimeout, ErrFrameTimeout}[p]
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		if p == PhaseTLS {
			return ErrTLSHandshake
		}
		return ErrClosedByPeer
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "protocol version"):
		return ErrTLSProtocolVersion
	case p == PhaseTLS || strings.Contains(msg, "tls: "):
		return ErrTLSHandshake
	case p == PhaseUpgrade:
		return ErrUpgradeBadResponse
	}
	return ErrOther
}

// classError is an error that names its own class (an expect that missed,
// a reply that matches no request).
type classError struct {
	class, msg string
}

func (e *classError) Error() string { return e.msg }

// NotTLSError is a TLS handshake that met a server speaking plain TCP/HTTP:
// Classify counts it as tls_not_tls.
type NotTLSError struct {
	// Err is the handshake's own error (EOF, a reset).
	Err error
	// Answer is the status line the server gave a cleartext upgrade request.
	Answer string
}

func (e *NotTLSError) Error() string {
	return fmt.Sprintf("%v during the TLS handshake, and a cleartext upgrade request got %q", e.Err, e.Answer)
}

func (e *NotTLSError) Unwrap() error { return e.Err }

// A server that is not TLS shows it in one of two ways. When it answers the
// ClientHello (a plain HTTP server's "HTTP/1.1 400"), crypto/tls sees a first
// record that does not look like TLS: a tls.RecordHeaderError, which Classify
// counts as tls_not_tls outright. When it closes (EOF) or resets the
// connection before a single byte came back, the handshake error is the same
// as a TLS server's that refuses silently (a wrong SNI, an overloaded or
// misconfigured listener): the error alone cannot tell them apart, so
// Classify leaves it tls_handshake_failure (or reset), and PlainProbe asks the
// server once, in cleartext. A close after the server sent anything is a TLS
// server's: a plain one sends nothing a TLS client reads past.

// PlainProbe decides, once per run, whether a TLS handshake that the server
// ended before sending a byte met a plain server: it sends one cleartext
// WebSocket upgrade request and reads the answer's status line. A 101, or an
// HTTP answer that does not complain about plain HTTP sent to an HTTPS port
// (as Go's and nginx's TLS servers do), is a plain server.
type PlainProbe struct {
	addr, host, path string
	timeout          time.Duration
	once             sync.Once
	answer           string
}

// NewPlainProbe prepares the probe of the server at u (a wss:// URL), each
// step bounded by timeout.
func NewPlainProbe(u *url.URL, timeout time.Duration) *PlainProbe {
	path := u.RequestURI()
	if path == "" {
		path = "/"
	}
	return &PlainProbe{addr: hostPort(u), host: u.Host, path: path, timeout: timeout}
}

// Check returns err, or a *NotTLSError wrapping it when err ended a TLS
// handshake after bytesIn bytes had come back (0: nothing) in a way a plain
// server would (EOF, reset) and the probe found a plain server.
func (p *PlainProbe) Check(ctx context.Context, err error, bytesIn int64) error {
	if err == nil || bytesIn > 0 || !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		return err
	}
	p.once.Do(func() { p.answer = p.probe(ctx) })
	if p.answer == "" {
		return err
	}
	return &NotTLSError{Err: err, Answer: p.answer}
}

// probe returns the status line of a plain server's answer, or "".
func (p *PlainProbe) probe(ctx context.Context) string {
	d := net.Dialer{Timeout: p.timeout}
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return ""
	}
	defer c.Close()
	if c.SetDeadline(time.Now().Add(p.timeout)) != nil {
		return ""
	}
	req := "GET " + p.path + " HTTP/1.1\r\nHost: " + p.host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return ""
	}
	// The head of the answer; a TLS port's complaint about cleartext (Go's
	// and nginx's) comes in the same write as its head.
	buf, n := make([]byte, 1024), 0
	for n < len(buf) && !strings.Contains(string(buf[:n]), "\r\n\r\n") {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			break
		}
	}
	resp := string(buf[:n])
	status, _, _ := strings.Cut(resp, "\r\n")
	if !strings.HasPrefix(status, "HTTP/1.") {
		return ""
	}
	if !strings.HasPrefix(status[len("HTTP/1.x"):], " 101") && strings.Contains(strings.ToLower(resp), "https") {
		return "" // a TLS port complaining about cleartext
	}
	return status
}

// proxyHint is what an upgrade refused with 400, 426 or 502 usually means.
const proxyHint = `a proxy in front of the server probably dropped the Upgrade and Connection headers ` +
	`(hop-by-hop headers a proxy drops unless told to pass them); nginx needs ` +
	`proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade";`

// Hint says what to do about a failure of class (as Classify named err), or
// "" when there is nothing more to say than the error.
func Hint(class string, err error) string {
	switch class {
	case ErrTLSNotTLS:
		return "the server speaks plain TCP/HTTP, not TLS: use ws://, or point wss:// at the server's TLS port"
	case ErrTLSHandshake:
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			return "the server closed the connection without a TLS answer: a plain ws:// server does this (try ws://), " +
				"and so does a TLS server that refuses the handshake silently (check --server-name and the server's TLS settings)"
		}
	case "upgrade_status_400", "upgrade_status_426", "upgrade_status_502":
		return proxyHint
	}
	return ""
}

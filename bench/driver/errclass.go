package driver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

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
	switch {
	case errors.As(err, &unknown):
		return ErrTLSUnknownAuthority
	case errors.As(err, &host):
		return ErrTLSHostname
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return ErrTLSExpired
		}
		return ErrTLSBadCert
	case errors.As(err, &recordHdr):
		return ErrTLSNotTLS
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

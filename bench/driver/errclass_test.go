package driver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/gobwas/ws"
	"github.com/wssbench/wssbench/bench/wsconn"
)

// opErr wraps err the way the net package reports a socket error.
func opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Err: &os.SyscallError{Syscall: op, Err: err}}
}

// timeoutErr is a read that hit its deadline, as a net.Conn reports it.
var timeoutErr = &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}

func TestClassify(t *testing.T) {
	t.Parallel()
	verify := func(err error) error { return &tls.CertificateVerificationError{Err: err} }
	cases := []struct {
		name  string
		phase Phase
		err   error
		want  string
	}{
		{name: "nil", phase: PhaseFrame, err: nil, want: ""},
		{name: "refused", phase: PhaseTCP, err: opErr("connect", syscall.ECONNREFUSED), want: ErrDialRefused},
		{name: "refused-wrapped-twice", phase: PhaseTCP, err: fmt.Errorf("dial: %w", opErr("connect", syscall.ECONNREFUSED)), want: ErrDialRefused},
		{name: "addr-not-available", phase: PhaseTCP, err: opErr("connect", syscall.EADDRNOTAVAIL), want: ErrAddrNotAvailable},
		{name: "emfile", phase: PhaseTCP, err: opErr("socket", syscall.EMFILE), want: ErrTooManyFiles},
		{name: "enfile", phase: PhaseTCP, err: opErr("socket", syscall.ENFILE), want: ErrTooManyFiles},
		{name: "reset-in-frame", phase: PhaseFrame, err: opErr("read", syscall.ECONNRESET), want: ErrReset},
		{name: "reset-in-tls", phase: PhaseTLS, err: opErr("read", syscall.ECONNRESET), want: ErrReset},
		{name: "broken-pipe", phase: PhaseFrame, err: opErr("write", syscall.EPIPE), want: ErrReset},
		{name: "unknown-authority", phase: PhaseTLS, err: verify(x509.UnknownAuthorityError{}), want: ErrTLSUnknownAuthority},
		{name: "hostname", phase: PhaseTLS, err: verify(x509.HostnameError{Host: "localhost"}), want: ErrTLSHostname},
		{name: "expired", phase: PhaseTLS, err: verify(x509.CertificateInvalidError{Reason: x509.Expired}), want: ErrTLSExpired},
		{name: "not-authorized-to-sign", phase: PhaseTLS, err: verify(x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign}), want: ErrTLSBadCert},
		{name: "bad-eku", phase: PhaseTLS, err: verify(x509.CertificateInvalidError{Reason: x509.IncompatibleUsage}), want: ErrTLSBadCert},
		{name: "record-header", phase: PhaseTLS, err: tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, want: ErrTLSNotTLS},
		{name: "record-header-later-record", phase: PhaseTLS, err: tls.RecordHeaderError{Msg: "received record with version 301 when expecting version 303"}, want: ErrTLSHandshake},
		{name: "not-tls-probed", phase: PhaseTLS, err: &NotTLSError{Err: io.EOF, Answer: "HTTP/1.1 101 Switching Protocols"}, want: ErrTLSNotTLS},
		{name: "alert-protocol-version", phase: PhaseTLS, err: &net.OpError{Op: "remote error", Err: tls.AlertError(70)}, want: ErrTLSProtocolVersion},
		{name: "alert-handshake-failure", phase: PhaseTLS, err: &net.OpError{Op: "remote error", Err: tls.AlertError(40)}, want: ErrTLSHandshake},
		{name: "tls-message-in-tls-phase", phase: PhaseTLS, err: errors.New("tls: no cipher suite supported by both client and server"), want: ErrTLSHandshake},
		{name: "eof-in-tls", phase: PhaseTLS, err: io.EOF, want: ErrTLSHandshake},
		{name: "eof-in-upgrade", phase: PhaseUpgrade, err: io.EOF, want: ErrClosedByPeer},
		{name: "eof-in-frame", phase: PhaseFrame, err: io.EOF, want: ErrClosedByPeer},
		{name: "unexpected-eof-in-frame", phase: PhaseFrame, err: io.ErrUnexpectedEOF, want: ErrClosedByPeer},
		{name: "wrapped-eof-in-tls", phase: PhaseTLS, err: fmt.Errorf("handshake: %w", io.EOF), want: ErrTLSHandshake},
		{name: "timeout-tcp", phase: PhaseTCP, err: &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, want: ErrDialTimeout},
		{name: "timeout-tls", phase: PhaseTLS, err: timeoutErr, want: ErrTLSTimeout},
		{name: "timeout-upgrade", phase: PhaseUpgrade, err: timeoutErr, want: ErrUpgradeTimeout},
		{name: "timeout-frame", phase: PhaseFrame, err: timeoutErr, want: ErrFrameTimeout},
		{name: "context-deadline-tls", phase: PhaseTLS, err: context.DeadlineExceeded, want: ErrTLSTimeout},
		{name: "status-404", phase: PhaseUpgrade, err: ws.StatusError(404), want: "upgrade_status_404"},
		{name: "status-403-wrapped", phase: PhaseUpgrade, err: fmt.Errorf("upgrade: %w", ws.StatusError(403)), want: "upgrade_status_403"},
		{name: "status-502", phase: PhaseUpgrade, err: ws.StatusError(502), want: "upgrade_status_502"},
		{name: "bad-accept", phase: PhaseUpgrade, err: ws.ErrHandshakeBadSecAccept, want: ErrUpgradeBadAccept},
		{name: "bad-upgrade", phase: PhaseUpgrade, err: ws.ErrHandshakeBadUpgrade, want: ErrUpgradeBadResponse},
		{name: "bad-connection", phase: PhaseUpgrade, err: ws.ErrHandshakeBadConnection, want: ErrUpgradeBadResponse},
		{name: "bad-http-version", phase: PhaseUpgrade, err: ws.ErrHandshakeBadProtocol, want: ErrUpgradeBadResponse},
		{name: "bad-subprotocol", phase: PhaseUpgrade, err: ws.ErrHandshakeBadSubProtocol, want: ErrUpgradeBadResponse},
		{name: "malformed-response", phase: PhaseUpgrade, err: ws.ErrMalformedResponse, want: ErrUpgradeBadResponse},
		{name: "echo-mismatch", phase: PhaseFrame, err: ErrEchoMismatch, want: ErrFrameEchoMismatch},
		{name: "echo-mismatch-wrapped", phase: PhaseFrame, err: fmt.Errorf("conn 3: %w", ErrEchoMismatch), want: ErrFrameEchoMismatch},
		{name: "protocol", phase: PhaseFrame, err: fmt.Errorf("%w: masked frame from server", wsconn.ErrProtocol), want: ErrFrameProtocol},
		{name: "too-large", phase: PhaseFrame, err: fmt.Errorf("%w: 2000000 bytes", wsconn.ErrFrameTooLarge), want: ErrFrameProtocol},
		{name: "close-frame", phase: PhaseFrame, err: &wsconn.CloseError{Code: ws.StatusGoingAway}, want: ErrClosedByPeer},
		{name: "unknown-in-frame", phase: PhaseFrame, err: errors.New("something odd"), want: ErrOther},
		{name: "unknown-in-tcp", phase: PhaseTCP, err: errors.New("something odd"), want: ErrOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Classify(tc.phase, tc.err); got != tc.want {
				t.Errorf("Classify(%d, %v) = %q, want %q", tc.phase, tc.err, got, tc.want)
			}
		})
	}
}

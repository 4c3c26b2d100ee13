package failure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "something slow" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return false }

func opErr(errno syscall.Errno) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
}

type classifyCase struct {
	name string
	err  error
	want string
}

func classifyCases() []classifyCase {
	return []classifyCase{
		{"nil", nil, ""},
		{"already classified", New(DNSBogon, "resolve", errors.New("x")), DNSBogon},
		{"already classified wrapped", fmt.Errorf("ctx: %w", New(SSLInvalidHostname, "", nil)), SSLInvalidHostname},
		{"errno refused", opErr(syscall.ECONNREFUSED), ConnectionRefused},
		{"errno reset", opErr(syscall.ECONNRESET), ConnectionReset},
		{"errno broken pipe", opErr(syscall.EPIPE), ConnectionReset},
		{"errno host unreachable", opErr(syscall.EHOSTUNREACH), HostUnreachable},
		{"errno network unreachable", opErr(syscall.ENETUNREACH), NetworkUnreachable},
		{"errno timed out", opErr(syscall.ETIMEDOUT), GenericTimeout},
		{"dns nxdomain", fmt.Errorf("q: %w", ErrDNSNXDomain), DNSNXDomain},
		{"dns refused", ErrDNSRefused, DNSRefused},
		{"dns servfail", ErrDNSServfail, DNSServfail},
		{"dns no answer", ErrDNSNoAnswer, DNSNoAnswer},
		{"dns bogon", ErrDNSBogon, DNSBogon},
		{"net.DNSError not found", &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, DNSNXDomain},
		{"context deadline", context.DeadlineExceeded, GenericTimeout},
		{"os deadline", fmt.Errorf("read: %w", os.ErrDeadlineExceeded), GenericTimeout},
		{"net.Error timeout", timeoutErr{}, GenericTimeout},
		{"eof", io.EOF, EOF},
		{"unexpected eof", io.ErrUnexpectedEOF, EOF},
		{"x509 hostname", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "a.example"}, SSLInvalidHostname},
		{"x509 unknown authority", x509.UnknownAuthorityError{}, SSLUnknownAuthority},
		{"x509 invalid", x509.CertificateInvalidError{Reason: x509.Expired}, SSLInvalidCert},
		{"tls verification", &tls.CertificateVerificationError{Err: errors.New("bad")}, SSLInvalidCert},
		{"tls alert", fmt.Errorf("remote error: %w", tls.AlertError(40)), SSLFailedHandshake},
		{"tls record header", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, SSLFailedHandshake},
		{"quic version negotiation", fmt.Errorf("dial: %w", &quic.VersionNegotiationError{}), QUICIncompatibleVersion},
		{"quic stateless reset", &quic.StatelessResetError{}, QUICStatelessReset},
		{"quic handshake timeout", &quic.HandshakeTimeoutError{}, GenericTimeout},
		{"quic idle timeout", &quic.IdleTimeoutError{}, GenericTimeout},
		{"quic connection refused", &quic.TransportError{Remote: true, ErrorCode: quic.ConnectionRefused}, ConnectionRefused},
		{"quic tls alert", &quic.TransportError{ErrorCode: 0x100 + 42}, SSLFailedHandshake},
		{"quic protocol violation", &quic.TransportError{Remote: true, ErrorCode: quic.ProtocolViolation}, QUICTransportError},
		{"quic application error", &quic.ApplicationError{Remote: true, ErrorCode: 0x10c}, QUICApplicationError},
		{"http3 stream reset", &http3.Error{Remote: true, ErrorCode: http3.ErrCodeRequestRejected}, QUICApplicationError},
		{"quic stream error", &quic.StreamError{ErrorCode: 0x10c, Remote: true}, QUICApplicationError},
		{"text refused", errors.New("dial tcp: connect: connection refused"), ConnectionRefused},
		{"text reset", errors.New("read: connection reset by peer"), ConnectionReset},
		{"text no route", errors.New("connect: no route to host"), HostUnreachable},
		{"text network unreachable", errors.New("connect: network is unreachable"), NetworkUnreachable},
		{"text timeout", errors.New("read udp: i/o timeout"), GenericTimeout},
		{"text no such host", errors.New("lookup x: no such host"), DNSNXDomain},
		{"text eof", errors.New("unexpected EOF"), EOF},
		{"text unknown authority", errors.New("x509: certificate signed by unknown authority"), SSLUnknownAuthority},
		{"text hostname", errors.New("x509: certificate is valid for a.example, not b.example"), SSLInvalidHostname},
		{"text handshake", errors.New("remote error: tls: handshake failure"), SSLFailedHandshake},
		{"mail protocol", New(MailProtocolError, "", nil), MailProtocolError},
		{"too many redirects", New(HTTPTooManyRedirects, "", nil), HTTPTooManyRedirects},
		{"bad http", New(HTTPBadResponse, "", nil), HTTPBadResponse},
		{"unknown scrubbed", errors.New("weird thing from 192.0.2.7:443 and [2001:db8::1]:80"), Unknown + ": weird thing from [scrubbed]:443 and [scrubbed]:80"},
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range classifyCases() {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestWrap(t *testing.T) {
	t.Parallel()
	if Wrap("connect", nil) != nil {
		t.Fatal("Wrap(nil) != nil")
	}
	cause := opErr(syscall.ECONNREFUSED)
	err := Wrap("connect", cause)
	var fe *Error
	if !errors.As(err, &fe) || fe.Failure != ConnectionRefused || fe.Operation != "connect" || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Wrap = %#v, want connection_refused on connect wrapping the cause", err)
	}
	if again := Wrap("read", err); again != err {
		t.Errorf("re-wrapping changed the error: %v", again)
	}
	if s := String(nil); s != nil {
		t.Errorf("String(nil) = %v, want nil", *s)
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"dial 203.0.113.9:53 failed", "dial [scrubbed]:53 failed"},
		{"from fe80::1%eth0 ok", "from [scrubbed] ok"},
		{"v6 2001:db8:0:1::53 here", "v6 [scrubbed] here"},
		{"at 12:30:45 today", "at 12:30:45 today"},
		{"version 1.2.3", "version 1.2.3"},
		{"::ffff:192.0.2.1", "[scrubbed]"},
	}
	for _, tc := range tests {
		if got := Scrub(tc.in); got != tc.want {
			t.Errorf("Scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzScrub(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "[::1]:53", "no address", "fe80::1%lo0", "12:30:45"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Scrub(s)
		for _, m := range ipv4RE.FindAllString(out, -1) {
			if net.ParseIP(m) != nil {
				t.Errorf("Scrub(%q) = %q keeps address %s", s, out, m)
			}
		}
		if strings.Contains(s, "[scrubbed]") {
			return
		}
	})
}

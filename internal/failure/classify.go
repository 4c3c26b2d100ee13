package failure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"syscall"
)

// Sentinel errors for DNS response codes and conditions; the DNS code wraps
// them so that Classify maps them with errors.Is.
var (
	ErrDNSNXDomain = errors.New("dns: no such host (NXDOMAIN)")
	ErrDNSRefused  = errors.New("dns: query refused")
	ErrDNSServfail = errors.New("dns: server failure")
	ErrDNSNoAnswer = errors.New("dns: no answer")
	ErrDNSBogon    = errors.New("dns: bogon address in answer")
)

// New returns a classified error for a failure string already known.
func New(failure, operation string, err error) *Error {
	return &Error{Failure: failure, Operation: operation, Err: err}
}

// Wrap classifies err and returns it as an *Error for operation. It returns
// nil for a nil err and keeps an already classified error's failure string.
func Wrap(operation string, err error) error {
	if err == nil {
		return nil
	}
	var fe *Error
	if errors.As(err, &fe) {
		if fe.Operation == "" {
			return &Error{Failure: fe.Failure, Operation: operation, Err: fe.Err}
		}
		return fe
	}
	return &Error{Failure: Classify(err), Operation: operation, Err: err}
}

// String returns the failure string of err for a record: nil for a nil err.
func String(err error) *string {
	if err == nil {
		return nil
	}
	s := Classify(err)
	return &s
}

// Classify maps err to a failure string. It tries, in order: an already
// classified *Error, errno values, QUIC and HTTP/3 errors, typed errors with errors.Is/As, and the
// error text's suffix; anything else becomes "unknown_failure: <text>" with IP
// addresses scrubbed. Classify(nil) is "".
func Classify(err error) string {
	if err == nil {
		return ""
	}
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Failure
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if f, ok := fromErrno(errno); ok {
			return f
		}
	}
	if f, ok := classifyQUIC(err); ok {
		return f
	}
	switch {
	case errors.Is(err, ErrDNSNXDomain):
		return DNSNXDomain
	case errors.Is(err, ErrDNSRefused):
		return DNSRefused
	case errors.Is(err, ErrDNSServfail):
		return DNSServfail
	case errors.Is(err, ErrDNSNoAnswer):
		return DNSNoAnswer
	case errors.Is(err, ErrDNSBogon):
		return DNSBogon
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return GenericTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return EOF
	}
	var hostErr x509.HostnameError
	if errors.As(err, &hostErr) {
		return SSLInvalidHostname
	}
	var uaErr x509.UnknownAuthorityError
	if errors.As(err, &uaErr) {
		return SSLUnknownAuthority
	}
	var ciErr x509.CertificateInvalidError
	if errors.As(err, &ciErr) {
		return SSLInvalidCert
	}
	var verErr *tls.CertificateVerificationError
	if errors.As(err, &verErr) {
		return SSLInvalidCert
	}
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return SSLFailedHandshake
	}
	var recHdr tls.RecordHeaderError
	if errors.As(err, &recHdr) {
		return SSLFailedHandshake
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		switch {
		case dnsErr.IsNotFound:
			return DNSNXDomain
		case dnsErr.IsTimeout:
			return GenericTimeout
		}
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return GenericTimeout
	}
	return classifyText(err.Error())
}

// suffixes maps the tail of an error text to a failure string: the last resort.
var suffixes = []struct{ suffix, failure string }{
	{"connection refused", ConnectionRefused},
	{"connection reset by peer", ConnectionReset},
	{"broken pipe", ConnectionReset},
	{"no route to host", HostUnreachable},
	{"network is unreachable", NetworkUnreachable},
	{"i/o timeout", GenericTimeout},
	{"timed out", GenericTimeout},
	{"deadline exceeded", GenericTimeout},
	{"no such host", DNSNXDomain},
	{"unexpected eof", EOF},
	{"eof", EOF},
	{"certificate signed by unknown authority", SSLUnknownAuthority},
	{"first record does not look like a tls handshake", SSLFailedHandshake},
	{"handshake failure", SSLFailedHandshake},
}

func classifyText(text string) string {
	lower := strings.ToLower(strings.TrimSpace(text))
	for _, s := range suffixes {
		if strings.HasSuffix(lower, s.suffix) {
			return s.failure
		}
	}
	if strings.Contains(lower, "certificate is valid for") {
		return SSLInvalidHostname
	}
	return Unknown + ": " + Scrub(text)
}

var (
	ipv4RE = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`)
	// ipv6RE matches candidates: hex groups with at least two colons, an
	// optional trailing dotted quad, zone and brackets. Only those that parse
	// as addresses are scrubbed.
	ipv6RE = regexp.MustCompile(`\[?(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4})(?:%[0-9A-Za-z._-]+)?\]?`)
)

// Scrub replaces IPv4 and IPv6 addresses in text with "[scrubbed]", so that
// unknown failures never carry the probe's or anyone's address.
func Scrub(text string) string {
	text = ipv6RE.ReplaceAllStringFunc(text, func(m string) string {
		addr := strings.TrimSuffix(strings.TrimPrefix(m, "["), "]")
		addr, _, _ = strings.Cut(addr, "%")
		if ip := net.ParseIP(addr); ip == nil {
			return m
		}
		return "[scrubbed]"
	})
	return ipv4RE.ReplaceAllString(text, "[scrubbed]")
}

// Package failure is firewatch's one failure vocabulary: every network error
// becomes one of a fixed set of strings, classified where it happens and
// carried by *Error together with the operation that failed.
package failure

// The failure strings. Anything else is recorded as Unknown + ": " + text,
// with IP addresses scrubbed from the text.
const (
	DNSNXDomain         = "dns_nxdomain_error"
	DNSRefused          = "dns_refused_error"
	DNSServfail         = "dns_servfail_error"
	DNSNoAnswer         = "dns_no_answer"
	DNSBogon            = "dns_bogon_error"
	GenericTimeout      = "generic_timeout_error"
	ConnectionRefused   = "connection_refused"
	ConnectionReset     = "connection_reset"
	HostUnreachable     = "host_unreachable"
	NetworkUnreachable  = "network_unreachable"
	EOF                 = "eof_error"
	SSLInvalidHostname  = "ssl_invalid_hostname"
	SSLUnknownAuthority = "ssl_unknown_authority"
	SSLInvalidCert      = "ssl_invalid_certificate"
	SSLFailedHandshake  = "ssl_failed_handshake"
	Unknown             = "unknown_failure"
)

// Error is a classified network failure. Failure is one of the strings above
// (or "unknown_failure: ..."); Operation is the step that failed.
type Error struct {
	Failure   string
	Operation string
	Err       error
}

func (e *Error) Error() string { return e.Failure }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

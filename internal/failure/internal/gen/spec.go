package main

// failure is one entry of the vocabulary.
type failure struct {
	Name   string   // Go constant in package failure
	Value  string   // the failure string in records
	Doc    string   // what it means, one sentence continuing the constant's name
	Errnos []string // syscall errno names classified as this failure
}

// unknown prefixes the text of an unclassified error.
const unknown = "unknown_failure"

// spec is the failure vocabulary: the one place a failure string is written.
// Add an entry here and run `go generate ./internal/failure`.
var spec = []failure{
	{"DNSNXDomain", "dns_nxdomain_error", "the name does not exist (NXDOMAIN).", nil},
	{"DNSRefused", "dns_refused_error", "the resolver refused the query (REFUSED).", nil},
	{"DNSServfail", "dns_servfail_error", "the resolver failed to answer (SERVFAIL).", nil},
	{"DNSNoAnswer", "dns_no_answer", "the response is NOERROR without an A or AAAA record.", nil},
	{"DNSBogon", "dns_bogon_error", "an answer names a private, loopback or reserved address.", nil},
	{"GenericTimeout", "generic_timeout_error", "no answer before the deadline.", []string{"ETIMEDOUT"}},
	{"ConnectionRefused", "connection_refused", "the peer refused the connection (RST to a SYN).", []string{"ECONNREFUSED"}},
	{"ConnectionReset", "connection_reset", "the connection was reset (RST) or broken after it was established.", []string{"ECONNRESET", "EPIPE"}},
	{"HostUnreachable", "host_unreachable", "no route to the host.", []string{"EHOSTUNREACH"}},
	{"NetworkUnreachable", "network_unreachable", "no route to the network.", []string{"ENETUNREACH"}},
	{"EOF", "eof_error", "the peer closed the connection before the exchange was complete.", nil},
	{"SSLInvalidHostname", "ssl_invalid_hostname", "the certificate is not valid for the name asked.", nil},
	{"SSLUnknownAuthority", "ssl_unknown_authority", "the chain does not lead to a trusted root.", nil},
	{"SSLInvalidCert", "ssl_invalid_certificate", "the certificate is invalid otherwise (expired, not yet valid, bad usage).", nil},
	{"SSLFailedHandshake", "ssl_failed_handshake", "the TLS handshake failed (an alert, or a reply that is not TLS).", nil},
	{"MailProtocolError", "mail_protocol_error", "a mail server sent garbage instead of a banner or reply, a line too long, or refused a command the exchange needs.", nil},
	{"HTTPTooManyRedirects", "http_too_many_redirects", "the redirect chain was longer than the limit (a loop ends this way).", nil},
	{"HTTPBadResponse", "http_bad_response", "the server's reply was not HTTP.", nil},
	{"QUICIncompatibleVersion", "quic_incompatible_version", "the server speaks no QUIC version the probe offers (version negotiation failed).", nil},
	{"QUICStatelessReset", "quic_stateless_reset", "a QUIC stateless reset ended the connection (a server that lost its state, or a forged reset on the path).", nil},
	{"QUICTransportError", "quic_transport_error", "the QUIC connection was closed with a transport error other than CONNECTION_REFUSED or a TLS alert.", nil},
	{"QUICApplicationError", "quic_application_error", "the HTTP/3 peer closed the connection or reset the request's stream with an application error code.", nil},
}

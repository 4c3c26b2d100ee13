package model

// Bounds of the record format: the probe and the control never write more,
// and the collector refuses a record that exceeds one (docs/measurement-
// schema.md lists them). Lengths of text are in bytes unless said otherwise;
// a count bounds a list. Where the probe records what the network sent
// without a cap of its own (certificates, DNS answers), the bound is what
// the protocol (or Go's implementation of it) lets through, so that no
// network can make the probe write a record the collector refuses; the
// whole record's bound, MaxRecordBytes, is the one such a record meets.
const (
	MaxIDLen       = 200   // id
	MaxTargetLen   = 4096  // target, input, resolver URLs
	MaxURLLen      = 32768 // http.url, http.location, download.url: a target and 10 redirects of 2,048-byte locations
	MaxCategoryLen = 200   // category
	MaxNameLen     = 256   // probe network, software and platform; rcode; resolver names
	MaxHostLen     = 1024  // hostname, server name, address, DNS names and values
	MaxResolvers   = 32    // resolvers
	MaxSteps       = 512   // steps

	MaxDNSResponses = 32      // dns.responses (every response of one query's injection window)
	MaxDNSAnswers   = 4096    // dns.responses[].answers: what a 65,535-byte message can hold
	MaxDNSRaw       = 87384   // dns.responses[].raw_b64: a 65,535-byte message in base64
	MaxBogons       = 131072  // dns.bogons: every address of 32 responses
	MaxChain        = 2048    // tls.chain: Go's TLS accepts a certificate message of 256 KiB at most
	MaxSANs         = 131072  // tls.chain[].sans: what 256 KiB of certificates can hold
	MaxCertNameLen  = 1 << 20 // tls.chain[].subject, issuer, each SAN: 256 KiB of DER as text
	MaxHeaders      = 32      // http.headers
	MaxHeaderLen    = 512     // each http.headers value
	MaxBodyHead     = 4096    // http.body_head, in characters (the first 4,096 bytes of the body as UTF-8)
	MaxTitle        = 256     // http.title
	MaxElements     = 64      // http.elements (each a 16-hex-digit digest)
	MaxBanner       = 512     // mail.banner and mail.reply
	MaxCapabilities = 1024    // mail.capabilities
	MaxCapability   = 128     // each mail.capabilities entry
	MaxEvidence     = 64      // verdict.evidence
	MaxEvidenceLine = 8192    // each verdict.evidence[].lines entry and verdict.reason (the verdict clips longer ones)
	MaxLines        = 1024    // verdict.evidence[].lines
	MaxTraceAnswers = 1024    // trace.answers, each MaxEvidenceLine
	MaxDigestLen    = 64      // every sha256 field (hex)
	MaxShortLen     = 64      // schema, vantage, status, operation, query_type, TLS version, cipher suite, ALPN, protocol, method
	MaxFailureLen   = 1024    // every failure string
	MaxRecordBytes  = 8 << 20 // a whole record as JSON
)

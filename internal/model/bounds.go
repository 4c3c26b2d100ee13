package model

// Bounds of the record format: the probe and the control never write more,
// and the collector refuses a record that exceeds one (docs/measurement-
// schema.md lists them). Lengths of text are in bytes unless said otherwise;
// a count bounds a list.
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
	MaxBogons       = 4096    // dns.bogons
	MaxChain        = 32      // tls.chain
	MaxSANs         = 4096    // tls.chain[].sans
	MaxCertNameLen  = 4096    // tls.chain[].subject, issuer, each SAN
	MaxHeaders      = 32      // http.headers
	MaxHeaderLen    = 512     // each http.headers value
	MaxBodyHead     = 4096    // http.body_head, in characters (the first 4,096 bytes of the body as UTF-8)
	MaxTitle        = 256     // http.title
	MaxBanner       = 512     // mail.banner and mail.reply
	MaxCapabilities = 1024    // mail.capabilities
	MaxCapability   = 128     // each mail.capabilities entry
	MaxEvidence     = 64      // verdict.evidence
	MaxEvidenceLine = 8192    // each verdict.evidence[].lines entry and verdict.reason (the verdict clips longer ones)
	MaxLines        = 1024    // verdict.evidence[].lines
	MaxDigestLen    = 64      // every sha256 field (hex)
	MaxShortLen     = 64      // schema, vantage, status, operation, query_type, TLS version, cipher suite, ALPN, protocol, method
	MaxFailureLen   = 1024    // every failure string
	MaxRecordBytes  = 8 << 20 // a whole record as JSON
)

// Package model holds the archival data types of firewatch: the measurement
// record that the probe writes, the control returns, the verdict completes and
// the collector stores. Its JSON shape is the public contract documented in
// docs/measurement-schema.md; change it only together with SchemaVersion.
package model

import "time"

// SchemaVersion names the version of the measurement record format.
const SchemaVersion = "firewatch.measurement/1"

// Status values of a measurement. A record the probe wrote without a verdict
// has StatusMeasured.
const (
	StatusMeasured = "measured" // steps recorded, no verdict computed
	StatusOK       = "ok"       // works inside as it works outside
	StatusBlocked  = "blocked"  // interference found
	StatusDown     = "down"     // fails from outside as well: not censorship
	StatusError    = "error"    // could not decide; Verdict.Reason says why
)

// Vantages of a measurement (Measurement.Vantage).
const (
	VantageProbe   = "probe"   // inside the network under test
	VantageControl = "control" // the uncensored outside vantage
)

// Vantages returns every vantage a record may have.
func Vantages() []string { return []string{VantageProbe, VantageControl} }

// Operations recorded in Step.Operation.
const (
	OpResolve       = "resolve"        // system resolver (getaddrinfo-like)
	OpDNSRoundTrip  = "dns_round_trip" // one query to one named resolver
	OpConnect       = "connect"        // TCP connect
	OpTLSHandshake  = "tls_handshake"  // TLS handshake (implicit or after STARTTLS)
	OpHTTPRoundTrip = "http_round_trip"
	OpRead          = "read"
	OpWrite         = "write"
	OpMailGreeting  = "mail_greeting"    // banner and capabilities of a mail server
	OpStartTLS      = "starttls"         // STARTTLS/STLS command exchange
	OpDownload      = "download"         // streamed file download
	OpTraceHop      = "trace_hop"        // one TTL of a replayed triggering exchange (firewatch trace)
	OpKeywordTest   = "keyword_test"     // one variant of a request sent by firewatch keywords
	OpQUICHandshake = "quic_handshake"   // QUIC handshake (TLS 1.3 inside QUIC, ALPN h3) over UDP
	OpHTTP3         = "http3_round_trip" // one HTTP/3 request over a QUIC connection
)

// Statuses returns every status a record may have, StatusMeasured first.
func Statuses() []string {
	return []string{StatusMeasured, StatusOK, StatusBlocked, StatusDown, StatusError}
}

// VerdictStatuses returns the statuses a verdict decides: every status but
// StatusMeasured.
func VerdictStatuses() []string { return Statuses()[1:] }

// Operations returns every operation a Step may record.
func Operations() []string {
	return []string{OpResolve, OpDNSRoundTrip, OpConnect, OpTLSHandshake, OpHTTPRoundTrip,
		OpRead, OpWrite, OpMailGreeting, OpStartTLS, OpDownload, OpTraceHop, OpKeywordTest,
		OpQUICHandshake, OpHTTP3}
}

// Measurement is one record: everything observed about one target from one
// vantage, plus the verdict once it is computed.
type Measurement struct {
	Schema    string    `json:"schema"`
	ID        string    `json:"id"`
	Target    string    `json:"target"`          // normalized target URL
	Input     string    `json:"input,omitempty"` // target exactly as given
	Category  string    `json:"category,omitempty"`
	StartedAt time.Time `json:"started_at"`
	RuntimeMS float64   `json:"runtime_ms"`
	Vantage   string    `json:"vantage"` // VantageProbe or VantageControl
	Probe     ProbeInfo `json:"probe"`
	Resolvers []string  `json:"resolvers"` // "system" or resolver URLs used
	Status    string    `json:"status"`
	Methods   []string  `json:"methods"` // interference methods; empty until a verdict
	Steps     []Step    `json:"steps"`
	// AddrsNotTried counts the distinct addresses resolved (or given by the
	// other vantage) but not dialed because of the per-host-and-port cap,
	// summed over the hosts and ports of the record.
	AddrsNotTried int `json:"addresses_not_tried,omitempty"`

	// Verdict details; nil until the verdict is computed.
	Verdict *Verdict `json:"verdict,omitempty"`
	// Control is the outside vantage's measurement of the same target, when a
	// control was asked. Its own Control and Verdict are nil.
	Control *Measurement `json:"control,omitempty"`
}

// ProbeInfo says where a measurement was taken from. It never holds the
// probe's IP address.
type ProbeInfo struct {
	Country  string `json:"country,omitempty"` // ISO 3166-1 alpha-2, "ZZ" when unknown
	ASN      int    `json:"asn,omitempty"`     // 0 when unknown
	Network  string `json:"network,omitempty"` // network (AS) name when known
	Software string `json:"software"`          // "firewatch/VERSION"
	Platform string `json:"platform,omitempty"`
}

// Step is one network operation: its start, duration, outcome and data.
// Exactly the data field matching the operation is set, if any.
type Step struct {
	Operation  string    `json:"operation"`
	Address    string    `json:"address,omitempty"`  // "ip:port" where there is one
	Hostname   string    `json:"hostname,omitempty"` // name queried, SNI or URL host
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
	Failure    *string   `json:"failure"` // nil on success; a failure string otherwise

	DNS      *DNSData      `json:"dns,omitempty"`
	TLS      *TLSData      `json:"tls,omitempty"`
	HTTP     *HTTPData     `json:"http,omitempty"`
	Mail     *MailData     `json:"mail,omitempty"`
	Download *DownloadData `json:"download,omitempty"`
	IO       *IOData       `json:"io,omitempty"` // read and write steps
	Trace    *TraceHopData `json:"trace,omitempty"`
	Keyword  *KeywordData  `json:"keyword,omitempty"`
}

// TraceHopData is the data of a trace_hop step: what came back when the
// exchange that triggers the interference was replayed with IP TTL TTL.
type TraceHopData struct {
	Method       string   `json:"method"`           // the method being located, e.g. "http.reset"
	TTL          int      `json:"ttl"`              // the IP TTL of the replayed packet(s)
	Router       string   `json:"router,omitempty"` // source of the ICMP time exceeded; "" when none came
	Interference bool     `json:"interference"`     // the interference appeared at this TTL
	Genuine      bool     `json:"genuine"`          // the server's genuine answer arrived at this TTL
	Reached      bool     `json:"reached"`          // the server itself answered a packet of this TTL
	Answers      []string `json:"answers"`          // what arrived, in order ("rst from ...", "dns NXDOMAIN", ...)
	// Censor marks the hop the trace places the censor at, with its
	// Placement ("on-path" or "in-path"; "" when it cannot be told).
	Censor    bool   `json:"censor,omitempty"`
	Placement string `json:"placement,omitempty"`
}

// KeywordData is the data of a keyword_test step: one variant of a request
// sent inside by firewatch keywords, and how it compared with the control.
type KeywordData struct {
	Field    string   `json:"field"`              // "path", "host", "sni" or "dns"
	Value    string   `json:"value"`              // the variant's value of that field
	Word     string   `json:"word,omitempty"`     // the word of a list placed in a template (keywords test)
	Mutation string   `json:"mutation,omitempty"` // the evasion tried, "" for a plain variant
	Blocked  bool     `json:"blocked"`            // the variant showed the interference
	Status   string   `json:"status"`             // "blocked", "ok" or "error" (the comparison could not be made)
	Methods  []string `json:"methods,omitempty"`  // the interference seen, when blocked
	Control  string   `json:"control,omitempty"`  // what the control saw, when it was asked
	Outcome  string   `json:"outcome"`            // what the inside saw
}

// DNSData is the data of a resolve or dns_round_trip step.
type DNSData struct {
	Resolver  string        `json:"resolver"`   // "system", "udp://ip:port", "tcp://...", "https://..."
	QueryType string        `json:"query_type"` // "A", "AAAA"
	Responses []DNSResponse `json:"responses"`  // every response, in arrival order
	Bogons    []string      `json:"bogons,omitempty"`
}

// DNSResponse is one response to a query. On UDP an on-path injector's answer
// and the genuine one are two responses.
type DNSResponse struct {
	ArrivalMS float64     `json:"arrival_ms"`        // since the query was sent
	From      string      `json:"from,omitempty"`    // source address of the response
	Rcode     string      `json:"rcode"`             // "NOERROR", "NXDOMAIN", ...
	Answers   []DNSAnswer `json:"answers"`           // A/AAAA/CNAME records
	Failure   *string     `json:"failure"`           // this response classified (nxdomain, bogon, no answer)
	Raw       string      `json:"raw_b64,omitempty"` // the raw message, base64
}

// DNSAnswer is one resource record of an answer section.
type DNSAnswer struct {
	Name  string `json:"name"`
	Type  string `json:"type"`  // "A", "AAAA", "CNAME"
	Value string `json:"value"` // address or target name
	TTL   uint32 `json:"ttl"`
}

// TLSData is the data of a tls_handshake or quic_handshake step. The chain is recorded even when
// verification fails: a forged chain is the evidence.
type TLSData struct {
	ServerName  string        `json:"server_name"`
	Version     string        `json:"version,omitempty"` // "TLSv1.3"
	CipherSuite string        `json:"cipher_suite,omitempty"`
	ALPN        string        `json:"alpn,omitempty"`
	Chain       []Certificate `json:"chain"`                  // as presented, leaf first
	Verified    bool          `json:"verified"`               // chain verifies for ServerName against the roots
	VerifyError *string       `json:"verify_error"`           // failure string when not verified
	RootSubject string        `json:"root_subject,omitempty"` // the trust anchor the chain verified to
	RootSHA256  string        `json:"root_sha256,omitempty"`
}

// Certificate is one certificate of a presented chain.
type Certificate struct {
	Subject         string    `json:"subject"`
	Issuer          string    `json:"issuer"`
	SANs            []string  `json:"sans,omitempty"`
	NotBefore       time.Time `json:"not_before"`
	NotAfter        time.Time `json:"not_after"`
	SHA256          string    `json:"sha256"`      // of the DER certificate, hex
	PublicKeySHA256 string    `json:"spki_sha256"` // of the SubjectPublicKeyInfo, hex
	IsCA            bool      `json:"is_ca,omitempty"`
}

// HTTPData is the data of one http_round_trip step (one hop of a redirect
// chain) or of an http3_round_trip step (hop 0: HTTP/3 follows no redirect).
type HTTPData struct {
	Hop           int               `json:"hop"` // 0 for the first request
	URL           string            `json:"url"`
	Method        string            `json:"method"`
	Status        int               `json:"status,omitempty"`
	Location      string            `json:"location,omitempty"`
	Headers       map[string]string `json:"headers,omitempty"` // chosen response headers
	BodyLength    int64             `json:"body_length"`
	BodyTruncated bool              `json:"body_truncated,omitempty"`
	BodySHA256    string            `json:"body_sha256,omitempty"`
	BodyHead      string            `json:"body_head,omitempty"` // first few KB, as UTF-8 text
	Title         string            `json:"title,omitempty"`
	// Elements are the distinct digests of the body's <script> and
	// <iframe> elements (probe.ElementScanner), over the whole body read;
	// nil in records made before the field, an empty list for a body
	// without such elements.
	Elements    *[]string `json:"elements,omitempty"`
	BytesPerSec float64   `json:"bytes_per_sec,omitempty"`
	// NotFollowed says why the redirect of this hop was not followed (a
	// private literal address, a scheme other than http/https); empty when
	// it was followed or the hop is no redirect.
	NotFollowed string `json:"not_followed,omitempty"`
}

// MailData is the data of a mail_greeting or starttls step.
type MailData struct {
	Protocol        string   `json:"protocol"` // "imap", "smtp", "pop3"
	Banner          string   `json:"banner,omitempty"`
	Capabilities    []string `json:"capabilities,omitempty"`
	StartTLSOffered bool     `json:"starttls_offered"`
	Reply           string   `json:"reply,omitempty"` // server's reply to STARTTLS/STLS
}

// DownloadData is the data of a download step.
type DownloadData struct {
	URL         string  `json:"url"`
	Size        int64   `json:"size"`
	SHA256      string  `json:"sha256,omitempty"`
	Truncated   bool    `json:"truncated,omitempty"` // the size cap was hit
	BytesPerSec float64 `json:"bytes_per_sec,omitempty"`
}

// IOData is the data of a read or write step.
type IOData struct {
	Bytes int `json:"bytes"`
}

// Verdict holds the reasoning behind Status and Methods.
type Verdict struct {
	Evidence   []Evidence  `json:"evidence,omitempty"`
	Confidence *Confidence `json:"confidence,omitempty"`
	// Weak is true when no control was available: the verdict rests on the
	// inside vantage alone.
	Weak   bool   `json:"weak,omitempty"`
	Reason string `json:"reason,omitempty"` // why status is error or down
}

// Evidence explains one method in lines a person can read.
type Evidence struct {
	Method string   `json:"method"`
	Lines  []string `json:"lines"`
}

// Confidence says how many of the tries of a retested target agreed.
type Confidence struct {
	Agreed int `json:"agreed"`
	Tries  int `json:"tries"`
}

// Methods of interference named by a verdict. This is the whole vocabulary.
const (
	MethodDNSNXDomain      = "dns.nxdomain"
	MethodDNSBogon         = "dns.bogon"
	MethodDNSInjected      = "dns.injected"
	MethodDNSInconsistent  = "dns.inconsistent"
	MethodDNSTimeout       = "dns.timeout"
	MethodDNSReset         = "dns.reset"
	MethodTCPTimeout       = "tcp.timeout"
	MethodTCPReset         = "tcp.reset"
	MethodTLSReset         = "tls.reset"
	MethodTLSTimeout       = "tls.timeout"
	MethodTLSMITM          = "tls.mitm"
	MethodTLSStripped      = "tls.stripped"
	MethodHTTPReset        = "http.reset"
	MethodHTTPTimeout      = "http.timeout"
	MethodHTTPRedirect     = "http.redirect"
	MethodHTTPBlockpage    = "http.blockpage"
	MethodHTTPTampered     = "http.tampered"
	MethodSiteRedirect     = "site.redirect"
	MethodDownloadTampered = "download.tampered"
	MethodThrottled        = "throttled"
	MethodQUICBlocked      = "quic.blocked"
)

// Methods lists the whole vocabulary of interference methods.
var Methods = []string{
	MethodDNSNXDomain, MethodDNSBogon, MethodDNSInjected, MethodDNSInconsistent,
	MethodDNSTimeout, MethodDNSReset, MethodTCPTimeout, MethodTCPReset, MethodTLSReset,
	MethodTLSTimeout, MethodTLSMITM, MethodTLSStripped, MethodHTTPReset,
	MethodHTTPTimeout, MethodHTTPRedirect, MethodHTTPBlockpage, MethodHTTPTampered,
	MethodSiteRedirect, MethodDownloadTampered, MethodThrottled, MethodQUICBlocked,
}

package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

// Sample targets of Sample's measurements.
const (
	TargetDNS      = "https://dns-injected.example/"
	TargetMITM     = "https://mitm.example/"
	TargetRedirect = "http://redirect.example/"
	TargetOK       = "https://open.example/"
	TargetDownload = "https://download.example/tool.tar.gz"
	TargetMail     = "smtp://mail.example/" // as the probe writes it (target.Normalize)
)

// SampleCAIssuer is the issuer of the forged certificate in Sample.
const SampleCAIssuer = "CN=Inspection CA,O=Censor Telecom"

// SampleRootIssuer is the issuer of the genuine certificates in Sample.
const SampleRootIssuer = "CN=Example Root CA,O=Example Trust"

func fstr(s string) *string { return &s }

// hexHash is a stand-in fingerprint: the SHA-256 of its parts, in hex.
func hexHash(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "|")))
	return hex.EncodeToString(h[:])
}

func base(id, target string, at time.Time, country string, asn int) *model.Measurement {
	return &model.Measurement{
		Schema: model.SchemaVersion, ID: id, Target: target, Input: target, Category: "NEWS",
		StartedAt: at, RuntimeMS: 812, Vantage: model.VantageProbe,
		Probe:     model.ProbeInfo{Country: country, ASN: asn, Network: "Example Telecom", Software: "firewatch/test"},
		Resolvers: []string{"system"}, Status: model.StatusOK, Methods: []string{},
	}
}

func control(m *model.Measurement, steps ...model.Step) *model.Measurement {
	c := base(m.ID+"-control", m.Target, m.StartedAt, "ZZ", 0)
	c.Vantage = model.VantageControl
	c.Probe = model.ProbeInfo{Country: "DE", ASN: 64500, Software: "firewatch/test"}
	c.Status = model.StatusMeasured
	c.Steps = steps
	return c
}

func dnsStep(host string, at time.Time, resps ...model.DNSResponse) model.Step {
	return model.Step{Operation: model.OpDNSRoundTrip, Hostname: host, StartedAt: at, DurationMS: 40,
		DNS: &model.DNSData{Resolver: "udp://198.51.100.53:53", QueryType: "A", Responses: resps}}
}

func answer(host, ip string) model.DNSResponse {
	return model.DNSResponse{ArrivalMS: 38, From: "198.51.100.53:53", Rcode: "NOERROR",
		Answers: []model.DNSAnswer{{Name: host, Type: "A", Value: ip, TTL: 300}}}
}

func tlsStep(host, addr string, at time.Time, verified bool, issuer string, fail *string) model.Step {
	t := &model.TLSData{ServerName: host, Version: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", Verified: verified,
		Chain: []model.Certificate{{
			Subject: "CN=" + host, Issuer: issuer, SANs: []string{host},
			NotBefore: at.AddDate(0, -1, 0), NotAfter: at.AddDate(0, 2, 0),
			SHA256:          hexHash("cert", issuer, host),
			PublicKeySHA256: hexHash("key", issuer, host),
		}}}
	if verified {
		t.RootSubject, t.RootSHA256 = SampleRootIssuer, hexHash("root", SampleRootIssuer)
	} else {
		t.VerifyError = fstr(failure.SSLUnknownAuthority)
	}
	return model.Step{Operation: model.OpTLSHandshake, Address: addr, Hostname: host, StartedAt: at, DurationMS: 80, Failure: fail, TLS: t}
}

func httpStep(hop int, u string, at time.Time, status int, loc, title, sha string) model.Step {
	return model.Step{Operation: model.OpHTTPRoundTrip, Address: "192.0.2.20:80", Hostname: "redirect.example", StartedAt: at, DurationMS: 60,
		HTTP: &model.HTTPData{Hop: hop, URL: u, Method: "GET", Status: status, Location: loc, Title: title,
			BodyLength: 1234, BodySHA256: sha}}
}

func verdict(method string, lines ...string) *model.Verdict {
	return &model.Verdict{Evidence: []model.Evidence{{Method: method, Lines: lines}}, Confidence: &model.Confidence{Agreed: 3, Tries: 3}}
}

// Sample returns a small, varied set of measurements taken in the days
// before now: blocked targets with several methods (DNS injection, TLS MITM,
// HTTP redirect, tampered download, stripped STARTTLS), each with a control,
// and an open target. It is the seed of handler tests, the browser test and
// the dashboard benchmarks.
func Sample(now time.Time) []*model.Measurement {
	day := func(d int) time.Time {
		return now.Add(-time.Duration(d)*24*time.Hour - time.Hour).UTC().Truncate(time.Second)
	}
	var out []*model.Measurement

	// DNS injection in CN: open 10 days ago, blocked since 5 days ago.
	for i, d := range []int{10, 5, 4, 1} {
		m := base(fmt.Sprintf("m-dns-%d", i), TargetDNS, day(d), "CN", 4134)
		good := answer("dns-injected.example", "192.0.2.10")
		m.Steps = []model.Step{dnsStep("dns-injected.example", m.StartedAt, good)}
		if d <= 5 {
			forged := model.DNSResponse{ArrivalMS: 3.1, From: "198.51.100.53:53", Rcode: "NOERROR",
				Answers: []model.DNSAnswer{{Name: "dns-injected.example", Type: "A", Value: "203.0.113.66", TTL: 60}}}
			m.Steps = []model.Step{dnsStep("dns-injected.example", m.StartedAt, forged, good),
				{Operation: model.OpConnect, Address: "203.0.113.66:443", StartedAt: m.StartedAt, DurationMS: 10000, Failure: fstr(failure.GenericTimeout)}}
			m.Status, m.Methods = model.StatusBlocked, []string{model.MethodDNSInjected}
			m.Verdict = verdict(model.MethodDNSInjected,
				"two answers to one query: 203.0.113.66 after 3.1 ms, then 192.0.2.10 after 38 ms",
				"the control resolved 192.0.2.10 only")
		}
		m.Control = control(m, dnsStep("dns-injected.example", m.StartedAt, good),
			tlsStep("dns-injected.example", "192.0.2.10:443", m.StartedAt, true, SampleRootIssuer, nil))
		out = append(out, m)
	}

	// TLS MITM in CN.
	for i, d := range []int{6, 3, 0} {
		m := base(fmt.Sprintf("m-mitm-%d", i), TargetMITM, day(d), "CN", 4134)
		m.Steps = []model.Step{
			dnsStep("mitm.example", m.StartedAt, answer("mitm.example", "192.0.2.11")),
			tlsStep("mitm.example", "192.0.2.11:443", m.StartedAt, false, SampleCAIssuer, fstr(failure.SSLUnknownAuthority)),
		}
		m.Status, m.Methods = model.StatusBlocked, []string{model.MethodTLSMITM}
		m.Verdict = verdict(model.MethodTLSMITM, "the certificate inside was issued by "+SampleCAIssuer,
			"the control's chain verified to "+SampleRootIssuer)
		m.Control = control(m, dnsStep("mitm.example", m.StartedAt, answer("mitm.example", "192.0.2.11")),
			tlsStep("mitm.example", "192.0.2.11:443", m.StartedAt, true, SampleRootIssuer, nil))
		out = append(out, m)
	}

	// HTTP redirect to a block page in IR.
	for i, d := range []int{2, 1} {
		m := base(fmt.Sprintf("m-redir-%d", i), TargetRedirect, day(d), "IR", 12880)
		m.Category = "POLR"
		m.Steps = []model.Step{
			httpStep(0, TargetRedirect, m.StartedAt, 302, "http://blockpage.invalid/denied", "", ""),
			httpStep(1, "http://blockpage.invalid/denied", m.StartedAt, 200, "", "Access denied", fmt.Sprintf("%064x", 7)),
		}
		m.Status, m.Methods = model.StatusBlocked, []string{model.MethodHTTPRedirect, model.MethodHTTPBlockpage}
		m.Verdict = verdict(model.MethodHTTPRedirect, "inside: 302 to http://blockpage.invalid/denied; outside: 200")
		m.Control = control(m, httpStep(0, TargetRedirect, m.StartedAt, 200, "", "Redirect Example News", fmt.Sprintf("%064x", 8)))
		out = append(out, m)
	}

	// Open target.
	for i, d := range []int{3, 0} {
		m := base(fmt.Sprintf("m-ok-%d", i), TargetOK, day(d), "CN", 4134)
		m.Steps = []model.Step{dnsStep("open.example", m.StartedAt, answer("open.example", "192.0.2.12")),
			tlsStep("open.example", "192.0.2.12:443", m.StartedAt, true, SampleRootIssuer, nil)}
		m.Control = control(m, m.Steps...)
		out = append(out, m)
	}

	// Tampered download in RU.
	m := base("m-download-0", TargetDownload, day(2), "RU", 12389)
	m.Category = "ANON"
	dl := func(sha string) model.Step {
		return model.Step{Operation: model.OpDownload, Address: "192.0.2.13:443", StartedAt: m.StartedAt, DurationMS: 900,
			Download: &model.DownloadData{URL: TargetDownload, Size: 5 << 20, SHA256: sha, BytesPerSec: 1 << 20}}
	}
	m.Steps = []model.Step{dl(fmt.Sprintf("%064x", 0xbad))}
	m.Status, m.Methods = model.StatusBlocked, []string{model.MethodDownloadTampered}
	m.Verdict = verdict(model.MethodDownloadTampered, "the file's SHA-256 differs from the control's")
	m.Control = control(m, dl(fmt.Sprintf("%064x", 0x900d)))
	out = append(out, m)

	// STARTTLS stripped in RU.
	m = base("m-mail-0", TargetMail, day(1), "RU", 12389)
	m.Category = "COMT"
	greet := func(offered bool) model.Step {
		caps := []string{"PIPELINING", "8BITMIME"}
		if offered {
			caps = append(caps, "STARTTLS")
		}
		return model.Step{Operation: model.OpMailGreeting, Address: "192.0.2.14:25", Hostname: "mail.example", StartedAt: m.StartedAt, DurationMS: 120,
			Mail: &model.MailData{Protocol: "smtp", Banner: "220 mail.example ESMTP", Capabilities: caps, StartTLSOffered: offered}}
	}
	m.Steps = []model.Step{greet(false)}
	m.Status, m.Methods = model.StatusBlocked, []string{model.MethodTLSStripped}
	m.Verdict = verdict(model.MethodTLSStripped, "STARTTLS is offered outside but not inside")
	m.Control = control(m, greet(true))
	out = append(out, m)
	return out
}

// Generate returns n measurements of the given number of targets, spread
// over the 30 days before now and over three networks, cycling through
// Sample's kinds of evidence. It feeds benchmarks.
func Generate(n, targets int, now time.Time) []*model.Measurement {
	tmpl := Sample(now)
	nets := []struct {
		country string
		asn     int
	}{{"CN", 4134}, {"IR", 12880}, {"RU", 12389}}
	out := make([]*model.Measurement, n)
	for i := range out {
		m := *tmpl[i%len(tmpl)]
		t := i % targets
		nw := nets[(i/targets)%len(nets)]
		m.ID = fmt.Sprintf("gen-%d", i)
		m.Target = fmt.Sprintf("https://site%d.example/", t)
		m.Input = m.Target
		m.Probe.Country, m.Probe.ASN = nw.country, nw.asn
		m.StartedAt = now.Add(-time.Duration(n-i) * 30 * 24 * time.Hour / time.Duration(n+1)).UTC().Truncate(time.Millisecond)
		if m.Control != nil {
			c := *m.Control
			c.ID, c.Target = m.ID+"-control", m.Target
			m.Control = &c
		}
		out[i] = &m
	}
	return out
}

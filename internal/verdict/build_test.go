package verdict

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/probe"
)

// This file builds the hand-made records of testdata/ (go test -gen).

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type rec struct{ m *model.Measurement }

func newRec(target, vantage string) *rec {
	return &rec{m: &model.Measurement{
		Schema: model.SchemaVersion, ID: vantage + "-" + target, Target: target, StartedAt: t0,
		Vantage: vantage, Probe: model.ProbeInfo{Software: "firewatch/test"}, Resolvers: []string{},
		Status: model.StatusMeasured, Methods: []string{}, Steps: []model.Step{},
	}}
}

func fail(f string) *string {
	if f == "" {
		return nil
	}
	return &f
}

func hexOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func (r *rec) step(s model.Step) *rec {
	s.StartedAt = t0
	s.DurationMS = 10
	r.m.Steps = append(r.m.Steps, s)
	return r
}

// resp is a NOERROR response with A answers.
func resp(ms float64, addrs ...string) model.DNSResponse {
	out := model.DNSResponse{ArrivalMS: ms, From: "198.51.100.53:53", Rcode: "NOERROR", Answers: []model.DNSAnswer{}}
	for _, a := range addrs {
		out.Answers = append(out.Answers, model.DNSAnswer{Name: "x", Type: "A", Value: a, TTL: 60})
	}
	if len(addrs) == 0 {
		out.Failure = fail(failure.DNSNoAnswer)
	}
	return out
}

func nxResp() model.DNSResponse {
	return model.DNSResponse{ArrivalMS: 5, From: "198.51.100.53:53", Rcode: "NXDOMAIN", Answers: []model.DNSAnswer{}, Failure: fail(failure.DNSNXDomain)}
}

// dns records an A query for host to resolver with the given responses, and
// an AAAA query with no answer.
func (r *rec) dns(host, resolver string, resps ...model.DNSResponse) *rec {
	return r.dnsBogons(host, resolver, nil, resps...)
}

func (r *rec) dnsBogons(host, resolver string, bogons []string, resps ...model.DNSResponse) *rec {
	var f *string
	if len(resps) == 0 {
		f = fail(failure.GenericTimeout)
	} else {
		f = resps[0].Failure
	}
	for i := range resps {
		resps[i].Answers = fixNames(resps[i].Answers, host)
	}
	if resps == nil {
		resps = []model.DNSResponse{}
	}
	if !containsStr(r.m.Resolvers, resolver) {
		r.m.Resolvers = append(r.m.Resolvers, resolver)
	}
	r.step(model.Step{Operation: model.OpDNSRoundTrip, Address: "198.51.100.53:53", Hostname: host, Failure: f,
		DNS: &model.DNSData{Resolver: resolver, QueryType: "A", Responses: resps, Bogons: bogons}})
	noAAAA := resp(4)
	return r.step(model.Step{Operation: model.OpDNSRoundTrip, Address: "198.51.100.53:53", Hostname: host, Failure: fail(failure.DNSNoAnswer),
		DNS: &model.DNSData{Resolver: resolver, QueryType: "AAAA", Responses: []model.DNSResponse{noAAAA}}})
}

func fixNames(as []model.DNSAnswer, host string) []model.DNSAnswer {
	for i := range as {
		as[i].Name = host
	}
	return as
}

func (r *rec) connect(addr, f string) *rec {
	return r.step(model.Step{Operation: model.OpConnect, Address: addr, Failure: fail(f)})
}

// cert describes a leaf: its names, its issuer and (via the issuer) its root.
type cert struct {
	names  []string
	issuer string
	serial string // varies the fingerprint
}

func (c cert) record() []model.Certificate {
	return []model.Certificate{
		{Subject: "CN=" + c.names[0], Issuer: "CN=" + c.issuer, SANs: c.names, NotBefore: t0.AddDate(0, -1, 0), NotAfter: t0.AddDate(0, 2, 0),
			SHA256: hexOf("leaf" + fmt.Sprint(c.names) + c.issuer + c.serial), PublicKeySHA256: hexOf("key" + c.serial)},
		{Subject: "CN=" + c.issuer, Issuer: "CN=" + c.issuer, NotBefore: t0.AddDate(-1, 0, 0), NotAfter: t0.AddDate(5, 0, 0),
			SHA256: hexOf("root" + c.issuer), PublicKeySHA256: hexOf("rootkey" + c.issuer), IsCA: true},
	}
}

// tls records a completed handshake; verifyErr "" means it verified.
func (r *rec) tls(addr, sni string, c cert, verifyErr string) *rec {
	d := &model.TLSData{ServerName: sni, Version: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", Chain: c.record()}
	if verifyErr == "" {
		d.Verified = true
		d.RootSubject = "CN=" + c.issuer
		d.RootSHA256 = hexOf("root" + c.issuer)
	} else {
		d.VerifyError = fail(verifyErr)
	}
	return r.step(model.Step{Operation: model.OpTLSHandshake, Address: addr, Hostname: sni, TLS: d})
}

// tlsFail records a handshake that failed before any certificate.
func (r *rec) tlsFail(addr, sni, f string) *rec {
	return r.step(model.Step{Operation: model.OpTLSHandshake, Address: addr, Hostname: sni, Failure: fail(f),
		TLS: &model.TLSData{ServerName: sni, Chain: []model.Certificate{}}})
}

// page is one HTTP hop's answer.
type page struct {
	status   int
	location string
	title    string
	body     string
	length   int64   // overrides len(body)
	rate     float64 // bytes per second
	scan     bool    // record the body's element digests, as the probe does
}

func (r *rec) http(hop int, addr, u string, p page, f string) *rec {
	h := &model.HTTPData{Hop: hop, URL: u, Method: "GET"}
	if f == "" {
		h.Status, h.Location, h.Title = p.status, p.location, p.title
		h.BodyLength = int64(len(p.body))
		if p.length > 0 {
			h.BodyLength = p.length
		}
		h.BodySHA256 = hexOf(p.body + fmt.Sprint(h.BodyLength))
		h.BodyHead = p.body
		h.BytesPerSec = p.rate
		if p.scan {
			sc := probe.NewElementScanner()
			sc.Write([]byte(p.body))
			el := sc.Digests()
			h.Elements = &el
		}
	}
	return r.step(model.Step{Operation: model.OpHTTPRoundTrip, Address: addr, Hostname: hostOf(u), Failure: fail(f), HTTP: h})
}

func (r *rec) download(u string, content string, size int64, rate float64, f string) *rec {
	return r.step(model.Step{Operation: model.OpDownload, Address: "", Failure: fail(f),
		Download: &model.DownloadData{URL: u, Size: size, SHA256: hexOf(content), BytesPerSec: rate}})
}

// quic records a QUIC handshake to addr (completed with the genuine chain
// when f is "") and, when it completed, an HTTP/3 request answering p.
func (r *rec) quic(addr, sni, f string, p page) *rec {
	d := &model.TLSData{ServerName: sni, Chain: []model.Certificate{}}
	if f == "" {
		d = &model.TLSData{ServerName: sni, Version: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", ALPN: "h3", Chain: genuine.record(),
			Verified: true, RootSubject: "CN=" + genuine.issuer, RootSHA256: hexOf("root" + genuine.issuer)}
	}
	r.step(model.Step{Operation: model.OpQUICHandshake, Address: addr, Hostname: sni, Failure: fail(f), TLS: d})
	if f != "" {
		return r
	}
	h := &model.HTTPData{Hop: 0, URL: "https://" + sni + "/", Method: "GET", Status: p.status, Title: p.title,
		BodyLength: int64(len(p.body)), BodySHA256: hexOf(p.body + fmt.Sprint(len(p.body))), BodyHead: p.body}
	return r.step(model.Step{Operation: model.OpHTTP3, Address: addr, Hostname: sni, HTTP: h})
}

// failVerify marks every completed handshake of the record as not verified
// with verifyErr: the site's own certificate fault.
func (r *rec) failVerify(verifyErr string) *rec {
	for i := range r.m.Steps {
		if d := r.m.Steps[i].TLS; d != nil && len(d.Chain) > 0 {
			d.Verified, d.RootSubject, d.RootSHA256, d.VerifyError = false, "", "", fail(verifyErr)
		}
	}
	return r
}

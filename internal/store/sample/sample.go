// Package sample builds realistic measurement records for the tests and
// benchmarks of the collector's packages.
package sample

import (
	"fmt"
	"time"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

// Measurement returns a probe record of realistic size (about 3 KB of JSON:
// DNS, connect, TLS with a two-certificate chain and an HTTP hop) for target
// measured from country/asn at t with the given status and methods.
func Measurement(id, target, country string, asn int, t time.Time, status string, methods ...string) *model.Measurement {
	fail := func(s string) *string { return &s }
	var dnsFail, httpFail *string
	if status == model.StatusBlocked {
		httpFail = fail(failure.ConnectionReset)
	}
	if methods == nil {
		methods = []string{}
	}
	host := "www.example.org"
	cert := func(sub, iss string, ca bool) model.Certificate {
		return model.Certificate{Subject: "CN=" + sub, Issuer: "CN=" + iss, SANs: []string{sub}, NotBefore: t.Add(-24 * time.Hour),
			NotAfter: t.Add(90 * 24 * time.Hour), SHA256: "3f2a9c0d4b5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8",
			PublicKeySHA256: "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90", IsCA: ca}
	}
	return &model.Measurement{
		Schema: model.SchemaVersion, ID: id, Target: target, Input: target, Category: "NEWS",
		StartedAt: t.UTC(), RuntimeMS: 812.5, Vantage: model.VantageProbe,
		Probe:     model.ProbeInfo{Country: country, ASN: asn, Network: fmt.Sprintf("AS%d Example Net", asn), Software: "firewatch/0.1.0", Platform: "linux"},
		Resolvers: []string{"system", "udp://198.51.100.53:53"},
		Status:    status, Methods: methods,
		Steps: []model.Step{
			{Operation: model.OpResolve, Hostname: host, StartedAt: t, DurationMS: 12.3, Failure: dnsFail,
				DNS: &model.DNSData{Resolver: "system", QueryType: "A", Responses: []model.DNSResponse{{ArrivalMS: 12.1, Rcode: "NOERROR",
					Answers: []model.DNSAnswer{{Name: host, Type: "A", Value: "203.0.113.10", TTL: 300}}}}}},
			{Operation: model.OpDNSRoundTrip, Hostname: host, StartedAt: t, DurationMS: 30.2,
				DNS: &model.DNSData{Resolver: "udp://198.51.100.53:53", QueryType: "A", Responses: []model.DNSResponse{{ArrivalMS: 30.1, From: "198.51.100.53:53", Rcode: "NOERROR",
					Answers: []model.DNSAnswer{{Name: host, Type: "A", Value: "203.0.113.10", TTL: 300}}, Raw: "q80BAAABAAAAAAAAA3d3dwdleGFtcGxlA29yZwAAAQAB"}}}},
			{Operation: model.OpConnect, Address: "203.0.113.10:443", StartedAt: t, DurationMS: 41.7},
			{Operation: model.OpTLSHandshake, Address: "203.0.113.10:443", Hostname: host, StartedAt: t, DurationMS: 88.1,
				TLS: &model.TLSData{ServerName: host, Version: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", ALPN: "h2",
					Chain: []model.Certificate{cert(host, "Example CA", false), cert("Example CA", "Example Root", true)}, Verified: true,
					RootSubject: "CN=Example Root", RootSHA256: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}},
			{Operation: model.OpHTTPRoundTrip, Address: "203.0.113.10:443", Hostname: host, StartedAt: t, DurationMS: 120.4, Failure: httpFail,
				HTTP: &model.HTTPData{URL: target, Method: "GET", Status: 200, Headers: map[string]string{"Server": "nginx", "Content-Type": "text/html; charset=utf-8"},
					BodyLength: 48213, BodySHA256: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
					BodyHead: "<!doctype html><html><head><title>Example News</title></head><body><h1>Example News</h1><p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.</p>",
					Title:    "Example News", BytesPerSec: 1.2e6}},
		},
		Verdict: &model.Verdict{Evidence: evidence(methods)},
	}
}

func evidence(methods []string) []model.Evidence {
	var ev []model.Evidence
	for _, m := range methods {
		ev = append(ev, model.Evidence{Method: m, Lines: []string{"inside: connection reset after the ClientHello", "outside: handshake completed"}})
	}
	return ev
}

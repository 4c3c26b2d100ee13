package verdict

import (
	"strings"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

const (
	host   = "www.example.com"
	good   = "203.0.113.40" // the site's genuine address
	inRes  = "udp://198.51.100.53:53"
	ctlRes = "udp://192.0.2.53:53"
	rootCA = "Genuine Root CA"
	home   = "<html><title>Example</title>Welcome to the example site, with a long enough body to compare lengths.</html>"
)

var genuine = cert{names: []string{host, "example.com"}, issuer: rootCA, serial: "1"}

func res(v string) string {
	if v == "probe" {
		return inRes
	}
	return ctlRes
}

// web is a healthy measurement of https://www.example.com/ at addr.
func web(v, addr string, c cert) *rec {
	return newRec("https://"+host+"/", v).dns(host, res(v), resp(5, addr)).connect(addr+":443", "").
		tls(addr+":443", host, c, "").
		http(0, addr+":443", "https://"+host+"/", page{status: 200, title: "Example", body: home}, "")
}

// plain is a healthy measurement of http://www.example.com/ at addr (the
// control also handshakes on 443, as probe.Extra asks).
func plain(v, addr string) *rec {
	r := newRec("http://"+host+"/", v).dns(host, res(v), resp(5, addr)).connect(addr+":80", "")
	if v == "control" {
		r.connect(addr+":443", "").tls(addr+":443", host, genuine, "")
	}
	return r
}

type testCase struct {
	in, ctl *model.Measurement
	asn     string // an ASN table for the case, if any
}

// cases are the hand-made observations of testdata/: what no shipped
// scenario expresses (no control, an ASN table, IPv6 noise, a CAPTCHA page,
// a timeout in the middle of a TLS handshake ...). The other cases' inputs
// are records of the scenarios on the emulated lab, written by
// go test ./internal/lab/emunet -run TestGenVerdictCases -gen-verdict.
var cases = map[string]func() testCase{
	// --- healthy ---
	"ok_captcha": func() testCase {
		in := plain("probe", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: "<title>Example</title>Please solve this CAPTCHA to continue"}, "")
		ctl := plain("control", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: home + home}, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	"ok_dynamic_page": func() testCase {
		// A page whose text changes at every fetch (a clock, a token, a
		// rotating headline) while its scripts and frames stay the same.
		in := plain("probe", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: dynamicPage("12:03:44", "9f2a71", "Markets rally"), scan: true}, "")
		ctl := plain("control", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: dynamicPage("12:03:47", "c01d5e", "Storm warning"), scan: true}, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	"ok_tampered_unrecorded": func() testCase {
		// An injected script, but the control's record predates
		// http.elements: nothing to compare it with, so no http.tampered.
		in := plain("probe", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: injected(home), scan: true}, "")
		ctl := plain("control", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: home}, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	"ok_nonce_scripts": func() testCase {
		// The site's inline script carries a per-fetch nonce, and the
		// control fetched the page twice with different ones: element sets
		// that differ outside too are noise, not tampering.
		nonce := func(n string) string {
			return strings.Replace(dynamicPage("12:03:44", "9f2a71", "Markets rally"), "init({", "init({nonce: \""+n+"\", ", 1)
		}
		in := plain("probe", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: nonce("a1"), scan: true}, "")
		ctl := plain("control", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: nonce("b2"), scan: true}, "").
			http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: nonce("c3"), scan: true}, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	"ok_ipv6_noise": func() testCase {
		in := web("probe", good, genuine).connect("[2001:db8::40]:443", failure.NetworkUnreachable).
			tlsFail("[2001:db8::40]:443", host, failure.GenericTimeout)
		return testCase{in: in.m, ctl: web("control", good, genuine).m}
	},
	"ok_redirect_same_host": func() testCase {
		in := plain("probe", good).
			http(0, good+":80", "http://"+host+"/", page{status: 302, location: "https://" + host + "/zh/"}, "").
			http(1, good+":443", "https://"+host+"/zh/", page{status: 200, title: "例子", body: home}, "")
		ctl := plain("control", good).
			http(0, good+":80", "http://"+host+"/", page{status: 301, location: "https://example.com/en/"}, "").
			http(1, good+":443", "https://example.com/en/", page{status: 200, title: "Example", body: home}, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	"error_nxdomain_outside_valid_cert": func() testCase {
		// The name does not exist outside, but the inside address proves
		// itself with a verified certificate (split-horizon DNS): not a
		// forged answer for a ghost name, so never blocked; error, because the
		// control could not reach it to compare (issue 11: never ok).
		ctl := newRec("https://"+host+"/", "control").dns(host, ctlRes, nxResp())
		return testCase{in: web("probe", good, genuine).m, ctl: ctl.m}
	},
	"error_unexplained": func() testCase {
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, resp(5, good)).connect(good+":443", failure.HostUnreachable)
		return testCase{in: in.m, ctl: web("control", good, genuine).m}
	},
	"error_empty": func() testCase {
		return testCase{in: newRec("https://"+host+"/", "probe").m, ctl: web("control", good, genuine).m}
	},
	// --- without a control ---
	"weak_ok": func() testCase { return testCase{in: web("probe", good, genuine).m} },
	"weak_nxdomain": func() testCase {
		return testCase{in: newRec("https://"+host+"/", "probe").dns(host, inRes, nxResp()).m}
	},
	"weak_bogon": func() testCase {
		in := newRec("https://"+host+"/", "probe").dnsBogons(host, inRes, []string{"10.10.34.34"}, resp(5, "10.10.34.34"))
		in.m.Steps[0].Failure = fail(failure.DNSBogon)
		return testCase{in: in.m}
	},
	"weak_mitm": func() testCase {
		forged := cert{names: []string{host}, issuer: "Censor CA", serial: "f"}
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, resp(5, good)).connect(good+":443", "").
			tls(good+":443", host, forged, failure.SSLUnknownAuthority)
		return testCase{in: in.m}
	},
	// --- one case per method ---
	"dns_inconsistent_ctl_asked_probe_resolver": func() testCase {
		// The control also asked the probe's resolver (the injection check):
		// that answer is not the control's own and must not vouch for it.
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, resp(5, "203.0.113.50")).connect("203.0.113.50:443", "").
			tlsFail("203.0.113.50:443", host, failure.ConnectionRefused)
		ctl := web("control", good, genuine).step(model.Step{Operation: model.OpDNSRoundTrip, Address: "198.51.100.53:53", Hostname: host,
			DNS: &model.DNSData{Resolver: inRes, QueryType: "A", Responses: []model.DNSResponse{resp(9, "203.0.113.50")}}})
		return testCase{in: in.m, ctl: ctl.m}
	},
	"http_tampered": func() testCase {
		// A transparent proxy inserts a script before </body>; the rest of
		// the page, dynamic text included, is the site's.
		in := plain("probe", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: injected(dynamicPage("12:03:44", "9f2a71", "Markets rally")), scan: true}, "")
		ctl := plain("control", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: dynamicPage("12:03:47", "c01d5e", "Storm warning"), scan: true}, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	"dns_inconsistent_blockpage": func() testCase {
		// Step 3 of the order: the returned address serves a block page.
		in := plain("probe", "203.0.113.66").http(0, "203.0.113.66:80", "http://"+host+"/",
			page{status: 200, title: "Access Restricted", body: "<title>Access Restricted</title>This site has been blocked by order of the authority."}, "")
		ctl := plain("control", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: home}, "").
			connect("203.0.113.66:443", failure.ConnectionRefused).tlsFail("203.0.113.66:443", host, failure.ConnectionRefused)
		return testCase{in: in.m, ctl: ctl.m, asn: asnTable}
	},
	"ok_dns_asn_match": func() testCase {
		// Step 4: no certificate could be checked, but the address is in the
		// control's network.
		in := plain("probe", "203.0.113.41").http(0, "203.0.113.41:80", "http://"+host+"/", page{status: 200, title: "Example", body: home}, "")
		ctl := plain("control", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: home}, "")
		return testCase{in: in.m, ctl: ctl.m, asn: asnTable}
	},
	"ok_dns_same_page": func() testCase {
		// An HTTP-only edge: no certificate, no ASN table, but the very same page.
		in := plain("probe", "198.51.100.81").http(0, "198.51.100.81:80", "http://"+host+"/", page{status: 200, title: "Example", body: home}, "")
		ctl := plain("control", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: home}, "").
			connect("198.51.100.81:443", failure.ConnectionRefused)
		return testCase{in: in.m, ctl: ctl.m}
	},
	"dns_inconsistent_asn": func() testCase {
		in := plain("probe", "198.51.100.80").http(0, "198.51.100.80:80", "http://"+host+"/", page{status: 200, title: "Example", body: home + "<!-- tracker -->"}, "")
		ctl := plain("control", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: home}, "")
		return testCase{in: in.m, ctl: ctl.m, asn: asnTable}
	},
	"dns_reset_other_resolver_times_out": func() testCase {
		// The queries over TCP are reset, those over UDP to another
		// resolver time out: the reset names the method.
		u := "https://" + host + "/"
		in := newRec(u, "probe")
		for _, r := range []struct{ res, addr, f string }{
			{"tcp://192.0.2.53:53", "192.0.2.53:53", failure.ConnectionReset},
			{inRes, "198.51.100.53:53", failure.GenericTimeout},
		} {
			for _, qt := range []string{"A", "AAAA"} {
				in.step(model.Step{Operation: model.OpDNSRoundTrip, Address: r.addr, Hostname: host, Failure: fail(r.f),
					DNS: &model.DNSData{Resolver: r.res, QueryType: qt, Responses: []model.DNSResponse{}}})
			}
		}
		return testCase{in: in.m, ctl: web("control", good, genuine).m}
	},
	"error_dns_reset_and_refused": func() testCase {
		// Reset over TCP while the other resolver refuses the connection:
		// not every query was reset or timed out, no DNS method.
		u := "https://" + host + "/"
		in := newRec(u, "probe")
		for _, r := range []struct{ res, addr, f string }{
			{"tcp://192.0.2.53:53", "192.0.2.53:53", failure.ConnectionReset},
			{inRes, "198.51.100.53:53", failure.ConnectionRefused},
		} {
			in.step(model.Step{Operation: model.OpDNSRoundTrip, Address: r.addr, Hostname: host, Failure: fail(r.f),
				DNS: &model.DNSData{Resolver: r.res, QueryType: "A", Responses: []model.DNSResponse{}}})
		}
		return testCase{in: in.m, ctl: web("control", good, genuine).m}
	},
	"tcp_reset": func() testCase {
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, resp(5, good)).connect(good+":443", failure.ConnectionRefused).
			http(0, "", "https://"+host+"/", page{}, failure.ConnectionRefused)
		return testCase{in: in.m, ctl: web("control", good, genuine).m}
	},
	"tls_timeout": func() testCase {
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, resp(5, good)).connect(good+":443", "").
			tlsFail(good+":443", host, failure.GenericTimeout).http(0, "", "https://"+host+"/", page{}, failure.GenericTimeout)
		return testCase{in: in.m, ctl: web("control", good, genuine).m}
	},
	"http_timeout": func() testCase {
		u := "http://" + host + "/?q=falun"
		in := newRec(u, "probe").dns(host, inRes, resp(5, good)).connect(good+":80", "").http(0, good+":80", u, page{}, failure.GenericTimeout)
		ctl := newRec(u, "control").dns(host, ctlRes, resp(5, good)).connect(good+":80", "").
			http(0, good+":80", u, page{status: 200, title: "Example", body: home}, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	"http_redirect_then_fail": func() testCase {
		// Sent elsewhere, where the chain then fails: the redirect is the finding.
		in := plain("probe", good).
			http(0, good+":80", "http://"+host+"/", page{status: 302, location: "http://lookalike.example.net/"}, "").
			http(1, "198.51.100.90:80", "http://lookalike.example.net/", page{}, failure.GenericTimeout)
		ctl := plain("control", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: home}, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	"ok_small_slow": func() testCase {
		// Too small a transfer to tell a rate from latency.
		const u = "https://" + host + "/small.txt"
		in := newRec(u, "probe").dns(host, inRes, resp(5, good)).connect(good+":443", "").tls(good+":443", host, genuine, "").
			download(u, "same", 2000, 2000, "")
		ctl := newRec(u, "control").dns(host, ctlRes, resp(5, good)).connect(good+":443", "").tls(good+":443", host, genuine, "").
			download(u, "same", 2000, 4<<20, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	// --- HTTP/3 and host conditions that are not censorship ---
	"error_control_cannot_reach": func() testCase {
		// It works inside; the control's own connection times out: nothing to compare.
		ctl := newRec("https://"+host+"/", "control").dns(host, ctlRes, resp(5, good)).connect(good+":443", failure.GenericTimeout)
		return testCase{in: web("probe", good, genuine).m, ctl: ctl.m}
	},
	"ok_quic_down_everywhere": func() testCase {
		// The site advertises HTTP/3 but its QUIC fails outside too: noise.
		in := web("probe", good, genuine).quic(good+":443", host, failure.GenericTimeout, page{})
		ctl := web("control", good, genuine).quic(good+":443", host, failure.GenericTimeout, page{})
		return testCase{in: in.m, ctl: ctl.m}
	},
	"ok_quic_inside_only_error": func() testCase {
		// A QUIC failure that is no blocking (a version mismatch inside).
		in := web("probe", good, genuine).quic(good+":443", host, failure.QUICIncompatibleVersion, page{})
		ctl := web("control", good, genuine).quic(good+":443", host, "", page{status: 200, title: "Example", body: home})
		return testCase{in: in.m, ctl: ctl.m}
	},
	"ok_quic_same": func() testCase {
		in := web("probe", good, genuine).quic(good+":443", host, "", page{status: 200, title: "Example", body: home})
		ctl := web("control", good, genuine).quic(good+":443", host, "", page{status: 200, title: "Example", body: home})
		return testCase{in: in.m, ctl: ctl.m}
	},
	"down_cert_expired": func() testCase {
		// The site's own certificate expired: the same chain fails on both sides.
		return testCase{in: web("probe", good, genuine).failVerify(failure.SSLInvalidCert).m, ctl: web("control", good, genuine).failVerify(failure.SSLInvalidCert).m}
	},
	"down_cert_wrong_name": func() testCase {
		wrong := cert{names: []string{"wrong-name.example"}, issuer: rootCA, serial: "w"}
		return testCase{in: web("probe", good, wrong).failVerify(failure.SSLInvalidHostname).m, ctl: web("control", good, wrong).failVerify(failure.SSLInvalidHostname).m}
	},
	"down_cert_untrusted": func() testCase {
		self := cert{names: []string{host}, issuer: "Self-signed Example CA", serial: "s"}
		return testCase{in: web("probe", good, self).failVerify(failure.SSLUnknownAuthority).m, ctl: web("control", good, self).failVerify(failure.SSLUnknownAuthority).m}
	},
	"down_http_500_everywhere": func() testCase {
		in := plain("probe", good).http(0, good+":80", "http://"+host+"/", page{status: 500, title: "Internal Server Error", body: "<title>Internal Server Error</title>"}, "")
		ctl := plain("control", good).http(0, good+":80", "http://"+host+"/", page{status: 500, title: "Internal Server Error", body: "<title>Internal Server Error</title>"}, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	"ok_http_404_everywhere": func() testCase {
		in := plain("probe", good).http(0, good+":80", "http://"+host+"/", page{status: 404, title: "Not Found", body: "<title>Not Found</title>"}, "")
		ctl := plain("control", good).http(0, good+":80", "http://"+host+"/", page{status: 404, title: "Not Found", body: "<title>Not Found</title>"}, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	"quic_blocked": func() testCase {
		// UDP 443 dropped inside: TCP HTTPS works, QUIC times out.
		in := web("probe", good, genuine).quic(good+":443", host, failure.GenericTimeout, page{})
		ctl := web("control", good, genuine).quic(good+":443", host, "", page{status: 200, title: "Example", body: home})
		return testCase{in: in.m, ctl: ctl.m}
	},
	"tcp_timeout_quic_too": func() testCase {
		// An address blackholed: QUIC failing too is no method of its own.
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, resp(5, good)).connect(good+":443", failure.GenericTimeout).
			quic(good+":443", host, failure.GenericTimeout, page{})
		ctl := web("control", good, genuine).quic(good+":443", host, "", page{status: 200, title: "Example", body: home})
		return testCase{in: in.m, ctl: ctl.m}
	},
}

// The hosts of a redirect chain www.example.com → hop.example.net →
// last.example.org (OONI's webconnectivityqa: only the last is blocked).
const (
	hopHost  = "hop.example.net"
	hopAddr  = "203.0.113.41"
	lastHost = "last.example.org"
	lastAddr = "203.0.113.42"
)

// chain records the first two hops of the redirect chain over scheme, each
// host resolved, connected (and over https handshaken) and answering 302;
// the caller adds the last hop's steps.
func chain(v, scheme string) *rec {
	port := map[string]string{"http": ":80", "https": ":443"}[scheme]
	first, second, last := scheme+"://"+host+"/chain", scheme+"://"+hopHost+"/chain", scheme+"://"+lastHost+"/"
	r := newRec(first, v)
	for _, h := range []struct{ name, addr, url, to string }{{host, good, first, second}, {hopHost, hopAddr, second, last}} {
		r.dns(h.name, res(v), resp(5, h.addr)).connect(h.addr+port, "")
		if scheme == "https" {
			r.tls(h.addr+port, h.name, cert{names: []string{h.name}, issuer: rootCA, serial: h.name}, "")
		}
		hop := 0
		if h.name == hopHost {
			hop = 1
		}
		r.http(hop, h.addr+port, h.url, page{status: 302, location: h.to}, "")
	}
	return r
}

// lastHop adds the healthy last hop of chain.
func (r *rec) lastHop(v, scheme string) *rec {
	port := map[string]string{"http": ":80", "https": ":443"}[scheme]
	r.dns(lastHost, res(v), resp(5, lastAddr)).connect(lastAddr+port, "")
	if scheme == "https" {
		r.tls(lastAddr+port, lastHost, cert{names: []string{lastHost}, issuer: rootCA, serial: lastHost}, "")
	}
	return r.http(2, lastAddr+port, scheme+"://"+lastHost+"/", page{status: 200, title: "Last", body: home}, "")
}

// chainCases are redirect chains across three hosts where only the last
// may be blocked, as redirect-chain.yaml cannot make them (no control,
// a bogon, the last hop down everywhere); that scenario makes the others.
var chainCases = map[string]func() testCase{
	"weak_tls_reset_last_hop": func() testCase {
		in := chain("probe", "https").dns(lastHost, inRes, resp(5, lastAddr)).connect(lastAddr+":443", "").
			tlsFail(lastAddr+":443", lastHost, failure.ConnectionReset).
			http(2, "", "https://"+lastHost+"/", page{}, failure.ConnectionReset)
		return testCase{in: in.m}
	},
	"dns_bogon_last_hop": func() testCase {
		in := chain("probe", "http").dnsBogons(lastHost, inRes, []string{"10.10.34.35"}, resp(5, "10.10.34.35")).
			http(2, "", "http://"+lastHost+"/", page{}, failure.DNSBogon)
		return testCase{in: in.m, ctl: chain("control", "http").lastHop("control", "http").m}
	},
	"down_last_hop_everywhere": func() testCase {
		in := chain("probe", "http").dns(lastHost, inRes, resp(5, lastAddr)).connect(lastAddr+":80", failure.GenericTimeout).
			http(2, "", "http://"+lastHost+"/", page{}, failure.GenericTimeout)
		ctl := chain("control", "http").dns(lastHost, ctlRes, resp(5, lastAddr)).connect(lastAddr+":80", failure.GenericTimeout).
			http(2, "", "http://"+lastHost+"/", page{}, failure.GenericTimeout)
		return testCase{in: in.m, ctl: ctl.m}
	},
}

func init() {
	for name, mk := range chainCases {
		cases[name] = mk
	}
}

// asnTable puts 203.0.113.0/25 in one network and 198.51.100.0/24 in another.
const asnTable = "203.0.113.0\t203.0.113.127\t64500\tUS\tEXAMPLE-HOSTING\n198.51.100.0\t198.51.100.255\t64666\tKR\tUNRELATED-NET\n"

// dynamicPage is a news page with a script, an ad frame and text that
// changes at every fetch.
func dynamicPage(clock, token, headline string) string {
	return "<html><head><title>Example</title><script src=\"/static/app.js\"></script></head><body>" +
		"<p>Updated " + clock + "</p><h1>" + headline + "</h1><form><input type=hidden name=csrf value=" + token + "></form>" +
		"<iframe src=\"/ads/slot1\" width=300 height=250></iframe><script>init({lang: \"en\"})</script></body></html>"
}

// injected is page with a script inserted before </body>, as an injecting
// proxy does.
func injected(page string) string {
	return strings.Replace(page, "</body>", "<script src=\"http://198.51.100.77/inject.js\"></script></body>", 1)
}

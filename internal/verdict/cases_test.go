package verdict

import (
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

// mail is a measurement of imap://mail.example.com/ (STARTTLS).
func mail(v, addr string, offered bool, c cert, verifyErr string) *rec {
	const mh = "mail.example.com"
	r := newRec("imap://"+mh+"/", v).dns(mh, res(v), resp(5, addr)).connect(addr+":143", "")
	caps := []string{"IMAP4rev1", "AUTH=PLAIN"}
	if offered {
		caps = append(caps, "STARTTLS")
	}
	r.greet(addr+":143", "imap", offered, caps...)
	if offered {
		r.starttls(addr+":143", "imap", "").tls(addr+":143", mh, c, verifyErr)
	}
	return r
}

var mailCert = cert{names: []string{"mail.example.com"}, issuer: rootCA, serial: "m"}

type testCase struct {
	in, ctl *model.Measurement
	asn     string // an ASN table for the case, if any
}

// cases are the hand-made observations of testdata/: one per method, plus
// healthy sites that must come out ok and the undecidable ones.
var cases = map[string]func() testCase{
	// --- healthy ---
	"ok_same": func() testCase {
		return testCase{in: web("probe", good, genuine).m, ctl: web("control", good, genuine).m}
	},
	"ok_cdn": func() testCase {
		// Another edge with another leaf from the same CA: genuine.
		edge := cert{names: []string{host}, issuer: rootCA, serial: "edge"}
		ctl := web("control", good, genuine).connect("203.0.113.60:443", "").tls("203.0.113.60:443", host, edge, "")
		return testCase{in: web("probe", "203.0.113.60", edge).m, ctl: ctl.m}
	},
	"ok_captcha": func() testCase {
		in := plain("probe", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: "<title>Example</title>Please solve this CAPTCHA to continue"}, "")
		ctl := plain("control", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: home + home}, "")
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
	"ok_mail": func() testCase {
		return testCase{in: mail("probe", good, true, mailCert, "").m, ctl: mail("control", good, true, mailCert, "").m}
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
	"down_everywhere": func() testCase {
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, resp(5, good)).connect(good+":443", failure.GenericTimeout)
		ctl := newRec("https://"+host+"/", "control").dns(host, ctlRes, resp(5, good)).connect(good+":443", failure.GenericTimeout)
		return testCase{in: in.m, ctl: ctl.m}
	},
	"down_nxdomain_everywhere": func() testCase {
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, nxResp())
		ctl := newRec("https://"+host+"/", "control").dns(host, ctlRes, nxResp())
		return testCase{in: in.m, ctl: ctl.m}
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
	"dns_nxdomain": func() testCase {
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, nxResp())
		return testCase{in: in.m, ctl: web("control", good, genuine).m}
	},
	"dns_bogon": func() testCase {
		in := newRec("https://"+host+"/", "probe").dnsBogons(host, inRes, []string{"127.0.0.2"}, resp(5, "127.0.0.2"))
		in.m.Steps[0].Failure = fail(failure.DNSBogon)
		return testCase{in: in.m, ctl: web("control", good, genuine).m}
	},
	"dns_injected": func() testCase {
		// The injector answers first with an unrelated address, the resolver later.
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, resp(2, "203.0.113.66"), resp(41, good)).
			connect("203.0.113.66:443", failure.GenericTimeout).connect(good+":443", "").
			tls(good+":443", host, genuine, "").
			http(0, good+":443", "https://"+host+"/", page{status: 200, title: "Example", body: home}, "")
		return testCase{in: in.m, ctl: web("control", good, genuine).m}
	},
	"dns_injected_nondns": func() testCase {
		// A query to an address that runs no DNS server got an answer inside.
		const noDNS = "udp://203.0.113.99:53"
		in := newRec("https://"+host+"/", "probe").dns(host, noDNS, resp(3, good)).connect(good+":443", "").
			tls(good+":443", host, genuine, "").
			http(0, good+":443", "https://"+host+"/", page{status: 200, title: "Example", body: home}, "")
		ctl := web("control", good, genuine).step(model.Step{Operation: model.OpDNSRoundTrip, Address: "203.0.113.99:53", Hostname: host,
			Failure: fail(failure.ConnectionRefused), DNS: &model.DNSData{Resolver: noDNS, QueryType: "A", Responses: []model.DNSResponse{}}})
		return testCase{in: in.m, ctl: ctl.m}
	},
	"dns_inconsistent": func() testCase {
		// A real but unrelated address, presenting another site's certificate.
		other := cert{names: []string{"korea-gov.example"}, issuer: rootCA, serial: "kr"}
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, resp(5, "203.0.113.50")).connect("203.0.113.50:443", "").
			tls("203.0.113.50:443", host, other, failure.SSLInvalidHostname).
			http(0, "203.0.113.50:443", "https://"+host+"/", page{status: 200, title: "Korea Government", body: "<title>Korea Government</title>"}, "")
		ctl := web("control", good, genuine).connect("203.0.113.50:443", "").tls("203.0.113.50:443", host, other, failure.SSLInvalidHostname)
		return testCase{in: in.m, ctl: ctl.m}
	},
	"dns_inconsistent_ctl_asked_probe_resolver": func() testCase {
		// The control also asked the probe's resolver (the injection check):
		// that answer is not the control's own and must not vouch for it.
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, resp(5, "203.0.113.50")).connect("203.0.113.50:443", "").
			tlsFail("203.0.113.50:443", host, failure.ConnectionRefused)
		ctl := web("control", good, genuine).step(model.Step{Operation: model.OpDNSRoundTrip, Address: "198.51.100.53:53", Hostname: host,
			DNS: &model.DNSData{Resolver: inRes, QueryType: "A", Responses: []model.DNSResponse{resp(9, "203.0.113.50")}}})
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
	"dns_timeout": func() testCase {
		in := newRec("https://"+host+"/", "probe").dns(host, inRes)
		return testCase{in: in.m, ctl: web("control", good, genuine).m}
	},
	"tcp_timeout": func() testCase {
		// A mail provider blackholed on its mail ports.
		in := newRec("imap://mail.example.com/", "probe").dns("mail.example.com", inRes, resp(5, good)).connect(good+":143", failure.GenericTimeout)
		return testCase{in: in.m, ctl: mail("control", good, true, mailCert, "").m}
	},
	"tcp_reset": func() testCase {
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, resp(5, good)).connect(good+":443", failure.ConnectionRefused).
			http(0, "", "https://"+host+"/", page{}, failure.ConnectionRefused)
		return testCase{in: in.m, ctl: web("control", good, genuine).m}
	},
	"tls_reset": func() testCase {
		// SNI filtering: the handshake is reset after the ClientHello.
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, resp(5, good)).connect(good+":443", "").
			tlsFail(good+":443", host, failure.ConnectionReset).http(0, "", "https://"+host+"/", page{}, failure.ConnectionReset)
		return testCase{in: in.m, ctl: web("control", good, genuine).m}
	},
	"tls_timeout": func() testCase {
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, resp(5, good)).connect(good+":443", "").
			tlsFail(good+":443", host, failure.GenericTimeout).http(0, "", "https://"+host+"/", page{}, failure.GenericTimeout)
		return testCase{in: in.m, ctl: web("control", good, genuine).m}
	},
	"tls_mitm_mail": func() testCase {
		// MITM of IMAP STARTTLS with a self-made certificate.
		forged := cert{names: []string{"mail.example.com"}, issuer: "Censor CA", serial: "f"}
		return testCase{in: mail("probe", good, true, forged, failure.SSLUnknownAuthority).m, ctl: mail("control", good, true, mailCert, "").m}
	},
	"tls_mitm_rogue_ca": func() testCase {
		// A trusted rogue CA impersonates the site: the chain verifies, to
		// another root than the control's.
		rogue := cert{names: []string{host}, issuer: "Rogue Trusted CA", serial: "r"}
		return testCase{in: web("probe", good, rogue).m, ctl: web("control", good, genuine).m}
	},
	"tls_stripped": func() testCase {
		return testCase{in: mail("probe", good, false, mailCert, "").m, ctl: mail("control", good, true, mailCert, "").m}
	},
	"http_reset": func() testCase {
		u := "http://" + host + "/?q=falun"
		in := newRec(u, "probe").dns(host, inRes, resp(5, good)).connect(good+":80", "").http(0, good+":80", u, page{}, failure.ConnectionReset)
		ctl := newRec(u, "control").dns(host, ctlRes, resp(5, good)).connect(good+":80", "").
			http(0, good+":80", u, page{status: 200, title: "Example", body: home}, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	"http_timeout": func() testCase {
		u := "http://" + host + "/?q=falun"
		in := newRec(u, "probe").dns(host, inRes, resp(5, good)).connect(good+":80", "").http(0, good+":80", u, page{}, failure.GenericTimeout)
		ctl := newRec(u, "control").dns(host, ctlRes, resp(5, good)).connect(good+":80", "").
			http(0, good+":80", u, page{status: 200, title: "Example", body: home}, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	"http_redirect": func() testCase {
		// Plain HTTP: skype.com sends inside users to a look-alike.
		in := plain("probe", good).
			http(0, good+":80", "http://"+host+"/", page{status: 302, location: "http://lookalike.example.net/"}, "").
			http(1, "198.51.100.90:80", "http://lookalike.example.net/", page{status: 200, title: "Example", body: home}, "")
		ctl := plain("control", good).
			http(0, good+":80", "http://"+host+"/", page{status: 301, location: "https://" + host + "/"}, "").
			http(1, good+":443", "https://"+host+"/", page{status: 200, title: "Example", body: home}, "")
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
	"http_blockpage": func() testCase {
		in := plain("probe", good).http(0, good+":80", "http://"+host+"/", page{status: 403, title: "Forbidden", body: "<title>Forbidden</title>"}, "")
		ctl := plain("control", good).http(0, good+":80", "http://"+host+"/", page{status: 200, title: "Example", body: home}, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	"site_redirect": func() testCase {
		// A genuine TLS session (same certificate) that redirects elsewhere.
		in := newRec("https://"+host+"/", "probe").dns(host, inRes, resp(5, good)).connect(good+":443", "").
			tls(good+":443", host, genuine, "").
			http(0, good+":443", "https://"+host+"/", page{status: 302, location: "https://lookalike.example.net/"}, "").
			http(1, "198.51.100.90:443", "https://lookalike.example.net/", page{status: 200, title: "Example", body: home}, "")
		ctl := web("control", good, genuine)
		return testCase{in: in.m, ctl: ctl.m}
	},
	"download_tampered": func() testCase {
		const u = "https://" + host + "/setup.exe"
		in := newRec(u, "probe").dns(host, inRes, resp(5, good)).connect(good+":443", "").tls(good+":443", host, genuine, "").
			download(u, "modified installer", 48213, 900000, "")
		ctl := newRec(u, "control").dns(host, ctlRes, resp(5, good)).connect(good+":443", "").tls(good+":443", host, genuine, "").
			download(u, "genuine installer", 51234, 1000000, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
	"throttled": func() testCase {
		const u = "https://" + host + "/big.bin"
		in := newRec(u, "probe").dns(host, inRes, resp(5, good)).connect(good+":443", "").tls(good+":443", host, genuine, "").
			download(u, "same", 1<<20, 10240, "")
		ctl := newRec(u, "control").dns(host, ctlRes, resp(5, good)).connect(good+":443", "").tls(good+":443", host, genuine, "").
			download(u, "same", 1<<20, 4<<20, "")
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
	"ok_small_slow": func() testCase {
		// Too small a transfer to tell a rate from latency.
		const u = "https://" + host + "/small.txt"
		in := newRec(u, "probe").dns(host, inRes, resp(5, good)).connect(good+":443", "").tls(good+":443", host, genuine, "").
			download(u, "same", 2000, 2000, "")
		ctl := newRec(u, "control").dns(host, ctlRes, resp(5, good)).connect(good+":443", "").tls(good+":443", host, genuine, "").
			download(u, "same", 2000, 4<<20, "")
		return testCase{in: in.m, ctl: ctl.m}
	},
}

// asnTable puts 203.0.113.0/25 in one network and 198.51.100.0/24 in another.
const asnTable = "203.0.113.0\t203.0.113.127\t64500\tUS\tEXAMPLE-HOSTING\n198.51.100.0\t198.51.100.255\t64666\tKR\tUNRELATED-NET\n"

package trace

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/miekg/dns"
)

// ErrNothingToLocate is returned for a record whose verdict names no method
// that a packet triggers.
var ErrNothingToLocate = errors.New("nothing to locate")

// Traceable are the methods a trace can locate, in the order they are
// chosen when a verdict names several.
var Traceable = []string{
	model.MethodHTTPReset, model.MethodTLSReset, model.MethodHTTPBlockpage, model.MethodHTTPRedirect,
	model.MethodDNSInjected, model.MethodDNSInconsistent, model.MethodDNSNXDomain, model.MethodDNSBogon, model.MethodTCPTimeout,
}

// Plan is what to replay for a record: the method, the exchange and how
// the interference shows.
type Plan struct {
	Method   string
	Kind     Kind
	Exchange Exchange
	Host     string
}

// PlanFor picks the first traceable method of a blocked record and the
// exchange that triggered it. A record that is not blocked, or blocked by
// no traceable method, gives an error wrapping ErrNothingToLocate.
func PlanFor(m *model.Measurement) (*Plan, error) {
	if m.Status != model.StatusBlocked {
		return nil, fmt.Errorf("%w: %s is %s, not blocked", ErrNothingToLocate, m.Target, m.Status)
	}
	var tried []string
	for _, meth := range Traceable {
		if !slices.Contains(m.Methods, meth) {
			continue
		}
		p, err := planMethod(m, meth)
		if err == nil {
			return p, nil
		}
		tried = append(tried, fmt.Sprintf("%s: %v", meth, err))
	}
	if len(tried) > 0 {
		return nil, fmt.Errorf("%w: %s: %s", ErrNothingToLocate, m.Target, strings.Join(tried, "; "))
	}
	return nil, fmt.Errorf("%w: %s is blocked by %s, which no single packet triggers (traceable: %s)",
		ErrNothingToLocate, m.Target, strings.Join(m.Methods, ", "), strings.Join(Traceable, ", "))
}

func planMethod(m *model.Measurement, meth string) (*Plan, error) {
	switch meth {
	case model.MethodHTTPReset, model.MethodHTTPBlockpage, model.MethodHTTPRedirect:
		isHTTP := func(s model.Step) bool { return s.Operation == model.OpHTTPRoundTrip && s.HTTP != nil }
		st := firstStep(m, func(s model.Step) bool { return isHTTP(s) && s.HTTP.Hop == 0 })
		if meth == model.MethodHTTPReset {
			// The request that was sent and cut: a redirect chain's
			// later hop when the first answered.
			if cut := firstStep(m, func(s model.Step) bool { return isHTTP(s) && s.Failure != nil && s.Address != "" }); cut != nil {
				st = cut
			}
		}
		if st == nil {
			return nil, errors.New("the record has no HTTP request")
		}
		u, err := url.Parse(st.HTTP.URL)
		if err != nil || u.Scheme != "http" {
			return nil, fmt.Errorf("the request %q is not plain HTTP", st.HTTP.URL)
		}
		ap, err := addrPort(st.Address)
		if err != nil {
			return nil, err
		}
		return &Plan{Method: meth, Kind: KindAnswer, Host: u.Hostname(),
			Exchange: Exchange{Kind: ExchangeHTTP, Server: ap, Request: HTTPRequest(u)}}, nil
	case model.MethodTLSReset:
		st := firstStep(m, func(s model.Step) bool { return s.Operation == model.OpTLSHandshake && s.Failure != nil })
		if st == nil {
			return nil, errors.New("the record has no failed TLS handshake")
		}
		ap, err := addrPort(st.Address)
		if err != nil {
			return nil, err
		}
		sni := st.Hostname
		if st.TLS != nil && st.TLS.ServerName != "" {
			sni = st.TLS.ServerName
		}
		return &Plan{Method: meth, Kind: KindAnswer, Host: sni, Exchange: Exchange{Kind: ExchangeTLS, Server: ap, SNI: sni}}, nil
	case model.MethodTCPTimeout:
		st := firstStep(m, func(s model.Step) bool { return s.Operation == model.OpConnect && s.Failure != nil })
		if st == nil {
			return nil, errors.New("the record has no failed connect")
		}
		ap, err := addrPort(st.Address)
		if err != nil {
			return nil, err
		}
		return &Plan{Method: meth, Kind: KindSilence, Host: st.Hostname, Exchange: Exchange{Kind: ExchangeSYN, Server: ap}}, nil
	case model.MethodDNSInjected:
		// The query that drew more than one response.
		st := firstStep(m, func(s model.Step) bool {
			return s.Operation == model.OpDNSRoundTrip && s.DNS != nil && len(s.DNS.Responses) > 1 && strings.HasPrefix(s.DNS.Resolver, "udp://")
		})
		if st == nil {
			return nil, errors.New("the record has no UDP query with several responses")
		}
		ap, err := addrPort(strings.TrimPrefix(st.DNS.Resolver, "udp://"))
		if err != nil {
			return nil, err
		}
		return &Plan{Method: meth, Kind: KindAnswer, Host: st.Hostname,
			Exchange: Exchange{Kind: ExchangeDNS, Server: ap, Name: st.Hostname, QType: qtype(st.DNS.QueryType)}}, nil
	case model.MethodDNSInconsistent, model.MethodDNSNXDomain, model.MethodDNSBogon:
		// The resolver inside may be the liar; an on-path forger also
		// answers a query sent straight to the name's genuine address.
		if m.Control == nil {
			return nil, errors.New("the record has no control measurement")
		}
		host := hostOf(m.Target)
		for _, st := range m.Control.Steps {
			if st.DNS == nil || (st.Operation != model.OpResolve && st.Operation != model.OpDNSRoundTrip) {
				continue
			}
			for _, r := range st.DNS.Responses {
				for _, a := range r.Answers {
					if ip, err := netip.ParseAddr(a.Value); err == nil && a.Type == "A" {
						return &Plan{Method: meth, Kind: KindAnswer, Host: host,
							Exchange: Exchange{Kind: ExchangeDNS, Server: netip.AddrPortFrom(ip, 53), Name: host, QType: dns.TypeA}}, nil
					}
				}
			}
		}
		return nil, errors.New("the control resolved no IPv4 address to send the query to")
	}
	return nil, fmt.Errorf("%s is not traceable", meth)
}

// HTTPRequest is the request a trace (and firewatch keywords) sends for u.
func HTTPRequest(u *url.URL) []byte {
	return fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\nConnection: close\r\n\r\n", u.RequestURI(), u.Host)
}

func firstStep(m *model.Measurement, ok func(model.Step) bool) *model.Step {
	for i := range m.Steps {
		if ok(m.Steps[i]) {
			return &m.Steps[i]
		}
	}
	return nil
}

func addrPort(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", s, err)
	}
	if !ap.Addr().Unmap().Is4() {
		return netip.AddrPort{}, fmt.Errorf("address %s: only IPv4 can be traced", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

func qtype(s string) uint16 {
	if t, ok := dns.StringToType[s]; ok {
		return t
	}
	return dns.TypeA
}

func hostOf(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return target
	}
	return u.Hostname()
}

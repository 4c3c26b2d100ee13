package keywords

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/netx"
	"github.com/firewatch/firewatch/internal/target"
)

// Base is the request variants are made of: one field is replaced per
// variant, the rest stays.
type Base struct {
	Addr     netip.AddrPort // the server (path, host, sni)
	Host     string         // the Host header (path, host)
	Path     string         // the request target, "/..." (path, host)
	SNI      string         // (sni)
	Name     string         // the queried name (dns)
	Resolver netip.AddrPort // the resolver queried (dns)
}

// Controller measures a target from the outside vantage (a
// *control.Client is one).
type Controller interface {
	Measure(ctx context.Context, t target.Target, addrs []string) (*model.Measurement, error)
}

// Tester is the real Checker: it sends each variant inside through Network
// and asks the control to measure the same variant, recording every
// request as a keyword_test step. It is safe for concurrent use.
type Tester struct {
	Base    Base
	Network *netx.Network
	Control Controller
	Timeout time.Duration // per exchange (0: 5s)
	// DNSWait is how long a DNS query listens after the first response,
	// to catch the genuine answer behind an injected one (0: 300ms).
	DNSWait time.Duration

	mu    sync.Mutex
	steps []model.Step
	ctl   map[string]seen
}

// Steps returns the keyword_test steps recorded so far, in order.
func (t *Tester) Steps() []model.Step {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.steps)
}

func (t *Tester) timeout() time.Duration {
	if t.Timeout > 0 {
		return t.Timeout
	}
	return 5 * time.Second
}

// Check sends the variant inside and compares it with the control's
// measurement of the same variant (of the unmutated variant for a
// mutation: the control sends plain requests only).
func (t *Tester) Check(ctx context.Context, field, value, mutation string) Outcome {
	start := time.Now()
	var in, ctl seen
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctl = t.control(ctx, field, value)
	}()
	in = t.inside(ctx, field, value, mutation)
	wg.Wait()
	o := compare(field, in, ctl)
	st := model.Step{Operation: model.OpKeywordTest, StartedAt: start.UTC(),
		DurationMS: float64(time.Since(start).Microseconds()) / 1000,
		Keyword: &model.KeywordData{Field: field, Value: value, Mutation: mutation, Blocked: o.Status == StatusBlocked,
			Status: o.Status, Methods: o.Methods, Outcome: o.Inside, Control: o.Control}}
	switch field {
	case FieldDNS:
		st.Address, st.Hostname = t.Base.Resolver.String(), value
	case FieldSNI:
		st.Address, st.Hostname = t.Base.Addr.String(), value
	case FieldHost:
		st.Address, st.Hostname = t.Base.Addr.String(), value
	default:
		st.Address, st.Hostname = t.Base.Addr.String(), t.Base.Host
	}
	if in.Failure != "" {
		f := in.Failure
		st.Failure = &f
	}
	t.mu.Lock()
	t.steps = append(t.steps, st)
	t.mu.Unlock()
	return o
}

// pathTarget is the request target of a path variant.
func pathTarget(value string) string {
	if strings.HasPrefix(value, "/") {
		return value
	}
	return "/" + value
}

func (t *Tester) inside(ctx context.Context, field, value, mutation string) seen {
	b := t.Base
	switch field {
	case FieldPath:
		return httpExchange(ctx, t.Network, b.Addr, httpRequest(b.Host, pathTarget(value), mutation), t.timeout())
	case FieldHost:
		return httpExchange(ctx, t.Network, b.Addr, httpRequest(value, b.Path, mutation), t.timeout())
	case FieldSNI:
		return tlsExchange(ctx, t.Network, b.Addr, value, mutation, t.timeout())
	case FieldDNS:
		wait := t.DNSWait
		if wait <= 0 {
			wait = 300 * time.Millisecond
		}
		return dnsExchange(ctx, t.Network, b.Resolver, value, mutation, t.timeout(), wait)
	}
	return seen{Failure: failure.Unknown + ": unknown field " + field}
}

// controlURL is the target the control measures for a variant.
func (t *Tester) controlURL(field, value string) string {
	b := t.Base
	switch field {
	case FieldPath:
		return "http://" + b.Host + pathTarget(value)
	case FieldHost:
		return "http://" + value + b.Path
	case FieldSNI:
		return "https://" + value + "/"
	}
	return "http://" + value + "/"
}

// baseValue is the field's value in the base request, whose control stands
// in for a variant the control cannot measure (".minghui" is no host name).
func (t *Tester) baseValue(field string) string {
	switch field {
	case FieldHost:
		return t.Base.Host
	case FieldSNI:
		return t.Base.SNI
	case FieldDNS:
		return t.Base.Name
	}
	return "/"
}

// control asks the control once per variant (cached: a mutation reuses its
// plain variant's answer). A variant that is not a URL the control can
// measure is compared with the base request's control.
func (t *Tester) control(ctx context.Context, field, value string) seen {
	if _, err := t.controlTarget(field, value); err != nil {
		if base := t.baseValue(field); base != value && base != "" {
			if _, err := t.controlTarget(field, base); err == nil {
				value = base
			}
		}
	}
	key := field + "\x00" + value
	t.mu.Lock()
	if s, ok := t.ctl[key]; ok {
		t.mu.Unlock()
		return s
	}
	t.mu.Unlock()
	s := t.askControl(ctx, field, value)
	if ctx.Err() == nil {
		t.mu.Lock()
		if t.ctl == nil {
			t.ctl = map[string]seen{}
		}
		t.ctl[key] = s
		t.mu.Unlock()
	}
	return s
}

func (t *Tester) askControl(ctx context.Context, field, value string) seen {
	if t.Control == nil {
		return seen{Failure: "no control", Unasked: true}
	}
	tg, err := t.controlTarget(field, value)
	if err != nil {
		return seen{Failure: err.Error(), Unasked: true}
	}
	var addrs []string
	if field != FieldDNS {
		addrs = []string{t.Base.Addr.Addr().String()}
	}
	m, err := t.Control.Measure(ctx, tg, addrs)
	if err != nil {
		return seen{Failure: "control: " + errText(err), Unasked: true}
	}
	return fromRecord(m, field, t.Base.Addr.String())
}

// controlTarget is the target the control measures for a variant.
func (t *Tester) controlTarget(field, value string) (target.Target, error) {
	raw := t.controlURL(field, value)
	if _, err := url.Parse(raw); err != nil {
		return target.Target{}, fmt.Errorf("not a target the control can measure: %s", raw)
	}
	ts, err := target.Parse(raw)
	if err != nil || len(ts) != 1 {
		return target.Target{}, fmt.Errorf("not a target the control can measure: %s", raw)
	}
	return ts[0], nil
}

func errText(err error) string {
	var fe *failure.Error
	if errors.As(err, &fe) {
		return fe.Failure
	}
	return err.Error()
}

// fromRecord reads what the control saw for the variant from its record.
func fromRecord(m *model.Measurement, field, addr string) seen {
	switch field {
	case FieldDNS:
		for _, st := range m.Steps {
			if st.Operation != model.OpResolve || st.DNS == nil {
				continue
			}
			if st.Failure != nil && len(st.DNS.Responses) == 0 {
				return seen{Failure: *st.Failure}
			}
			s := seen{Answers: len(st.DNS.Responses)}
			if len(st.DNS.Responses) > 0 {
				r := st.DNS.Responses[0]
				s.Rcode = r.Rcode
				for _, a := range r.Answers {
					if a.Type == "A" {
						s.Addrs = append(s.Addrs, a.Value)
					}
				}
				slices.Sort(s.Addrs)
			}
			if s.Rcode == "" && st.Failure != nil {
				s.Rcode = rcodeOf(*st.Failure)
			}
			return s
		}
		return seen{Failure: "the control did not resolve the name"}
	case FieldSNI:
		for _, st := range m.Steps {
			if st.Operation == model.OpTLSHandshake && st.Address == addr {
				if st.Failure == nil || handshakeDone(*st.Failure) {
					return seen{TLS: "handshake"}
				}
				return seen{Failure: *st.Failure}
			}
		}
		return connectFailure(m, addr, "the control made no TLS handshake with "+addr)
	default:
		for _, st := range m.Steps {
			if st.Operation == model.OpHTTPRoundTrip && st.HTTP != nil && st.HTTP.Hop == 0 && st.Address == addr {
				if st.Failure != nil {
					return seen{Failure: *st.Failure}
				}
				return seen{Status: st.HTTP.Status, Location: st.HTTP.Location, Title: st.HTTP.Title}
			}
		}
		return connectFailure(m, addr, "the control sent no HTTP request to "+addr)
	}
}

func connectFailure(m *model.Measurement, addr, otherwise string) seen {
	for _, st := range m.Steps {
		if st.Operation == model.OpConnect && st.Address == addr && st.Failure != nil {
			return seen{Failure: *st.Failure, Connect: true}
		}
	}
	return seen{Failure: otherwise}
}

// handshakeDone: the handshake completed, only the verification failed.
func handshakeDone(f string) bool {
	return f == failure.SSLInvalidHostname || f == failure.SSLUnknownAuthority || f == failure.SSLInvalidCert
}

func rcodeOf(f string) string {
	switch f {
	case failure.DNSNXDomain:
		return "NXDOMAIN"
	case failure.DNSServfail:
		return "SERVFAIL"
	case failure.DNSRefused:
		return "REFUSED"
	case failure.DNSNoAnswer:
		return "NOERROR"
	}
	return ""
}

// compare decides a variant from what the inside and the control saw.
func compare(field string, in, ctl seen) Outcome {
	o := Outcome{Inside: in.String(), Control: ctl.String()}
	if in.Connect {
		o.Status = StatusError // the server cannot be reached at all: no request was judged
		return o
	}
	if ctl.Failure != "" {
		// Nothing to compare with: the variant fails outside too, or the
		// control could not be asked.
		o.Status = StatusError
		if in.Failure == "" && !ctl.Unasked {
			o.Status = StatusOK // it works inside: nothing blocks it
		}
		return o
	}
	method := ""
	switch field {
	case FieldDNS:
		method = compareDNS(in, ctl)
	case FieldSNI:
		switch {
		case in.Failure == failure.GenericTimeout:
			method = model.MethodTLSTimeout
		case in.Failure != "":
			method = model.MethodTLSReset
		}
	default:
		switch {
		case in.Failure == failure.GenericTimeout:
			method = model.MethodHTTPTimeout
		case in.Failure != "":
			method = model.MethodHTTPReset
		case in.Status != ctl.Status && in.Location != "" && in.Location != ctl.Location:
			method = model.MethodHTTPRedirect
		case in.Status != ctl.Status || in.Title != ctl.Title:
			method = model.MethodHTTPBlockpage
		}
	}
	if method == "" {
		o.Status = StatusOK
		return o
	}
	o.Status, o.Methods = StatusBlocked, []string{method}
	return o
}

func compareDNS(in, ctl seen) string {
	switch {
	case in.Failure == failure.GenericTimeout:
		return model.MethodDNSTimeout
	case in.Failure != "":
		return ""
	case in.Answers > 1 && (in.Rcode != ctl.Rcode || !slices.Equal(in.Addrs, ctl.Addrs)):
		return model.MethodDNSInjected
	case in.Rcode == "NXDOMAIN" && ctl.Rcode != "NXDOMAIN":
		return model.MethodDNSNXDomain
	case in.Rcode != ctl.Rcode:
		return model.MethodDNSInconsistent
	}
	for _, a := range in.Addrs {
		if slices.Contains(ctl.Addrs, a) {
			return ""
		}
	}
	if len(in.Addrs) == 0 && len(ctl.Addrs) == 0 {
		return ""
	}
	return model.MethodDNSInconsistent
}

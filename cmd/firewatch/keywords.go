package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/control"
	"github.com/firewatch/firewatch/internal/keywords"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/netx"
	"github.com/firewatch/firewatch/internal/probe"
	"github.com/firewatch/firewatch/internal/target"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newKeywordsCmd) }

func newKeywordsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keywords",
		Short: "Find the words a censor reacts to: isolate them in a blocked request, or test a list",
	}
	cmd.AddCommand(newKeywordsIsolateCmd(), newKeywordsTestCmd())
	return cmd
}

// controlClient is the control the keywords commands compare with; they
// need one.
func controlClient(f *assessFlags) (*control.Client, error) {
	if f.control == "" {
		return nil, fmt.Errorf("firewatch keywords compares every variant with the control: give --control URL (or $%s)", control.EnvURL)
	}
	tok := f.controlToken
	if tok == "" {
		tok = os.Getenv(control.EnvToken)
	}
	return &control.Client{URL: f.control, Token: tok}, nil
}

// isolateJSON is the output of `firewatch keywords isolate --json`.
type isolateJSON struct {
	Target   string             `json:"target"`
	Keywords []string           `json:"keywords"`
	Evasions []keywords.Evasion `json:"evasions"`
	field    string
}

func newKeywordsIsolateCmd() *cobra.Command {
	var pf probeFlags
	var rf recordFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "isolate TARGET",
		Short: "Find the minimal substrings of a blocked request that trigger the censor, and the mutations that evade it",
		Long: `Measure TARGET (with the control); when it is blocked, take the blocked request
(the URL path and query or the Host header for HTTP methods, the SNI for TLS
ones, the name for DNS ones), find the minimal triggering substring(s) by
bisection, sending each variant inside and asking the control to measure the
same variant, then try a fixed set of mutations (case, padding, Host header
spelled differently, absolute-form URI, trailing dot, SNI split over two TCP
segments, TLS record fragmentation) and report which evade. Every request is
a keyword_test step of the record (--out, --upload).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctl, err := controlClient(&pf.assessFlags)
			if err != nil {
				return err
			}
			cfg, err := pf.probeConfig()
			if err != nil {
				return err
			}
			measure, err := pf.measurer()
			if err != nil {
				return err
			}
			return followUp(cmd, args[0], measure, &rf, keywords.ErrNothingToIsolate, func(m *model.Measurement) (func() error, error) {
				res, steps, err := isolate(cmd.Context(), m, cfg.Network, ctl, pf.timeout)
				if err != nil {
					return nil, err
				}
				m.Steps = append(m.Steps, steps...)
				return func() error { printIsolate(cmd.OutOrStdout(), res, asJSON); return nil }, nil
			})
		},
	}
	pf.register(cmd.Flags())
	rf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"target", "keywords", "evasions": [{"mutation", "evades"}]}`)
	return cmd
}

func printIsolate(w io.Writer, r *isolateJSON, asJSON bool) {
	if asJSON {
		_ = json.NewEncoder(w).Encode(r)
		return
	}
	fmt.Fprintf(w, "%s: keywords in the %s: %s\n", r.Target, r.field, strings.Join(quoteAll(r.Keywords), ", "))
	for _, e := range r.Evasions {
		v := keywords.StatusBlocked
		if e.Evades {
			v = "evades"
		}
		fmt.Fprintf(w, "  %-26s %s\n", e.Mutation, v)
	}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// isolate picks the blocked request's field from the record's methods and
// isolates its keywords.
func isolate(ctx context.Context, m *model.Measurement, n *netx.Network, ctl *control.Client, timeout time.Duration) (*isolateJSON, []model.Step, error) {
	if m.Status != model.StatusBlocked {
		return nil, nil, fmt.Errorf("%w: %s is %s, not blocked", keywords.ErrNothingToIsolate, m.Target, m.Status)
	}
	u, err := url.Parse(m.Target)
	if err != nil {
		return nil, nil, err
	}
	has := func(ms ...string) bool {
		for _, x := range ms {
			if slices.Contains(m.Methods, x) {
				return true
			}
		}
		return false
	}
	tr := &keywords.Tester{Network: n, Control: ctl, Timeout: min(timeout, 5*time.Second)}
	var fields []string // in the order tried
	var values []string
	switch {
	case has(model.MethodDNSInjected, model.MethodDNSInconsistent, model.MethodDNSNXDomain, model.MethodDNSBogon):
		r, err := dnsResolverOf(m, n)
		if err != nil {
			return nil, nil, err
		}
		tr.Base = keywords.Base{Name: u.Hostname(), Resolver: r}
		fields, values = []string{keywords.FieldDNS}, []string{u.Hostname()}
	case has(model.MethodTLSReset, model.MethodTLSTimeout) && u.Scheme == "https":
		a, err := stepAddr(m, model.OpTLSHandshake)
		if err != nil {
			return nil, nil, err
		}
		tr.Base = keywords.Base{Addr: a, SNI: u.Hostname()}
		fields, values = []string{keywords.FieldSNI}, []string{u.Hostname()}
	case has(model.MethodHTTPReset, model.MethodHTTPTimeout, model.MethodHTTPBlockpage, model.MethodHTTPRedirect) && u.Scheme == "http":
		a, err := stepAddr(m, model.OpHTTPRoundTrip)
		if err != nil {
			return nil, nil, err
		}
		tr.Base = keywords.Base{Addr: a, Host: u.Host, Path: "/"}
		fields, values = []string{keywords.FieldHost}, []string{u.Host}
		if uri := u.RequestURI(); uri != "/" {
			fields, values = append(fields, keywords.FieldPath), append(values, uri)
		}
	default:
		return nil, nil, fmt.Errorf("%w: %s is blocked by %s: no request field to isolate (http.*, tls.reset/timeout or dns.* methods have one)",
			keywords.ErrNothingToIsolate, m.Target, strings.Join(m.Methods, ", "))
	}
	res := &isolateJSON{Target: m.Target, Keywords: []string{}, Evasions: []keywords.Evasion{}}
	var tried []string
	for i, f := range fields {
		kws, err := keywords.Isolate(ctx, tr, f, values[i])
		if errors.Is(err, keywords.ErrNothingToIsolate) {
			tried = append(tried, err.Error())
			continue
		}
		if err != nil {
			return nil, tr.Steps(), err
		}
		res.Keywords, res.field = kws, f
		res.Evasions = keywords.Evasions(ctx, tr, f, values[i])
		return res, tr.Steps(), nil
	}
	return nil, tr.Steps(), fmt.Errorf("%w: %s: %s", keywords.ErrNothingToIsolate, m.Target, strings.Join(tried, "; "))
}

func stepAddr(m *model.Measurement, op string) (netip.AddrPort, error) {
	for _, s := range m.Steps {
		if s.Operation == op {
			if ap, err := netip.ParseAddrPort(s.Address); err == nil {
				return ap, nil
			}
		}
	}
	return netip.AddrPort{}, fmt.Errorf("%s: the record has no %s step with an address", m.Target, op)
}

// dnsResolverOf is the resolver that saw the interference: a named UDP
// resolver of the record, else the system's first nameserver.
func dnsResolverOf(m *model.Measurement, n *netx.Network) (netip.AddrPort, error) {
	for _, s := range m.Steps {
		if s.Operation == model.OpDNSRoundTrip && s.DNS != nil && strings.HasPrefix(s.DNS.Resolver, "udp://") {
			if ap, err := netip.ParseAddrPort(strings.TrimPrefix(s.DNS.Resolver, "udp://")); err == nil {
				return ap, nil
			}
		}
	}
	ns, err := probe.SystemNameservers(n)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.ParseAddrPort(ns[0])
}

func newKeywordsTestCmd() *cobra.Command {
	var pf probeFlags
	var rf recordFlags
	var list, tplURL, tplSNI, tplDNS, address, resolver string
	var asJSON bool
	var parallel int
	cmd := &cobra.Command{
		Use:   "test --list FILE (--template URL | --sni-template NAME | --dns-template NAME)",
		Short: "Test each word of a list in a request template and compare with the control",
		Long: `Put each word of --list (one per line; # comments) where the template has {}:
in the path or query of an HTTP request (--template 'http://HOST/search?q={}'),
in the SNI of a TLS ClientHello (--sni-template '{}.example.com', sent to
--address, default the address of the name without '{}.'), or in a DNS query
(--dns-template '{}.example.com', to --resolver or the system's). Each word is
sent inside and measured by the control; a word is blocked when the inside
shows interference the control does not. Lines that are not valid UTF-8 are
reported with their numbers and skipped. The record (--out, --upload) holds a
keyword_test step per word.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var tpl keywords.Template
			var err error
			switch n := btoi(tplURL != "") + btoi(tplSNI != "") + btoi(tplDNS != ""); {
			case n != 1:
				return errors.New("give one of --template, --sni-template and --dns-template")
			case tplURL != "":
				tpl, err = keywords.ParseTemplate(keywords.FieldPath, tplURL)
			case tplSNI != "":
				tpl, err = keywords.ParseTemplate(keywords.FieldSNI, tplSNI)
			default:
				tpl, err = keywords.ParseTemplate(keywords.FieldDNS, tplDNS)
			}
			if err != nil {
				return err
			}
			if list == "" {
				return errors.New("--list FILE is required")
			}
			if parallel < 1 {
				return fmt.Errorf("--parallel %d: must be at least 1", parallel)
			}
			f, err := os.Open(list)
			if err != nil {
				return fmt.Errorf("list: %w", err)
			}
			words, bad, err := keywords.ReadWords(f)
			f.Close()
			if err != nil {
				return err
			}
			for _, b := range bad {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s:%d: skipped: %s\n", list, b.Line, b.Reason)
			}
			if len(words) == 0 {
				return fmt.Errorf("%s: no word to test", list)
			}
			ctl, err := controlClient(&pf.assessFlags)
			if err != nil {
				return err
			}
			cfg, err := pf.probeConfig()
			if err != nil {
				return err
			}
			tr := &keywords.Tester{Network: cfg.Network, Control: ctl, Timeout: min(pf.timeout, 5*time.Second)}
			if tr.Base, err = testBase(cmd.Context(), tpl, cfg.Network, ctl, address, resolver); err != nil {
				return err
			}
			start := time.Now()
			res := keywords.TestWords(cmd.Context(), tr, tpl, words, parallel)
			sink, err := rf.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer sink.Close()
			for _, m := range wordsRecords(tpl, res, tr.Steps(), start, cfg.Info) {
				if err := sink.Write(m); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			enc := json.NewEncoder(out)
			counts := map[string]int{}
			for _, r := range res {
				counts[r.Status]++
				if asJSON {
					if err := enc.Encode(r); err != nil {
						return err
					}
				} else if r.Status != keywords.StatusOK {
					fmt.Fprintf(out, "%-8s %s %s\n", r.Status, r.Word, strings.Join(r.Methods, ","))
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d words in %.1fs: %d blocked, %d ok, %d error\n", len(res), time.Since(start).Seconds(),
				counts[keywords.StatusBlocked], counts[keywords.StatusOK], counts[keywords.StatusError])
			return cmd.Context().Err()
		},
	}
	pf.register(cmd.Flags())
	rf.register(cmd.Flags())
	fs := cmd.Flags()
	fs.StringVar(&list, "list", "", "word list: one word per line")
	fs.StringVar(&tplURL, "template", "", "HTTP URL with {} in the path or query, e.g. 'http://HOST/search?q={}'")
	fs.StringVar(&tplSNI, "sni-template", "", "TLS server name with {}, e.g. '{}.example.com'")
	fs.StringVar(&tplDNS, "dns-template", "", "DNS name with {}, e.g. '{}.example.com'")
	fs.StringVar(&address, "address", "", "--sni-template: the server (IP or IP:PORT) the ClientHellos go to")
	fs.StringVar(&resolver, "dns-resolver", "", "--dns-template: the resolver (udp://IP:PORT) the queries go to (default: the system's)")
	fs.BoolVar(&asJSON, "json", false, `print {"word", "status", "methods"} per word`)
	fs.IntVar(&parallel, "parallel", 64, "words tested at a time (each asks the control: keep it within the control's rate limit)")
	return cmd
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// testBase finds the server (or resolver) the words are sent to.
func testBase(ctx context.Context, tpl keywords.Template, n *netx.Network, ctl *control.Client, address, resolver string) (keywords.Base, error) {
	switch tpl.Field {
	case keywords.FieldDNS:
		if resolver == "" {
			ns, err := probe.SystemNameservers(n)
			if err != nil {
				return keywords.Base{}, err
			}
			resolver = "udp://" + ns[0]
		}
		ap, err := netip.ParseAddrPort(strings.TrimPrefix(resolver, "udp://"))
		if err != nil || !strings.HasPrefix(resolver, "udp://") {
			return keywords.Base{}, fmt.Errorf("--dns-resolver %q: want udp://IP:PORT", resolver)
		}
		return keywords.Base{Resolver: ap, Name: tpl.Fixed()}, nil
	case keywords.FieldSNI:
		if address != "" {
			if ap, err := netip.ParseAddrPort(address); err == nil {
				return keywords.Base{Addr: ap, SNI: tpl.Fixed()}, nil
			}
			a, err := netip.ParseAddr(address)
			if err != nil {
				return keywords.Base{}, fmt.Errorf("--address %q: want IP or IP:PORT", address)
			}
			return keywords.Base{Addr: netip.AddrPortFrom(a, 443), SNI: tpl.Fixed()}, nil
		}
		name := tpl.Fixed()
		if name == "" {
			return keywords.Base{}, errors.New("--sni-template without a fixed part: give --address")
		}
		a, err := controlAddr(ctx, ctl, "https://"+name+"/")
		return keywords.Base{Addr: a, SNI: name}, err
	default:
		u, err := url.Parse(strings.Replace(tpl.Text, "{}", "x", 1))
		if err != nil {
			return keywords.Base{}, err
		}
		port := u.Port()
		a, err := controlAddr(ctx, ctl, "http://"+u.Host+"/")
		if err != nil {
			return keywords.Base{}, err
		}
		if port == "" {
			a = netip.AddrPortFrom(a.Addr(), 80)
		}
		return keywords.Base{Addr: a, Host: u.Host, Path: "/"}, nil
	}
}

// controlAddr is the address the control connected to for raw: the words
// go to the genuine server even when the name is poisoned inside.
func controlAddr(ctx context.Context, ctl *control.Client, raw string) (netip.AddrPort, error) {
	ts, err := target.Parse(raw)
	if err != nil {
		return netip.AddrPort{}, err
	}
	m, err := ctl.Measure(ctx, ts[0], nil)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("asking the control for the address of %s: %w", raw, err)
	}
	for _, s := range m.Steps {
		if s.Operation == model.OpConnect && s.Failure == nil {
			if ap, err := netip.ParseAddrPort(s.Address); err == nil && ap.Addr().Is4() {
				return ap, nil
			}
		}
	}
	return netip.AddrPort{}, fmt.Errorf("the control could not connect to %s; give --address", raw)
}

// wordsRecords are the records of a keywords test run: one record (as
// wordsRecord) per model.MaxSteps variants, so that a long list never makes a
// record the collector refuses.
func wordsRecords(tpl keywords.Template, res []keywords.WordResult, steps []model.Step, start time.Time, info model.ProbeInfo) []*model.Measurement {
	if len(steps) <= model.MaxSteps {
		return []*model.Measurement{wordsRecord(tpl, res, steps, start, info)}
	}
	var out []*model.Measurement
	for i := 0; i < len(steps); i += model.MaxSteps {
		chunk := steps[i:min(i+model.MaxSteps, len(steps))]
		values := map[string]bool{}
		for _, st := range chunk {
			if st.Keyword != nil {
				values[st.Keyword.Value] = true
			}
		}
		var sub []keywords.WordResult
		for _, r := range res {
			if values[tpl.Value(r.Word)] {
				sub = append(sub, r)
			}
		}
		out = append(out, wordsRecord(tpl, sub, chunk, start, info))
	}
	return out
}

// wordsRecord is the record of a keywords test run: one keyword_test step
// per word, blocked when any word is.
func wordsRecord(tpl keywords.Template, res []keywords.WordResult, steps []model.Step, start time.Time, info model.ProbeInfo) *model.Measurement {
	tgt := strings.Replace(tpl.Text, "{}", "", 1)
	switch tpl.Field {
	case keywords.FieldSNI:
		tgt = "https://" + tpl.Fixed() + "/"
	case keywords.FieldDNS:
		tgt = "http://" + tpl.Fixed() + "/"
	}
	m := &model.Measurement{Schema: model.SchemaVersion, ID: uuid.NewString(), Target: tgt, Input: tpl.Text,
		StartedAt: start.UTC(), RuntimeMS: float64(time.Since(start).Milliseconds()), Vantage: model.VantageProbe, Probe: info,
		Resolvers: []string{"system"}, Status: model.StatusOK, Methods: []string{}, Steps: steps}
	for _, r := range res {
		if r.Status == keywords.StatusBlocked {
			m.Status = model.StatusBlocked
			for _, x := range r.Methods {
				if !slices.Contains(m.Methods, x) {
					m.Methods = append(m.Methods, x)
				}
			}
		}
	}
	word := map[string]string{}
	for _, r := range res {
		word[tpl.Value(r.Word)] = r.Word
	}
	for i := range m.Steps {
		if k := m.Steps[i].Keyword; k != nil {
			k.Word = word[k.Value]
		}
	}
	m.Verdict = &model.Verdict{}
	return m
}

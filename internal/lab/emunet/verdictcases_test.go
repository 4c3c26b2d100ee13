package emunet

import (
	"context"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/assess"
	"github.com/firewatch/firewatch/internal/control"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/probe"
	"github.com/firewatch/firewatch/internal/target"
	"github.com/firewatch/firewatch/scenarios"
)

var genVerdict = flag.Bool("gen-verdict", false, "rewrite the scenario-made inputs of internal/verdict/testdata (then run go test ./internal/verdict -update)")

// verdictCases are the golden cases of internal/verdict whose inputs a
// shipped scenario produces: the record of one try inside and the
// control's, measured on the emulated network. The other cases are hand
// made in internal/verdict/cases_test.go (what no scenario expresses: a
// missing control, an ASN table, IPv6 noise, a CAPTCHA page ...).
var verdictCases = []struct {
	name, scenario, target, resolver string
}{
	{"ok_same", "seed-2015.yaml", "https://www.wikipedia.example/", ""},
	{"ok_cdn", "cdn.yaml", "https://www.cdn-news.example/", ""},
	{"ok_mail", "starttls-stripping.yaml", "imap://mail.healthy.example", ""},
	{"down_everywhere", "seed-2015.yaml", "https://down.example/", ""},
	{"down_nxdomain_everywhere", "dns-nxdomain.yaml", "https://nowhere.example/", ""},
	{"dns_nxdomain", "dns-nxdomain.yaml", "https://www.twitter.example/", ""},
	{"dns_bogon", "dns-bogon.yaml", "https://www.greatfire.example/", ""},
	{"dns_injected", "dns-inject.yaml", "https://www.facebook.com/", "udp://192.0.2.53:53"},
	{"dns_injected_nondns", "dns-inject.yaml", "https://www.youtube.example/", "udp://203.0.113.200:53"},
	{"dns_inconsistent", "dns-inject.yaml", "https://www.facebook.com/", ""},
	{"dns_inconsistent_ghost", "dns-inject.yaml", "https://www.ghost.example/", ""},
	{"dns_timeout", "ip-blocking.yaml", "https://www.healthy.example/", "udp://203.0.113.92:53"},
	{"dns_reset", "dns-tcp.yaml", "https://www.voa-news.example/", "tcp://192.0.2.53:53"},
	{"tcp_timeout", "ip-blocking.yaml", "https://www.telegram.example/", ""},
	{"tls_reset", "sni-reset.yaml", "https://www.falundafa.org/", ""},
	{"http_reset", "sni-reset.yaml", "http://news.example/tiananmen-1989", ""},
	{"tls_mitm_rogue_ca", "tls-mitm.yaml", "https://www.github.example/", ""},
	{"tls_mitm_mail", "tls-mitm.yaml", "imap://pop.mail.example", ""},
	{"tls_stripped", "starttls-stripping.yaml", "imap://mx.mailhost.example", ""},
	{"http_blockpage", "http-blockpage.yaml", "http://www.bbc.example/", ""},
	{"http_redirect", "http-blockpage.yaml", "http://www.example.org/", ""},
	{"http_tampered_proxy", "transparent-proxy.yaml", "http://www.shop.example/", ""},
	{"ok_http_proxy", "transparent-proxy.yaml", "http://www.news.example/", ""},
	{"site_redirect", "seed-2015.yaml", "https://www.skype.com/", ""},
	{"download_tampered", "seed-2015.yaml", "https://download.skype.com/SkypeSetup.exe", ""},
	{"throttled", "throttling.yaml", "http://slow.example/video.bin", ""},
	{"ok_redirect_chain", "redirect-chain.yaml", "https://www.start.example/open", ""},
	{"dns_inconsistent_last_hop", "redirect-chain.yaml", "http://www.start.example/dns", ""},
	{"tls_reset_last_hop", "redirect-chain.yaml", "https://www.start.example/tls", ""},
	{"http_reset_last_hop", "redirect-chain.yaml", "http://www.start.example/http", ""},
	{"tcp_timeout_last_hop", "redirect-chain.yaml", "http://www.start.example/tcp", ""},
	{"error_control_cannot_reach_reset", "control-faults.yaml", "https://www.tuidang.example/", ""},
}

// TestGenVerdictCases writes the inputs of verdictCases with -gen-verdict.
func TestGenVerdictCases(t *testing.T) {
	if !*genVerdict {
		t.Skip("run with -gen-verdict to rewrite internal/verdict/testdata inputs from scenarios")
	}
	nets := map[string]*Net{}
	checks := map[string]*control.Client{}
	for _, c := range verdictCases {
		if nets[c.scenario] != nil {
			continue
		}
		b, err := fs.ReadFile(scenarios.FS, c.scenario)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := scenario.Parse(c.scenario, b)
		if err != nil {
			t.Fatal(err)
		}
		n, err := New(sc, Options{ThrottleScale: 4, LinkRate: 10 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		if _, err := n.Checker(CheckOptions{}); err != nil { // starts the control
			t.Fatal(err)
		}
		nets[c.scenario] = n
		checks[c.scenario] = n.controlClient()
	}
	var wg sync.WaitGroup
	for _, c := range verdictCases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := nets[c.scenario]
			ts, err := target.Parse(c.target)
			if err != nil || len(ts) != 1 {
				t.Errorf("%s: target %q: %v", c.name, c.target, err)
				return
			}
			cfg := probe.Config{Network: n.Inside(), Timeout: 3 * time.Second, InjectionWindow: 500 * time.Millisecond,
				Info: model.ProbeInfo{Software: "firewatch/emunet"}}
			if c.resolver != "" {
				cfg.Resolvers = []string{c.resolver}
			}
			p, err := probe.New(cfg)
			if err != nil {
				t.Error(err)
				return
			}
			a := &assess.Assessor{Probe: p, Control: checks[c.scenario], Retests: -1}
			m := a.Assess(context.Background(), ts[0])
			ctl := m.Control
			if ctl == nil {
				t.Errorf("%s: no control record: %s", c.name, m.Verdict.Reason)
				return
			}
			dir := filepath.Join("..", "..", "verdict", "testdata", c.name)
			os.Remove(filepath.Join(dir, "asn.tsv"))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Error(err)
				return
			}
			writeRecord(t, filepath.Join(dir, "inside.json"), raw(m))
			writeRecord(t, filepath.Join(dir, "control.json"), raw(ctl))
			t.Logf("%s: %s %v", c.name, m.Status, m.Methods)
		}()
	}
	wg.Wait()
}

// raw returns the measurement as the probe recorded it, before the
// verdict: what verdict.Decide reads.
func raw(m *model.Measurement) *model.Measurement {
	r := *m
	r.Status, r.Methods, r.Verdict, r.Control = model.StatusMeasured, []string{}, nil, nil
	r.ID = r.Vantage + "-" + r.Target
	r.StartedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &r
}

func writeRecord(t *testing.T, path string, m *model.Measurement) {
	t.Helper()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Error(err)
	}
}

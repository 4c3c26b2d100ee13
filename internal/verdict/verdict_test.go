package verdict

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/geo"
	"github.com/firewatch/firewatch/internal/model"
)

var (
	update = flag.Bool("update", false, "rewrite testdata/*/verdict.json from the current output")
	gen    = flag.Bool("gen", false, "rewrite testdata/*/{inside,control}.json from cases_test.go")
)

// golden is what verdict.json holds.
type golden struct {
	Status   string           `json:"status"`
	Methods  []string         `json:"methods"`
	Weak     bool             `json:"weak,omitempty"`
	Reason   string           `json:"reason,omitempty"`
	Evidence []model.Evidence `json:"evidence,omitempty"`
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readMeasurement(t testing.TB, path string) *model.Measurement {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var m model.Measurement
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &m
}

func TestGenerate(t *testing.T) {
	if !*gen {
		t.Skip("run with -gen to rewrite the inputs")
	}
	for name, mk := range cases {
		c := mk()
		dir := filepath.Join("testdata", name)
		os.Remove(filepath.Join(dir, "control.json"))
		os.Remove(filepath.Join(dir, "asn.tsv"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeJSON(t, filepath.Join(dir, "inside.json"), c.in)
		if c.ctl != nil {
			writeJSON(t, filepath.Join(dir, "control.json"), c.ctl)
		}
		if c.asn != "" {
			if err := os.WriteFile(filepath.Join(dir, "asn.tsv"), []byte(c.asn), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestGolden decides every testdata case and compares with verdict.json.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "inside.json"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases in testdata (%v); run go test -gen -update", err)
	}
	for _, p := range dirs {
		dir := filepath.Dir(p)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in := readMeasurement(t, p)
			ctl := readMeasurement(t, filepath.Join(dir, "control.json"))
			var opts Options
			if _, err := os.Stat(filepath.Join(dir, "asn.tsv")); err == nil {
				db, err := geo.Open(filepath.Join(dir, "asn.tsv"))
				if err != nil {
					t.Fatal(err)
				}
				opts.Geo = db
			}
			r := Decide(in, ctl, opts)
			got := golden{Status: r.Status, Methods: r.Methods, Weak: r.Verdict.Weak, Reason: r.Verdict.Reason, Evidence: r.Verdict.Evidence}
			gp := filepath.Join(dir, "verdict.json")
			if *update {
				writeJSON(t, gp, got)
				return
			}
			b, err := os.ReadFile(gp)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			gotB, _ := json.MarshalIndent(got, "", "  ")
			if !bytes.Equal(bytes.TrimSpace(b), bytes.TrimSpace(gotB)) {
				t.Errorf("verdict differs from %s:\ngot:\n%s\nwant:\n%s", gp, gotB, b)
			}
		})
	}
}

// TestExpectations pins the status and methods of each case independently
// of the golden files, so an -update cannot silently accept a wrong verdict.
func TestExpectations(t *testing.T) {
	want := map[string]string{
		"ok_same": "ok", "ok_cdn": "ok", "ok_captcha": "ok", "ok_ipv6_noise": "ok",
		"ok_redirect_same_host": "ok", "ok_mail": "ok", "ok_dns_asn_match": "ok", "ok_dns_same_page": "ok", "ok_small_slow": "ok",
		"down_everywhere": "down", "down_nxdomain_everywhere": "down",
		"error_unexplained": "error", "error_empty": "error",
		"weak_ok": "ok", "weak_nxdomain": "error", "weak_bogon": "blocked dns.bogon", "weak_mitm": "blocked tls.mitm",
		"dns_nxdomain": "blocked dns.nxdomain", "dns_bogon": "blocked dns.bogon", "dns_injected": "blocked dns.injected",
		"dns_injected_nondns": "blocked dns.injected", "dns_inconsistent": "blocked dns.inconsistent", "dns_inconsistent_ctl_asked_probe_resolver": "blocked dns.inconsistent",
		"dns_inconsistent_blockpage": "blocked dns.inconsistent", "dns_inconsistent_ghost": "blocked dns.inconsistent",
		"error_nxdomain_outside_valid_cert": "error", "dns_inconsistent_asn": "blocked dns.inconsistent",
		"dns_timeout": "blocked dns.timeout", "dns_reset": "blocked dns.reset",
		"dns_reset_other_resolver_times_out": "blocked dns.reset", "error_dns_reset_and_refused": "error", "tcp_timeout": "blocked tcp.timeout", "tcp_reset": "blocked tcp.reset",
		"tls_reset": "blocked tls.reset", "tls_timeout": "blocked tls.timeout", "tls_mitm_mail": "blocked tls.mitm",
		"tls_mitm_rogue_ca": "blocked tls.mitm", "tls_stripped": "blocked tls.stripped",
		"http_reset": "blocked http.reset", "http_timeout": "blocked http.timeout",
		"http_redirect": "blocked http.redirect", "http_redirect_then_fail": "blocked http.redirect", "http_blockpage": "blocked http.blockpage", "http_tampered": "blocked http.tampered", "ok_dynamic_page": "ok", "ok_tampered_unrecorded": "ok", "ok_nonce_scripts": "ok",
		"site_redirect": "blocked site.redirect", "download_tampered": "blocked download.tampered",
		"throttled":    "blocked throttled",
		"quic_blocked": "blocked quic.blocked", "tcp_timeout_quic_too": "blocked tcp.timeout",
		"error_control_cannot_reach": "error", "error_control_cannot_reach_reset": "error", "down_http_500_everywhere": "down", "ok_http_404_everywhere": "ok",
		"down_cert_expired": "down", "down_cert_wrong_name": "down", "down_cert_untrusted": "down",
		"ok_quic_same": "ok", "ok_quic_down_everywhere": "ok", "ok_quic_inside_only_error": "ok",
		"ok_redirect_chain": "ok", "tls_reset_last_hop": "blocked tls.reset", "weak_tls_reset_last_hop": "blocked tls.reset",
		"tcp_timeout_last_hop": "blocked tcp.timeout", "http_reset_last_hop": "blocked http.reset", "dns_bogon_last_hop": "blocked dns.bogon",
		"dns_inconsistent_last_hop": "blocked dns.inconsistent", "down_last_hop_everywhere": "down",
	}
	covered := map[string]bool{}
	for _, name := range caseNames(t) {
		c := caseOf(t, name)
		r := Decide(c.in, c.ctl, optsFor(t, c))
		got := strings.TrimSpace(r.Status + " " + strings.Join(r.Methods, " "))
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: no expectation", name)
			continue
		}
		if got != w {
			t.Errorf("%s: got %q, want %q (evidence %+v, reason %q)", name, got, w, r.Verdict.Evidence, r.Verdict.Reason)
		}
		if (c.ctl == nil) != r.Verdict.Weak {
			t.Errorf("%s: weak = %v, want %v", name, r.Verdict.Weak, c.ctl == nil)
		}
		for _, m := range r.Methods {
			covered[m] = true
		}
	}
	for _, m := range model.Methods {
		if !covered[m] {
			t.Errorf("method %s has no case", m)
		}
	}
}

// caseNames lists every case: the hand-made ones and those testdata holds.
func caseNames(t testing.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "inside.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range cases {
		names = append(names, name)
	}
	for _, d := range dirs {
		if name := filepath.Base(filepath.Dir(d)); cases[name] == nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// caseOf returns a case: built by hand, or the scenario-made records of
// testdata/NAME.
func caseOf(t testing.TB, name string) testCase {
	t.Helper()
	if mk, ok := cases[name]; ok {
		return mk()
	}
	dir := filepath.Join("testdata", name)
	c := testCase{in: readMeasurement(t, filepath.Join(dir, "inside.json")), ctl: readMeasurement(t, filepath.Join(dir, "control.json"))}
	if b, err := os.ReadFile(filepath.Join(dir, "asn.tsv")); err == nil {
		c.asn = string(b)
	}
	if c.in == nil {
		t.Fatalf("no case %s", name)
	}
	return c
}

func optsFor(t testing.TB, c testCase) Options {
	t.Helper()
	if c.asn == "" {
		return Options{}
	}
	db, err := geo.Parse(strings.NewReader(c.asn))
	if err != nil {
		t.Fatal(err)
	}
	return Options{Geo: db}
}

func TestApplyFillsRecord(t *testing.T) {
	c := caseOf(t, "dns_inconsistent")
	Apply(c.in, c.ctl, Options{})
	if c.in.Status != model.StatusBlocked || c.in.Verdict == nil || c.in.Control != c.ctl || len(c.in.Methods) != 1 {
		t.Fatalf("Apply: status %q verdict %v control set %v methods %v", c.in.Status, c.in.Verdict, c.in.Control == c.ctl, c.in.Methods)
	}
	if r := Decide(nil, nil, Options{}); r.Status != model.StatusError || r.Verdict.Reason == "" {
		t.Errorf("Decide(nil) = %+v", r)
	}
}

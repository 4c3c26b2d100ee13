package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/collector"
	"github.com/firewatch/firewatch/internal/dnsscan"
	"github.com/firewatch/firewatch/internal/probe/probetest"
	"github.com/firewatch/firewatch/internal/store"
	"github.com/miekg/dns"
)

// startForger runs a loopback "censor" that forges an answer for the names
// under blocked.example and stays silent for every other name, like an
// address beyond the GFW that runs no DNS server.
func startForger(t *testing.T) string {
	t.Helper()
	return probetest.ServeDNS(t, func(w dns.ResponseWriter, q *dns.Msg) {
		name := strings.ToLower(q.Question[0].Name)
		if name != "blocked.example." && !strings.HasSuffix(name, ".blocked.example.") {
			return
		}
		w.WriteMsg(probetest.Reply(q, "203.0.113.50"))
	})
}

func TestScanDNSVia(t *testing.T) {
	t.Parallel()
	via := startForger(t)
	dir := t.TempDir()
	list := filepath.Join(dir, "list.csv")
	os.WriteFile(list, []byte("rank,domain\n1,clean.example\n2,www.blocked.example\n3,bad..name\n4,blocked.example\n"), 0o644)
	out := filepath.Join(dir, "out.jsonl")
	pool := filepath.Join(dir, "pool.json")
	stderr, err := execute(t, "scan", "dns", "--domains", list, "--via", via, "--rate", "0", "--timeout", "1s", "--out", out, "--pool", pool)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "list.csv:4: ") || !strings.Contains(stderr, "(skipped)") {
		t.Errorf("the bad line is not reported with its number: %s", stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if last := lines[len(lines)-1]; !regexp.MustCompile(`^3 domains, 2 censored, 1 rules, 1 forged addresses, \d+ domains/s$`).MatchString(last) {
		t.Errorf("summary line %q", last)
	}
	f, _ := os.Open(out)
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"domain", "qtype", "method", "server", "injected", "responses", "rule"} {
			if _, ok := r[k]; !ok {
				t.Errorf("record %s lacks %q", sc.Text(), k)
			}
		}
		if r["domain"] == "www.blocked.example" && (r["rule"] != "suffix" || r["rule_base"] != "blocked.example") {
			t.Errorf("rule of %s", sc.Text())
		}
	}
	if n != 3 {
		t.Errorf("%d records, want 3", n)
	}
	p, err := dnsscan.LoadPool(pool)
	if err != nil || p.Len() != 1 {
		t.Errorf("pool %v, %v", p, err)
	}
}

func TestScanDNSBadFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte("example.com\n"), 0o644)
	res := filepath.Join(dir, "res.txt")
	os.WriteFile(res, []byte("192.0.2.1\nnot-an-address\n"), 0o644)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--via", "192.0.2.1", "--json"}, "--domains FILE is required"},
		{[]string{"--domains", list, "--json"}, "exactly one of --via"},
		{[]string{"--domains", list, "--via", "192.0.2.1"}, "--out FILE, --json or --upload"},
		{[]string{"--domains", list, "--via", "192.0.2.1,nonsense", "--json"}, `--via: address "nonsense"`},
		{[]string{"--domains", list, "--via", "224.0.0.1", "--json"}, "not a unicast"},
		{[]string{"--domains", list, "--via", "192.0.2.1", "--qtype", "MX", "--json"}, "--qtype"},
		{[]string{"--domains", list, "--via", "192.0.2.1", "--rate", "-1", "--json"}, "--rate"},
		{[]string{"--domains", list, "--resolvers", res, "--json"}, "res.txt:2"},
		{[]string{"--domains", list, "--resolvers", list, "--json"}, "list.txt:1"},
	} {
		out, err := execute(t, append([]string{"scan", "dns"}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v (%s), want %q", tt.args, err, out, tt.want)
		}
	}
}

// TestScanDNSUpload scans through a loopback forger and uploads to a real
// collector: the DNS history, its CSV export and its events follow.
func TestScanDNSUpload(t *testing.T) {
	t.Parallel()
	via := startForger(t)
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	token, err := st.CreateToken(ctx, "scanner")
	if err != nil {
		t.Fatal(err)
	}
	coll := httptest.NewServer(collector.New(st, collector.Config{}))
	defer coll.Close()
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte("clean.example\nwww.blocked.example\nblocked.example\n"), 0o644)
	out, err := execute(t, "scan", "dns", "--domains", list, "--via", via, "--rate", "0", "--timeout", "1s",
		"--upload", coll.URL, "--token", token, "--network", "CN,AS4134")
	if err != nil || !strings.Contains(out, "3 record(s) uploaded") {
		t.Fatalf("%v\n%s", err, out)
	}
	resp, err := http.Get(coll.URL + "/api/v1/dns?format=csv&censored=true&country=CN")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "blocked.example,CN,4134,true,") || !strings.Contains(lines[1], ",via,suffix,blocked.example") {
		t.Errorf("CSV export:\n%s", body)
	}
	evs, err := st.DNSEvents(ctx, store.DNSFilter{}, store.Page{})
	if err != nil || len(evs) != 2 || evs[0].Kind != store.DNSCensored {
		t.Errorf("events %+v, %v", evs, err)
	}
	pool, _ := st.DNSForged(ctx, store.DNSFilter{}, store.Page{})
	if len(pool) != 1 || pool[0].Address != "203.0.113.50" || pool[0].Count != 2 {
		t.Errorf("forged pool %+v", pool)
	}
	// A bad token is refused, and said so.
	if out, err := execute(t, "scan", "dns", "--domains", list, "--via", via, "--rate", "0", "--timeout", "1s", "--upload", coll.URL, "--token", "wrong"); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("bad token: %v\n%s", err, out)
	}
}

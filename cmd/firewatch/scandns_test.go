package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/dnsscan"
	"github.com/miekg/dns"
)

// startForger runs a loopback "censor" that forges an answer for the names
// under blocked.example and stays silent for every other name, like an
// address beyond the GFW that runs no DNS server.
func startForger(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		name := strings.ToLower(q.Question[0].Name)
		if name != "blocked.example." && !strings.HasSuffix(name, ".blocked.example.") {
			return
		}
		m := new(dns.Msg)
		m.SetReply(q)
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(203, 0, 113, 50)})
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
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
		{[]string{"--domains", list, "--via", "192.0.2.1"}, "--out FILE or --json"},
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

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/probe/probetest"
)

func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(context.Background())
	return out.String() + errOut.String(), err
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// TestCheckJSON runs `firewatch check --json` end to end against local
// servers: a DNS server answering twice, a closed port, a TLS server whose
// CA is not trusted and a redirect chain.
func TestCheckJSON(t *testing.T) {
	t.Setenv("FIREWATCH_ROUTABLE", "127.0.0.0/8")
	dnsSrv := probetest.NewDNSServer(t)
	trusted := probetest.NewCA(t, "trusted root")
	rogue := probetest.NewCA(t, "rogue root")

	mux := http.NewServeMux()
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/b", http.StatusFound) })
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/c", http.StatusMovedPermanently) })
	mux.HandleFunc("/c", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<title>end</title>") })
	web := httptest.NewServer(mux)
	t.Cleanup(web.Close)
	tlsSrv := httptest.NewUnstartedServer(mux)
	cert := rogue.Leaf(t, "secure.site.test")
	tlsSrv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)

	webPort := portOf(web.Listener.Addr().String())
	out, err := execute(t, "check", "--json", "--timeout", "2s",
		"--resolver", "udp://"+dnsSrv.Addr, "--ca-file", trusted.WriteFile(t),
		"http://inject.site.test:"+webPort+"/c",
		"http://closed.site.test:"+portOf(probetest.ClosedPort(t))+"/",
		"https://secure.site.test:"+portOf(tlsSrv.Listener.Addr().String())+"/c",
		"http://www.site.test:"+webPort+"/a",
	)
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	var ms []model.Measurement
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var m model.Measurement
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("output is not JSON lines: %v\n%s", err, out)
		}
		ms = append(ms, m)
	}
	if len(ms) != 4 {
		t.Fatalf("got %d records, want 4:\n%s", len(ms), out)
	}
	find := func(m model.Measurement, op string) []model.Step {
		var s []model.Step
		for _, x := range m.Steps {
			if x.Operation == op {
				s = append(s, x)
			}
		}
		return s
	}

	// DNS answering twice: both answers recorded.
	dns := find(ms[0], model.OpDNSRoundTrip)
	if len(dns) == 0 || len(dns[0].DNS.Responses) != 2 {
		t.Errorf("injection: want 2 responses to A, got %+v", dns)
	}
	// Closed port: connection_refused.
	if c := find(ms[1], model.OpConnect); len(c) != 1 || c[0].Failure == nil || *c[0].Failure != failure.ConnectionRefused {
		t.Errorf("closed port: connect steps %+v, want connection_refused", c)
	}
	// Untrusted CA: the whole chain and ssl_unknown_authority.
	hs := find(ms[2], model.OpTLSHandshake)
	if len(hs) != 1 || len(hs[0].TLS.Chain) != 2 || hs[0].TLS.Verified || hs[0].TLS.VerifyError == nil || *hs[0].TLS.VerifyError != failure.SSLUnknownAuthority {
		t.Errorf("untrusted CA: handshake %+v, want 2 certificates and ssl_unknown_authority", hs)
	} else if hs[0].TLS.Chain[1].Subject != rogue.Cert.Subject.String() {
		t.Errorf("chain[1] %q, want the rogue root", hs[0].TLS.Chain[1].Subject)
	}
	// Redirect chain: every hop.
	hops := find(ms[3], model.OpHTTPRoundTrip)
	if len(hops) != 3 || hops[0].HTTP.Status != 302 || hops[1].HTTP.Status != 301 || hops[2].HTTP.Title != "end" {
		t.Errorf("redirect chain: %d hops %+v, want /a 302, /b 301, /c 200", len(hops), hops)
	}
}

func TestCheckText(t *testing.T) {
	t.Setenv("FIREWATCH_ROUTABLE", "127.0.0.0/8")
	out, err := execute(t, "check", "--timeout", "1s", "http://127.0.0.1:"+portOf(probetest.ClosedPort(t))+"/")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "connect") || !strings.Contains(out, "FAILED connection_refused") {
		t.Errorf("report lacks the failed connect:\n%s", out)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("url,category_code,category_description,date_added,source,notes\nhttps://a.example/,X,Y,Z,W,V\nhttps://b.example/,X\n"), 0o644)
	out := filepath.Join(dir, "out.jsonl")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"check", "ftp://example.com/"}, `unsupported scheme "ftp"`},
		{[]string{"check", "http://exa mple.com/"}, "malformed"},
		{[]string{"check", "--resolver", "dns://1.2.3.4", "example.com"}, "unsupported scheme"},
		{[]string{"check", "--ca-file", filepath.Join(dir, "none.pem"), "example.com"}, "ca file"},
		{[]string{"run", "--list", empty, "--out", out}, "empty.txt: list holds no target"},
		{[]string{"run", "--list", bad, "--out", out}, "bad.csv:3: 2 columns, want 6"},
		{[]string{"run", "--list", filepath.Join(dir, "missing.txt"), "--out", out}, "missing.txt"},
		{[]string{"run", "--out", out}, "--list FILE is required"},
	}
	for _, tc := range tests {
		_, err := execute(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want containing %q", tc.args, err, tc.want)
		}
	}
}

func TestRunCommand(t *testing.T) {
	t.Setenv("FIREWATCH_ROUTABLE", "127.0.0.0/8")
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(web.Close)
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	var b strings.Builder
	for _, p := range []string{"/1", "/2", "/3"} {
		b.WriteString("http://" + web.Listener.Addr().String() + p + "\n")
	}
	os.WriteFile(list, []byte(b.String()), 0o644)
	out := filepath.Join(dir, "out.jsonl")
	msg, err := execute(t, "run", "--list", list, "--out", out, "--concurrency", "2")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, msg)
	}
	data, _ := os.ReadFile(out)
	if n := strings.Count(string(data), "\n"); n != 3 || !strings.Contains(msg, "3 measured") {
		t.Errorf("%d records, summary %q; want 3", n, msg)
	}
}

// TestCheckLiteralRedirect: a target the user gives as an IP literal (here
// loopback, a bogon to the probe) has its same-host redirects followed; a
// redirect from it to another private literal is not, and the hop says why.
func TestCheckLiteralRedirect(t *testing.T) {
	t.Setenv("FIREWATCH_ROUTABLE", "")
	t.Setenv("FIREWATCH_CONTROL", "")
	var reached2 bool
	mux := http.NewServeMux()
	mux.HandleFunc("/r1", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/r2", http.StatusFound) })
	mux.HandleFunc("/r2", func(w http.ResponseWriter, r *http.Request) { reached2 = true; io.WriteString(w, "<title>r2</title>") })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://10.10.34.34/", http.StatusFound)
	})
	web := httptest.NewServer(mux)
	t.Cleanup(web.Close)
	base := "http://" + web.Listener.Addr().String()
	out, err := execute(t, "check", "--json", "--timeout", "2s", base+"/r1", base+"/away")
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	var ms []model.Measurement
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var m model.Measurement
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("output is not JSON lines: %v\n%s", err, out)
		}
		ms = append(ms, m)
	}
	if len(ms) != 2 {
		t.Fatalf("got %d records, want 2:\n%s", len(ms), out)
	}
	hops := func(m model.Measurement) []*model.HTTPData {
		var out []*model.HTTPData
		for _, s := range m.Steps {
			if s.HTTP != nil {
				out = append(out, s.HTTP)
			}
		}
		return out
	}
	h := hops(ms[0])
	if len(h) != 2 || h[1].Status != 200 || h[1].Title != "r2" || !reached2 || ms[0].Status != model.StatusOK || h[0].NotFollowed != "" {
		t.Errorf("same-host redirect of a literal target: status %s, hops %+v (reached /r2: %v); want two hops ending 200 at /r2, ok", ms[0].Status, h, reached2)
	}
	h = hops(ms[1])
	if len(h) != 1 || h[0].Status != 302 || !strings.Contains(h[0].NotFollowed, "10.10.34.34") {
		t.Errorf("redirect to another private literal: hops %+v, want one hop saying why it was not followed", h)
	}
	for _, s := range ms[1].Steps {
		if strings.HasPrefix(s.Address, "10.") {
			t.Errorf("connected to %s", s.Address)
		}
	}
}

// TestMaxAddrsFlag: --max-addrs outside 1..32 is refused, naming the flag.
func TestMaxAddrsFlag(t *testing.T) {
	for _, args := range [][]string{
		{"check", "--max-addrs", "0", "https://example.org/"},
		{"check", "--max-addrs", "33", "https://example.org/"},
		{"control", "--listen", "127.0.0.1:0", "--max-addrs", "0"},
	} {
		if _, err := execute(t, args...); err == nil || !strings.Contains(err.Error(), "--max-addrs") {
			t.Errorf("%v: got %v, want an error naming --max-addrs", args, err)
		}
	}
}

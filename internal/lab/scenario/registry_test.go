package scenario

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

const (
	docFile  = "../../../docs/lab-censor.md"
	docBegin = "<!-- rule kinds: generated from internal/lab/scenario/rule_*.go; go test ./internal/lab/scenario -update -->\n"
	docEnd   = "<!-- end of rule kinds -->\n"
	minRule  = "name: x\nhosts:\n  - names: [a.example]\n    ip: 203.0.113.1\n    services: [http]\ncensor:\n  - "
)

// TestKinds checks that every registered kind documents itself, parses
// into exactly one of the Rule's fields, and that docs/lab-censor.md shows
// the registry's table.
func TestKinds(t *testing.T) {
	minimal := map[string]string{
		KindDNSInject:     "dns-inject: {names: [a.example], rcode: nxdomain}",
		KindDrop:          "drop: {ips: [203.0.113.1]}",
		KindReset:         "reset: {keywords: [x]}",
		KindTLSMITM:       "tls-mitm: {ips: [203.0.113.1]}",
		KindHTTPRedirect:  "http-redirect: {hosts: [a.example], to: \"http://a.example/x\"}",
		KindHTTPBlockpage: "http-blockpage: {hosts: [a.example]}",
		KindThrottle:      "throttle: {ips: [203.0.113.1], rate: 1mbps}",
		KindSTARTTLSStrip: "starttls-strip: {ips: [203.0.113.1]}",
		KindQUICBlock:     "quic-block: {}",
		KindKeywordDrop:   "keyword-drop: {keywords: [x]}",
		KindDNSTCP:        "dns-tcp: {names: [a.example]}",
		KindHTTPProxy:     "http-proxy: {hosts: [a.example]}",
	}
	if len(Kinds) != len(minimal) {
		t.Errorf("got %d kinds %v, want a minimal rule for each in this test", len(Kinds), Kinds)
	}
	for _, k := range Kinds {
		if Doc(k) == "" || len(Keys(k)) == 0 {
			t.Errorf("kind %s: no documentation or keys", k)
		}
		y, ok := minimal[k]
		if !ok {
			continue
		}
		s, err := Parse("f.yaml", []byte(minRule+y+"\n"))
		if err != nil {
			t.Fatalf("kind %s: %v", k, err)
		}
		r := s.Censor[0]
		set := 0
		v := reflect.ValueOf(r)
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() && v.Type().Field(i).Name != "Probability" {
				set++
			}
		}
		if r.Kind != k || set != 1 {
			t.Errorf("kind %s: got Kind %q and %d parameter fields set, want 1", k, r.Kind, set)
		}
	}

	doc, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	i, j := strings.Index(text, docBegin), strings.Index(text, docEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the markers %q ... %q", docFile, docBegin, docEnd)
	}
	want := rulesMarkdown()
	if got := text[i+len(docBegin) : j]; got != want {
		if *update {
			if err := os.WriteFile(docFile, []byte(text[:i+len(docBegin)]+want+text[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("%s's rule table differs from the registry; run go test ./internal/lab/scenario -update", docFile)
	}
}

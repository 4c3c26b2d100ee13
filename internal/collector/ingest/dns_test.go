package ingest

import (
	"strings"
	"testing"
)

func TestParseDNS(t *testing.T) {
	t.Parallel()
	ok := `{"domain":"A.Example.","qtype":"A","method":"via","server":"198.51.100.2:53","injected":true,"responses":[],"rule":null,"time":"2026-01-01T00:00:00Z"}`
	recs, err := ParseDNS([]byte(ok+"\n"+ok), 10)
	if err != nil || len(recs) != 2 || recs[0].Domain != "a.example" {
		t.Fatalf("%+v, %v", recs, err)
	}
	for _, tt := range []struct{ from, to, field string }{
		{`"domain":"A.Example."`, `"domain":"bad domain"`, "domain"},
		{`"method":"via"`, `"method":"dig"`, "method"},
		{`"injected":true,`, ``, "injected"},
		{`"qtype":"A"`, `"qtype":"MX"`, "qtype"},
		{`"server":"198.51.100.2:53"`, `"server":"nowhere"`, "server"},
		{`"rule":null`, `"rule":"regex"`, "rule"},
		{`"time":"2026-01-01T00:00:00Z"`, `"time":"2999-01-01T00:00:00Z"`, "time"},
	} {
		_, err := ParseDNS([]byte(ok+"\n"+strings.Replace(ok, tt.from, tt.to, 1)), 10)
		re, isRE := err.(*RecordError)
		if !isRE || re.Index != 1 || re.Field != tt.field {
			t.Errorf("%s → %s: %v, want record 1, field %s", tt.from, tt.to, err, tt.field)
		}
	}
	if _, err := ParseDNS([]byte(ok+"\n"+ok+"\n"+ok), 2); err == nil || !strings.Contains(err.Error(), "more than 2") {
		t.Errorf("over the record limit: %v", err)
	}
}

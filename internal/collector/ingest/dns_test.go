package ingest

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/store"
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

// TestDNSHandler posts scan records over HTTP: a batch is stored and
// counted, a bad record is named with its index and field and nothing of
// its batch is kept, and the method, token and record limits are checked as
// for measurements.
func TestDNSHandler(t *testing.T) {
	f := newFixture(t, Options{MaxRecords: 3})
	f.srv.Config.Handler = DNSHandler(f.st, Options{MaxRecords: 3})
	rec := func(d string, injected bool) string {
		return `{"domain":"` + d + `","qtype":"A","method":"via","server":"198.51.100.2:53","injected":` + strconv.FormatBool(injected) + `,"responses":[],"rule":null,"time":"2026-01-01T00:00:00Z"}` + "\n"
	}
	code, out := f.post(t, []byte(rec("a.example", true)+rec("b.example", false)))
	if code != http.StatusOK || out["accepted"] != 2.0 || out["domains"] != 2.0 || out["events"] != 1.0 {
		t.Fatalf("batch: %d %v", code, out)
	}
	code, out = f.post(t, []byte(rec("c.example", true)+strings.Replace(rec("d.example", true), `"qtype":"A"`, `"qtype":"MX"`, 1)))
	if code != http.StatusBadRequest || out["record"] != 1.0 || out["field"] != "qtype" {
		t.Errorf("bad record: %d %v", code, out)
	}
	states, err := f.st.DNSStates(context.Background(), store.DNSFilter{}, store.Page{Limit: 10})
	if err != nil || len(states) != 2 {
		t.Errorf("stored %d states (%v), want 2: a batch with a bad record stores nothing", len(states), err)
	}
	if code, _ := f.post(t, []byte(rec("a.example", true)+rec("b.example", true)+rec("c.example", true)+rec("d.example", true))); code != http.StatusRequestEntityTooLarge {
		t.Errorf("4 records over a limit of 3: %d", code)
	}
	f.secret = "wrong"
	if code, _ := f.post(t, []byte(rec("a.example", true))); code != http.StatusUnauthorized {
		t.Errorf("bad token: %d", code)
	}
	resp, err := http.Get(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

package ingest

import (
	"testing"
)

func FuzzParseDNS(f *testing.F) {
	f.Add([]byte(`{"domain":"a.example","qtype":"A","method":"via","server":"198.51.100.2:53","injected":true,"responses":[{"from":"198.51.100.2:53","rcode":"noerror","answers":[{"name":"a.example","type":"A","ttl":60,"data":"203.0.113.1"}],"ip_ttl":62,"arrived_ms":0.4}],"rule":"exact","rule_base":"a.example","time":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`[{"domain":"b.example","method":"resolver","poisoned":false,"qtype":"AAAA","server":"[2001:db8::1]:53","time":"2026-01-01T00:00:00Z"}]`))
	f.Add([]byte("{}\n{"))
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, err := ParseDNS(body, 100)
		if err != nil {
			return
		}
		for _, o := range DNSObservations(recs) {
			if o.Domain == "" || len(o.Forged) > maxDNSAnswers {
				t.Fatalf("bad observation %+v", o)
			}
		}
	})
}

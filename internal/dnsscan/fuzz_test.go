package dnsscan

import (
	"strings"
	"testing"
)

func FuzzReadResolvers(f *testing.F) {
	f.Add("ip,cc,asn\n192.0.2.1\n192.0.2.2,CN,AS4134\n[2001:db8::1]:5353\n")
	f.Add("udp://192.0.2.1:53,,\n")
	f.Fuzz(func(t *testing.T, in string) {
		rs, err := ReadResolvers(strings.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		for _, r := range rs {
			if !r.Addr.IsValid() || r.Addr.Port() == 0 || r.Addr.Addr().IsUnspecified() {
				t.Fatalf("bad resolver %+v from %q", r, in)
			}
		}
	})
}

func FuzzReadControl(f *testing.F) {
	f.Add(`{"domain":"a.example","qtype":"A","responses":[{"answers":[{"data":"192.0.2.1"}]}]}` + "\n" + `{"domain":"b.example","answers":["2001:db8::1"]}`)
	f.Fuzz(func(t *testing.T, in string) {
		cf, err := ReadControl(strings.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		for k, addrs := range cf {
			for _, a := range addrs {
				if !a.IsValid() {
					t.Fatalf("%s: invalid address", k)
				}
			}
		}
	})
}

package web

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:1::/48")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxy", "198.51.100.7:4711", nil, nil, "198.51.100.7"},
		{"forwarded-for ignored without trusted proxies", "198.51.100.7:4711", []string{"203.0.113.1"}, nil, "198.51.100.7"},
		{"forwarded-for ignored from an untrusted peer", "198.51.100.7:4711", []string{"203.0.113.1"}, proxies, "198.51.100.7"},
		{"trusted proxy", "10.0.0.2:80", []string{"203.0.113.1"}, proxies, "203.0.113.1"},
		{"a client's own spoofed entries are skipped", "10.0.0.2:80", []string{"192.0.2.66, 203.0.113.1"}, proxies, "203.0.113.1"},
		{"a chain of trusted proxies", "10.0.0.2:80", []string{"192.0.2.66, 203.0.113.1, 10.1.1.1"}, proxies, "203.0.113.1"},
		{"several header lines", "10.0.0.2:80", []string{"192.0.2.66", "203.0.113.1"}, proxies, "203.0.113.1"},
		{"only proxies", "10.0.0.2:80", []string{"10.9.9.9"}, proxies, "10.9.9.9"},
		{"no header from a trusted proxy", "10.0.0.2:80", nil, proxies, "10.0.0.2"},
		{"garbage stops the walk", "10.0.0.2:80", []string{"203.0.113.1, nonsense"}, proxies, "10.0.0.2"},
		{"IPv6 proxy and client", "[2001:db8:1::5]:443", []string{"2001:db8:99::7"}, proxies, "2001:db8:99::7"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.2]:80", []string{"203.0.113.1"}, proxies, "203.0.113.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/login", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, tc.trusted).String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"203.0.113.1", "203.0.113.1"},
		{"2001:db8:99::7", "2001:db8:99::/64"},
		{"2001:db8:99::8", "2001:db8:99::/64"},
	} {
		if got := clientKey(netip.MustParseAddr(tc.in)); got != tc.want {
			t.Errorf("clientKey(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseTrustedProxy(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"192.0.2.1", "192.0.2.1/32"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"fd00::/8", "fd00::/8"},
	} {
		p, err := ParseTrustedProxy(tc.in)
		if err != nil || p.String() != tc.want {
			t.Errorf("ParseTrustedProxy(%q) = %v, %v; want %s", tc.in, p, err, tc.want)
		}
	}
	for _, bad := range []string{"", "proxy.example", "10.0.0.0/33"} {
		if _, err := ParseTrustedProxy(bad); err == nil {
			t.Errorf("ParseTrustedProxy(%q): no error", bad)
		}
	}
}

package probe

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/netx"
	"github.com/firewatch/firewatch/internal/probe/probetest"
	"github.com/miekg/dns"
)

func TestTitle(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"<html><head><title>Hello</title>", "Hello"},
		{"<TITLE lang=en>\n  Two\n words </TITLE>", "Two words"},
		{"<title>A &amp; B</title>", "A & B"},
		{"<titles>no</titles><title>yes</title>", "yes"},
		{"<title>unterminated", "unterminated"},
		{"<title>cut<b>x</b>", "cut"},
		{"no title here", ""},
		{"<title", ""},
		{"<title>" + strings.Repeat("é", 400) + "</title>", strings.Repeat("é", maxTitle/2)},
	}
	for _, tc := range tests {
		if got := Title([]byte(tc.in)); got != tc.want {
			t.Errorf("Title(%.40q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzTitle(f *testing.F) {
	for _, s := range []string{"<title>x</title>", "<TITLE a=b>y", "<title><title>", "\xff<title>\xfe</title>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := Title(b)
		if len(s) > maxTitle || !utf8.ValidString(s) {
			t.Fatalf("Title = %q: too long or invalid UTF-8", s)
		}
	})
}

// FuzzDNSResponse feeds arbitrary bytes as a DNS response to a query.
func FuzzDNSResponse(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("www.example.", dns.TypeA)
	for _, r := range probetest.Answer(q) {
		wire, _ := r.Pack()
		f.Add(wire)
	}
	nx := new(dns.Msg)
	nx.SetQuestion("nx.example.", dns.TypeA)
	for _, r := range probetest.Answer(nx) {
		wire, _ := r.Pack()
		f.Add(wire)
	}
	f.Add([]byte{0, 1, 2})
	p := &Probe{net: &netx.Network{}}
	f.Fuzz(func(t *testing.T, wire []byte) {
		qq := q.Copy()
		if len(wire) >= 2 {
			qq.Id = uint16(wire[0])<<8 | uint16(wire[1])
		}
		r, ok := parseResponse(wire, qq)
		if !ok {
			return
		}
		d := &model.DNSData{}
		p.classifyResponse(&r, d)
		if r.Rcode == "" || r.Answers == nil {
			t.Fatalf("response %+v: empty rcode or nil answers", r)
		}
		if r.Rcode == "NOERROR" && len(d.Bogons) == 0 && len(r.Answers) > 0 && r.Failure != nil && *r.Failure != "dns_no_answer" {
			t.Fatalf("response %+v: failure %q", r, *r.Failure)
		}
	})
}

// FuzzMailGreeting feeds arbitrary server bytes to each mail protocol's
// greeting and STARTTLS exchange: never a panic, never unbounded output.
func FuzzMailGreeting(f *testing.F) {
	f.Add("220-a\r\n220 b\r\n250-x\r\n250 STARTTLS\r\n220 go\r\n")
	f.Add("* OK hi\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK\r\na2 OK\r\n")
	f.Add("+OK hi\r\n+OK\r\nSTLS\r\n.\r\n+OK\r\n")
	f.Add("\x00\xff garbage")
	f.Add(strings.Repeat("x", 5000))
	f.Fuzz(func(t *testing.T, server string) {
		for _, proto := range []string{"smtp", "imap", "pop3"} {
			m := &mailConn{r: bufio.NewReaderSize(strings.NewReader(server), maxMailLine), w: io.Discard, timeout: time.Second}
			d := &model.MailData{Protocol: proto}
			err := greet(m, proto, d)
			if len(d.Banner) > maxBanner || len(d.Capabilities) > maxMailLines*16 {
				t.Fatalf("%s: banner %d bytes, %d capabilities", proto, len(d.Banner), len(d.Capabilities))
			}
			if err == nil && d.StartTLSOffered {
				_ = startTLS(m, proto, &model.MailData{})
			}
		}
	})
}

func TestMailLineBound(t *testing.T) {
	t.Parallel()
	m := &mailConn{r: bufio.NewReaderSize(bytes.NewReader(bytes.Repeat([]byte("2"), 4000)), maxMailLine), w: io.Discard}
	err := greet(m, "smtp", &model.MailData{})
	if err == nil || !strings.Contains(err.Error(), "mail_protocol_error") {
		t.Errorf("long line: %v, want mail_protocol_error", err)
	}
}

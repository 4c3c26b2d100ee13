package services

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/miekg/dns"
)

func BenchmarkAuthorityAnswer(b *testing.B) {
	a := NewAuthority(testHosts, 0)
	m := new(dns.Msg)
	m.SetQuestion("www.skype.com.", dns.TypeA)
	b.ReportAllocs()
	for b.Loop() {
		if r := a.Answer(m); len(r.Answer) != 1 {
			b.Fatal("no answer")
		}
	}
}

func BenchmarkAuthorityUDP(b *testing.B) {
	s := startTest(b)
	c := &dns.Client{}
	m := new(dns.Msg)
	m.SetQuestion("mail.example.com.", dns.TypeA)
	for b.Loop() {
		if _, _, err := c.Exchange(m, s.addrs["mail.example.com dns"]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWebFile(b *testing.B) {
	s := startTest(b)
	url := "http://" + s.addrs["www.skype.com http"] + "/SkypeSetup.exe"
	c := &http.Client{}
	b.SetBytes(100000)
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func BenchmarkIMAPSession(b *testing.B) {
	s := startTest(b)
	addr := s.addrs["mail.example.com imap"]
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		r := bufio.NewReader(c)
		r.ReadString('\n')
		io.WriteString(c, "a CAPABILITY\r\n")
		r.ReadString('\n')
		r.ReadString('\n')
		io.WriteString(c, "b LOGOUT\r\n")
		r.ReadString('\n')
		c.Close()
	}
}

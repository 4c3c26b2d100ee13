package services

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"
)

func FuzzParseIMAP(f *testing.F) {
	for _, s := range []string{"a1 CAPABILITY", "a STARTTLS", "* OK", "(x LOGIN", "", " ", "a1 login u p", "\x00 \xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseIMAP(line)
		if err != nil {
			return
		}
		if c.Tag == "" || c.Verb == "" || c.Verb != strings.ToUpper(c.Verb) || strings.ContainsAny(c.Tag, " (") {
			t.Errorf("ParseIMAP(%q) = %+v", line, c)
		}
	})
}

func FuzzParseVerb(f *testing.F) {
	for _, s := range []string{"EHLO x", "mail from:<a@b>", "", "QUIT   ", "\t\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		v, _ := ParseVerb(line)
		if strings.Contains(v, " ") || v != strings.ToUpper(v) {
			t.Errorf("ParseVerb(%q) verb %q", line, v)
		}
	})
}

// FuzzMailSession feeds arbitrary client input to each protocol's session:
// it must end (no hang) without panicking.
func FuzzMailSession(f *testing.F) {
	f.Add(uint8(0), "a1 CAPABILITY\r\na2 NOOP\r\na3 LOGOUT\r\n")
	f.Add(uint8(1), "EHLO x\r\nMAIL FROM:<a>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n")
	f.Add(uint8(2), "CAPA\r\nUSER x\r\nPASS y\r\nQUIT\r\n")
	f.Add(uint8(0), "a STARTTLS\r\n\x16\x03\x01")
	f.Fuzz(func(t *testing.T, proto uint8, input string) {
		protos := []string{IMAP, SMTP, POP3}
		server, client := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer server.Close()
			_ = HandleMail(server, MailConfig{Protocol: protos[int(proto)%3], Hostname: "h.example"})
		}()
		go func() {
			var sink bytes.Buffer
			buf := make([]byte, 4096)
			for {
				n, err := client.Read(buf)
				sink.Write(buf[:n])
				if err != nil {
					return
				}
			}
		}()
		_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = client.Write([]byte(input))
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("session did not end")
		}
	})
}

package probetest

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"testing"
)

// MailServer configures a scripted mail server.
type MailServer struct {
	Protocol string           // "imap", "smtp" or "pop3"
	StartTLS bool             // offer STARTTLS/STLS
	Garbage  bool             // send garbage instead of a banner
	Implicit bool             // TLS from the first byte (imaps, smtps, pop3s)
	Cert     *tls.Certificate // for STARTTLS or implicit TLS
}

// Start runs the server and returns its address.
func (s MailServer) Start(t testing.TB) string {
	t.Helper()
	ln := Listen(t)
	var cfg *tls.Config
	if s.Cert != nil {
		cfg = &tls.Config{Certificates: []tls.Certificate{*s.Cert}}
	}
	Serve(ln, func(c net.Conn) {
		if s.Implicit {
			tc := tls.Server(c, cfg)
			if tc.Handshake() != nil {
				return
			}
			c = tc
		}
		s.session(c, cfg)
	})
	return ln.Addr().String()
}

func (s MailServer) session(c net.Conn, cfg *tls.Config) {
	w := func(l string) { c.Write([]byte(l + "\r\n")) }
	br := bufio.NewReader(c)
	if s.Garbage {
		w("\x00\x01HELLO? not a mail server \xff")
		br.ReadString('\n')
		return
	}
	upgrade := func() {
		tc := tls.Server(c, cfg)
		tc.Handshake()
		tc.Close()
	}
	switch s.Protocol {
	case "smtp":
		w("220-mail.test ESMTP test")
		w("220 ready")
	case "imap":
		w("* OK [CAPABILITY IMAP4rev1] ready")
	default:
		w("+OK POP3 ready")
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(l))
		switch s.Protocol {
		case "smtp":
			switch {
			case strings.HasPrefix(cmd, "EHLO"):
				w("250-mail.test")
				w("250-SIZE 1000000")
				if s.StartTLS {
					w("250-STARTTLS")
				}
				w("250 8BITMIME")
			case cmd == "STARTTLS" && s.StartTLS:
				w("220 go ahead")
				upgrade()
				return
			case cmd == "QUIT":
				w("221 bye")
				return
			default:
				w("502 no")
			}
		case "imap":
			tag, rest, _ := strings.Cut(cmd, " ")
			switch {
			case rest == "CAPABILITY":
				caps := "* CAPABILITY IMAP4rev1 AUTH=PLAIN"
				if s.StartTLS {
					caps += " STARTTLS"
				}
				w(caps)
				w(strings.ToLower(tag) + " OK done")
			case rest == "STARTTLS" && s.StartTLS:
				w(strings.ToLower(tag) + " OK begin TLS")
				upgrade()
				return
			case rest == "LOGOUT":
				w("* BYE")
				w(strings.ToLower(tag) + " OK bye")
				return
			default:
				w(strings.ToLower(tag) + " BAD no")
			}
		default:
			switch {
			case cmd == "CAPA":
				w("+OK caps")
				w("USER")
				if s.StartTLS {
					w("STLS")
				}
				w(".")
			case cmd == "STLS" && s.StartTLS:
				w("+OK begin TLS")
				upgrade()
				return
			case cmd == "QUIT":
				w("+OK bye")
				return
			default:
				w("-ERR no")
			}
		}
	}
}

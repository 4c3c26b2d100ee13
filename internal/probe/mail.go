package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
)

// Bounds of a mail conversation: no server can make the probe hang or grow.
const (
	maxMailLine  = 1024            // bytes per line
	maxMailLines = 64              // lines per reply
	maxBanner    = model.MaxBanner // bytes of banner kept in the record
)

// errMail is a mail protocol violation: garbage banner, bad reply, line too long.
var errMail = errors.New("mail protocol error")

func mailError(format string, args ...any) error {
	return failure.New(failure.MailProtocolError, "", fmt.Errorf("%w: "+format, append([]any{errMail}, args...)...))
}

// mailProtocol returns "imap", "smtp" or "pop3" for a mail scheme.
func mailProtocol(scheme string) string {
	switch scheme {
	case "imap", "imaps":
		return "imap"
	case "smtp", "smtps", "submission":
		return "smtp"
	}
	return "pop3"
}

// mail records the greeting (banner, capabilities, STARTTLS offered) of the
// first endpoint usable, then for plain schemes the STARTTLS exchange and the
// TLS handshake that follows it.
func (p *Probe) mail(ctx context.Context, rec *recorder, t target.Target, eps []endpoint) {
	implicit := target.IsTLS(t.Scheme)
	conn, _ := firstUsable(eps, implicit)
	if conn == nil {
		return
	}
	proto := mailProtocol(t.Scheme)
	mc := newMailConn(conn, p.cfg.Timeout)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	step := newStep(model.OpMailGreeting, conn.RemoteAddr().String(), t.Host)
	data := &model.MailData{Protocol: proto}
	step.Mail = data
	err := greet(mc, proto, data)
	finish(&step, err)
	rec.add(step)
	if err != nil || implicit || !data.StartTLSOffered {
		quit(mc, proto)
		return
	}

	st := newStep(model.OpStartTLS, conn.RemoteAddr().String(), t.Host)
	sdata := &model.MailData{Protocol: proto, StartTLSOffered: true}
	st.Mail = sdata
	err = startTLS(mc, proto, sdata)
	finish(&st, err)
	rec.add(st)
	if err != nil {
		return
	}
	if tc := p.handshake(ctx, rec, conn, t.Host, nil); tc != nil {
		tc.Close()
	}
}

// mailConn is a mail conversation with bounded lines and a deadline per
// command.
type mailConn struct {
	conn    net.Conn // nil in fuzz tests
	r       *bufio.Reader
	w       io.Writer
	timeout time.Duration
}

func newMailConn(c net.Conn, timeout time.Duration) *mailConn {
	return &mailConn{conn: c, r: bufio.NewReaderSize(c, maxMailLine), w: c, timeout: timeout}
}

func (m *mailConn) arm() {
	if m.conn != nil {
		m.conn.SetDeadline(time.Now().Add(m.timeout))
	}
}

// line reads one line without its CRLF; longer than maxMailLine is an error.
func (m *mailConn) line() (string, error) {
	b, err := m.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", mailError("line longer than %d bytes", maxMailLine)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func (m *mailConn) send(cmd string) error {
	m.arm()
	_, err := io.WriteString(m.w, cmd+"\r\n")
	return err
}

// smtpReply reads a possibly multi-line SMTP reply: its code and lines'
// texts.
func (m *mailConn) smtpReply() (string, []string, error) {
	var texts []string
	for i := 0; i < maxMailLines; i++ {
		l, err := m.line()
		if err != nil {
			return "", texts, err
		}
		if len(l) < 3 || !isDigits(l[:3]) || (len(l) > 3 && l[3] != ' ' && l[3] != '-') {
			return "", texts, mailError("not an SMTP reply: %q", truncate(l, 64))
		}
		text := ""
		if len(l) > 4 {
			text = l[4:]
		}
		texts = append(texts, text)
		if len(l) == 3 || l[3] == ' ' {
			return l[:3], texts, nil
		}
	}
	return "", texts, mailError("SMTP reply longer than %d lines", maxMailLines)
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// greet reads the banner and asks for the capabilities.
func greet(m *mailConn, proto string, d *model.MailData) error {
	m.arm()
	switch proto {
	case "smtp":
		code, texts, err := m.smtpReply()
		if len(texts) > 0 {
			d.Banner = truncate(code+" "+texts[0], maxBanner)
		}
		if err != nil {
			return err
		}
		if code != "220" {
			return mailError("SMTP banner code %s", code)
		}
		if err := m.send("EHLO localhost"); err != nil {
			return err
		}
		code, texts, err = m.smtpReply()
		if err != nil {
			return err
		}
		if code == "250" && len(texts) > 1 {
			for _, c := range texts[1:] {
				d.Capabilities = append(d.Capabilities, truncate(c, 128))
			}
		}
	case "imap":
		l, err := m.line()
		if err != nil {
			return err
		}
		d.Banner = truncate(l, maxBanner)
		up := strings.ToUpper(l)
		if !strings.HasPrefix(up, "* OK") && !strings.HasPrefix(up, "* PREAUTH") {
			return mailError("not an IMAP greeting: %q", truncate(l, 64))
		}
		_, err = m.imapCommand("a1", "CAPABILITY", func(l string) {
			if caps, ok := cutFold(l, "* CAPABILITY "); ok {
				for _, c := range strings.Fields(caps) {
					d.Capabilities = append(d.Capabilities, truncate(c, 128))
				}
			}
		})
		if err != nil {
			return err
		}
	default: // pop3
		l, err := m.line()
		if err != nil {
			return err
		}
		d.Banner = truncate(l, maxBanner)
		if !strings.HasPrefix(l, "+OK") {
			return mailError("not a POP3 greeting: %q", truncate(l, 64))
		}
		if err := m.send("CAPA"); err != nil {
			return err
		}
		l, err = m.line()
		if err != nil {
			return err
		}
		if strings.HasPrefix(l, "+OK") {
			for i := 0; ; i++ {
				if i == maxMailLines {
					return mailError("POP3 reply longer than %d lines", maxMailLines)
				}
				l, err := m.line()
				if err != nil {
					return err
				}
				if l == "." {
					break
				}
				d.Capabilities = append(d.Capabilities, truncate(l, 128))
			}
		}
	}
	d.StartTLSOffered = offersStartTLS(proto, d.Capabilities)
	return nil
}

// imapCommand sends an IMAP command under tag, hands each untagged line of
// the reply to untagged (if not nil) and returns the tagged completion line.
func (m *mailConn) imapCommand(tag, cmd string, untagged func(string)) (string, error) {
	if err := m.send(tag + " " + cmd); err != nil {
		return "", err
	}
	for i := 0; i < maxMailLines; i++ {
		l, err := m.line()
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(l, tag+" ") {
			return l, nil
		}
		if untagged != nil {
			untagged(l)
		}
	}
	return "", mailError("IMAP reply longer than %d lines", maxMailLines)
}

// offersStartTLS reports whether the capabilities offer STARTTLS (STLS).
func offersStartTLS(proto string, caps []string) bool {
	want := "STARTTLS"
	if proto == "pop3" {
		want = "STLS"
	}
	for _, c := range caps {
		f := strings.Fields(c)
		if len(f) > 0 && strings.EqualFold(f[0], want) {
			return true
		}
	}
	return false
}

func cutFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// startTLS sends STARTTLS (STLS) and reads the reply; a refusal is a
// mail_protocol_error.
func startTLS(m *mailConn, proto string, d *model.MailData) error {
	switch proto {
	case "smtp":
		if err := m.send("STARTTLS"); err != nil {
			return err
		}
		code, texts, err := m.smtpReply()
		if len(texts) > 0 {
			d.Reply = truncate(code+" "+texts[0], maxBanner)
		}
		if err != nil {
			return err
		}
		if code != "220" {
			return mailError("STARTTLS refused: %s", code)
		}
	case "imap":
		l, err := m.imapCommand("a2", "STARTTLS", nil)
		if err != nil {
			return err
		}
		d.Reply = truncate(l, maxBanner)
		if !strings.HasPrefix(strings.ToUpper(l), "A2 OK") {
			return mailError("STARTTLS refused")
		}
	default:
		if err := m.send("STLS"); err != nil {
			return err
		}
		l, err := m.line()
		if err != nil {
			return err
		}
		d.Reply = truncate(l, maxBanner)
		if !strings.HasPrefix(l, "+OK") {
			return mailError("STLS refused")
		}
	}
	if m.r.Buffered() > 0 {
		// Bytes sent before the TLS handshake would be injected plaintext.
		return mailError("data after STARTTLS reply")
	}
	if m.conn != nil {
		m.conn.SetDeadline(time.Time{})
	}
	return nil
}

// quit ends the session politely, best effort.
func quit(m *mailConn, proto string) {
	switch proto {
	case "imap":
		m.send("a9 LOGOUT")
	default:
		m.send("QUIT")
	}
}

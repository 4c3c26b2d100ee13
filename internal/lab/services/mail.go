package services

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Mail protocols served by ServeMail.
const (
	IMAP = "imap"
	SMTP = "smtp"
	POP3 = "pop3"
)

// MailConfig configures one mail listener.
type MailConfig struct {
	// Protocol is IMAP, SMTP or POP3.
	Protocol string
	// Hostname is named in the banner and greetings.
	Hostname string
	// TLS is the server's TLS configuration; nil disables STARTTLS.
	TLS *tls.Config
	// Implicit makes the listener speak TLS from the first byte (imaps,
	// smtps, pop3s) instead of offering STARTTLS/STLS.
	Implicit bool
}

// maxLine bounds a command line; longer lines end the session.
const maxLine = 4096

// idleTimeout ends a session without a command for that long.
const idleTimeout = 2 * time.Minute

// ServeMail accepts connections on ln until ctx is done or ln fails.
func ServeMail(ctx context.Context, ln net.Listener, cfg MailConfig) error {
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			_ = HandleMail(c, cfg)
		}()
	}
}

// HandleMail runs one mail session on c and returns when the client quits or
// the connection ends.
func HandleMail(c net.Conn, cfg MailConfig) error {
	var conn net.Conn = c
	tlsOn := false
	if cfg.Implicit {
		if cfg.TLS == nil {
			return errors.New("mail: implicit TLS without a certificate")
		}
		tc := tls.Server(c, cfg.TLS)
		_ = c.SetDeadline(time.Now().Add(idleTimeout))
		if err := tc.Handshake(); err != nil {
			return err
		}
		conn, tlsOn = tc, true
	}
	s := &session{cfg: cfg, conn: conn, tls: tlsOn}
	s.reset()
	return s.run()
}

type session struct {
	cfg  MailConfig
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	tls  bool
}

func (s *session) reset() {
	s.r = bufio.NewReaderSize(s.conn, 1024)
	s.w = bufio.NewWriter(s.conn)
}

func (s *session) printf(format string, args ...any) error {
	fmt.Fprintf(s.w, format, args...)
	return s.w.Flush()
}

// readLine reads one CRLF- or LF-terminated line without its terminator.
func (s *session) readLine() (string, error) {
	_ = s.conn.SetDeadline(time.Now().Add(idleTimeout))
	var line []byte
	for {
		part, isPrefix, err := s.r.ReadLine()
		if err != nil {
			return "", err
		}
		line = append(line, part...)
		if len(line) > maxLine {
			return "", errors.New("mail: line too long")
		}
		if !isPrefix {
			return string(line), nil
		}
	}
}

// starttls upgrades the session; it must be called right after the
// protocol's go-ahead reply was flushed.
func (s *session) starttls() error {
	if s.r.Buffered() > 0 {
		return errors.New("mail: data pipelined after STARTTLS")
	}
	tc := tls.Server(s.conn, s.cfg.TLS)
	_ = s.conn.SetDeadline(time.Now().Add(idleTimeout))
	if err := tc.Handshake(); err != nil {
		return err
	}
	s.conn, s.tls = tc, true
	s.reset()
	return nil
}

func (s *session) canStartTLS() bool { return s.cfg.TLS != nil && !s.tls }

func (s *session) run() error {
	switch s.cfg.Protocol {
	case IMAP:
		return s.imap()
	case SMTP:
		return s.smtp()
	case POP3:
		return s.pop3()
	}
	return fmt.Errorf("mail: unknown protocol %q", s.cfg.Protocol)
}

// IMAPCommand is one parsed IMAP command line: "tag VERB args".
type IMAPCommand struct {
	Tag, Verb, Args string
}

// ParseIMAP splits an IMAP command line into tag, upper-case verb and
// arguments. It fails on an empty tag, a missing verb or a tag with
// characters IMAP forbids.
func ParseIMAP(line string) (IMAPCommand, error) {
	tag, rest, _ := strings.Cut(line, " ")
	if tag == "" || strings.ContainsAny(tag, "(){%*\"\\+") || !printable(tag) {
		return IMAPCommand{}, errors.New("bad tag")
	}
	verb, args, _ := strings.Cut(rest, " ")
	if verb == "" || !printable(verb) {
		return IMAPCommand{Tag: tag}, errors.New("missing command")
	}
	return IMAPCommand{Tag: tag, Verb: strings.ToUpper(verb), Args: args}, nil
}

// ParseVerb splits an SMTP or POP3 command line into its upper-case verb and
// the rest of the line.
func ParseVerb(line string) (verb, args string) {
	line = strings.TrimRight(line, " \t")
	verb, args, _ = strings.Cut(line, " ")
	return strings.ToUpper(verb), strings.TrimSpace(args)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func (s *session) imapCaps() string {
	caps := "IMAP4rev1"
	if s.canStartTLS() {
		caps += " STARTTLS LOGINDISABLED"
	} else {
		caps += " AUTH=PLAIN"
	}
	return caps
}

func (s *session) imap() error {
	if err := s.printf("* OK [CAPABILITY %s] %s IMAP4rev1 server ready\r\n", s.imapCaps(), s.cfg.Hostname); err != nil {
		return err
	}
	for {
		line, err := s.readLine()
		if err != nil {
			return ignoreEOF(err)
		}
		cmd, err := ParseIMAP(line)
		if err != nil {
			tag := cmd.Tag
			if tag == "" {
				tag = "*"
			}
			if err := s.printf("%s BAD %s\r\n", tag, err); err != nil {
				return err
			}
			continue
		}
		switch cmd.Verb {
		case "CAPABILITY":
			err = s.printf("* CAPABILITY %s\r\n%s OK CAPABILITY completed\r\n", s.imapCaps(), cmd.Tag)
		case "NOOP":
			err = s.printf("%s OK NOOP completed\r\n", cmd.Tag)
		case "STARTTLS":
			if !s.canStartTLS() {
				err = s.printf("%s BAD STARTTLS not available\r\n", cmd.Tag)
				break
			}
			if err = s.printf("%s OK Begin TLS negotiation now\r\n", cmd.Tag); err == nil {
				err = s.starttls()
			}
		case "LOGIN", "AUTHENTICATE":
			err = s.printf("%s NO [AUTHENTICATIONFAILED] no accounts on a lab server\r\n", cmd.Tag)
		case "LOGOUT":
			_ = s.printf("* BYE %s logging out\r\n%s OK LOGOUT completed\r\n", s.cfg.Hostname, cmd.Tag)
			return nil
		default:
			err = s.printf("%s BAD command not supported\r\n", cmd.Tag)
		}
		if err != nil {
			return err
		}
	}
}

func (s *session) smtp() error {
	if err := s.printf("220 %s ESMTP firewatch-lab ready\r\n", s.cfg.Hostname); err != nil {
		return err
	}
	for {
		line, err := s.readLine()
		if err != nil {
			return ignoreEOF(err)
		}
		verb, args := ParseVerb(line)
		switch verb {
		case "EHLO":
			ext := "250-" + s.cfg.Hostname + " greets " + args + "\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
			if s.canStartTLS() {
				ext += "250-STARTTLS\r\n"
			} else {
				ext += "250-AUTH PLAIN LOGIN\r\n"
			}
			err = s.printf("%s250 8BITMIME\r\n", ext)
		case "HELO":
			err = s.printf("250 %s\r\n", s.cfg.Hostname)
		case "STARTTLS":
			if !s.canStartTLS() {
				err = s.printf("502 5.5.1 STARTTLS not available\r\n")
				break
			}
			if err = s.printf("220 2.0.0 Ready to start TLS\r\n"); err == nil {
				err = s.starttls()
			}
		case "NOOP", "RSET":
			err = s.printf("250 2.0.0 OK\r\n")
		case "MAIL", "RCPT":
			err = s.printf("250 2.1.0 OK\r\n")
		case "DATA":
			if err = s.printf("354 End data with <CR><LF>.<CR><LF>\r\n"); err != nil {
				break
			}
			for {
				l, rerr := s.readLine()
				if rerr != nil {
					return ignoreEOF(rerr)
				}
				if l == "." {
					break
				}
			}
			err = s.printf("250 2.0.0 OK: discarded by the lab\r\n")
		case "AUTH":
			err = s.printf("535 5.7.8 no accounts on a lab server\r\n")
		case "QUIT":
			_ = s.printf("221 2.0.0 %s closing connection\r\n", s.cfg.Hostname)
			return nil
		default:
			err = s.printf("502 5.5.2 command not recognized\r\n")
		}
		if err != nil {
			return err
		}
	}
}

func (s *session) pop3() error {
	if err := s.printf("+OK %s POP3 server ready\r\n", s.cfg.Hostname); err != nil {
		return err
	}
	for {
		line, err := s.readLine()
		if err != nil {
			return ignoreEOF(err)
		}
		verb, _ := ParseVerb(line)
		switch verb {
		case "CAPA":
			caps := "+OK Capability list follows\r\nUSER\r\nTOP\r\nUIDL\r\n"
			if s.canStartTLS() {
				caps += "STLS\r\n"
			}
			err = s.printf("%s.\r\n", caps)
		case "STLS":
			if !s.canStartTLS() {
				err = s.printf("-ERR STLS not available\r\n")
				break
			}
			if err = s.printf("+OK Begin TLS negotiation\r\n"); err == nil {
				err = s.starttls()
			}
		case "NOOP":
			err = s.printf("+OK\r\n")
		case "USER":
			err = s.printf("+OK send PASS\r\n")
		case "PASS":
			err = s.printf("-ERR [AUTH] no accounts on a lab server\r\n")
		case "QUIT":
			_ = s.printf("+OK %s signing off\r\n", s.cfg.Hostname)
			return nil
		default:
			err = s.printf("-ERR command not recognized\r\n")
		}
		if err != nil {
			return err
		}
	}
}

func ignoreEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

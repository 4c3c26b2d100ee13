package policy

import (
	"regexp"
	"strings"

	"github.com/firewatch/firewatch/internal/target"
)

// Upgrade describes the plaintext upgrade to TLS of a mail protocol, so that
// an interceptor knows when TLS starts.
type Upgrade struct {
	Proto string
	// Command reports whether a client line asks for TLS, and returns the tag
	// the final server answer carries (IMAP) or "".
	Command func(line string) (tag string, ok bool)
	// Final reports whether a server line ends the answer, and whether it accepts.
	Final func(tag, line string) (done, ok bool)
}

var smtpUpgrade = &Upgrade{Proto: "smtp",
	Command: func(l string) (string, bool) { return "", strings.EqualFold(strings.TrimSpace(l), "STARTTLS") },
	Final: func(_, l string) (bool, bool) {
		if len(l) >= 4 && l[3] == '-' {
			return false, false
		}
		return true, strings.HasPrefix(l, "220")
	}}

// upgrades maps the default port of each mail scheme that upgrades in the
// clear (internal/target's table) to its upgrade.
var upgrades = func() map[uint16]*Upgrade {
	m := map[uint16]*Upgrade{}
	for scheme, u := range byScheme {
		m[uint16(target.DefaultPorts[scheme])] = u
	}
	return m
}()

var byScheme = map[string]*Upgrade{
	"imap": {Proto: "imap",
		Command: func(l string) (string, bool) {
			f := strings.Fields(l)
			if len(f) == 2 && strings.EqualFold(f[1], "STARTTLS") {
				return f[0], true
			}
			return "", false
		},
		Final: func(tag, l string) (bool, bool) {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == tag {
				return true, strings.EqualFold(f[1], "OK")
			}
			return false, false
		}},
	"pop3": {Proto: "pop3",
		Command: func(l string) (string, bool) { return "", strings.EqualFold(strings.TrimSpace(l), "STLS") },
		Final: func(_, l string) (bool, bool) {
			return true, strings.HasPrefix(l, "+OK")
		}},
	"smtp":       smtpUpgrade,
	"submission": smtpUpgrade,
}

// STARTTLS returns the plaintext upgrade spoken on port, nil for a port
// where TLS starts at once.
func STARTTLS(port uint16) *Upgrade { return upgrades[port] }

// STARTTLS stripping: the censor relays a plaintext mail session line by
// line, overwriting the STARTTLS (STLS) offer in the server's capabilities
// and the upgrade command in the client's requests with X's of the same
// length (as some middleboxes do), so that the server refuses the upgrade
// and the session carries on in the clear.

var (
	stripSTARTTLS = regexp.MustCompile(`(?i)\bSTARTTLS\b`)
	stripSTLS     = regexp.MustCompile(`(?i)\bSTLS\b`)
)

// StripLine overwrites STARTTLS and STLS in one protocol line.
func StripLine(line string) string {
	line = stripSTARTTLS.ReplaceAllString(line, "XXXXXXXA")
	return stripSTLS.ReplaceAllString(line, "XXXX")
}

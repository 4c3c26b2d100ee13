package policy

import "testing"

func TestStripLine(t *testing.T) {
	for in, want := range map[string]string{
		"250-STARTTLS\r\n": "250-XXXXXXXA\r\n",
		"250 starttls\r\n": "250 XXXXXXXA\r\n",
		"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n": "* CAPABILITY IMAP4rev1 XXXXXXXA LOGINDISABLED\r\n",
		"a1 STARTTLS\r\n":                 "a1 XXXXXXXA\r\n",
		"STLS\r\n":                        "XXXX\r\n",
		"+OK Capability list follows\r\n": "+OK Capability list follows\r\n",
		"250-PIPELINING\r\n":              "250-PIPELINING\r\n",
		"250 STARTTLSX\r\n":               "250 STARTTLSX\r\n",
	} {
		if got := StripLine(in); got != want {
			t.Errorf("StripLine(%q) = %q, want %q", in, got, want)
		}
		if got := StripLine(in); len(got) != len(in) {
			t.Errorf("StripLine(%q) changed the length", in)
		}
	}
}

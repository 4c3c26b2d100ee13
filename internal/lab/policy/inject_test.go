package policy

import (
	"bytes"
	"testing"
)

func TestInjectHTML(t *testing.T) {
	const s = "<script>x()</script>"
	cases := []struct{ name, body, want string }{
		{"before body end", "<html><body><p>a</p></body></html>", "<html><body><p>a</p>" + s + "</body></html>"},
		{"upper case", "<HTML><BODY>a</BODY></HTML>\n", "<HTML><BODY>a" + s + "</BODY></HTML>\n"},
		{"last of two", "<body>x</body> <!-- </body> --></body>", "<body>x</body> <!-- </body> -->" + s + "</body>"},
		{"no body end", "<p>fragment", "<p>fragment" + s},
		{"empty", "", s},
		{"invalid UTF-8 before", "\xc1\xc1</BodY>", "\xc1\xc1" + s + "</BodY>"},
	}
	for _, c := range cases {
		if got := InjectHTML([]byte(c.body), s); string(got) != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestIsHTML(t *testing.T) {
	cases := []struct {
		ct, start string
		want      bool
	}{
		{"text/html; charset=utf-8", "", true},
		{"TEXT/HTML", "", true},
		{"application/xhtml+xml", "", true},
		{"text/plain", "<html>", false},
		{"application/octet-stream", "", false},
		{"", "<!DOCTYPE html><html>", true},
		{"", "\x00\x01binary", false},
		{"text/html; =bad", "", false},
	}
	for _, c := range cases {
		if got := IsHTML(c.ct, []byte(c.start)); got != c.want {
			t.Errorf("IsHTML(%q, %q) = %v, want %v", c.ct, c.start, got, c.want)
		}
	}
}

func FuzzInjectHTML(f *testing.F) {
	f.Add([]byte("<html><body>a</body></html>"), "<script></script>")
	f.Add([]byte("</BODY"), "<b>")
	f.Fuzz(func(t *testing.T, body []byte, s string) {
		got := InjectHTML(body, s)
		if len(got) != len(body)+len(s) || !bytes.Contains(got, []byte(s)) {
			t.Fatalf("InjectHTML(%q, %q) = %q: want the body with the snippet added", body, s, got)
		}
	})
}

package probe

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

func elementsOf(body string) []string {
	s := NewElementScanner()
	s.Write([]byte(body))
	return s.Digests()
}

func TestElementScanner(t *testing.T) {
	page := `<html><head><title>T</title><script src="/app.js"></script></head><body><p>Hi</p>` +
		`<iframe src="https://ads.example/x" width=1></iframe><script>var a = "</b>";</script></body></html>`
	base := elementsOf(page)
	if len(base) != 3 {
		t.Fatalf("page: %d elements %v, want 3 (two scripts, an iframe)", len(base), base)
	}
	same := []struct{ name, body string }{
		{"other text", strings.Replace(page, "<p>Hi</p>", "<p>Hello, it is 12:03:44, token 9f2a</p>", 1)},
		{"whitespace runs", strings.Replace(page, `<script src="/app.js">`, "<script \n\t src=\"/app.js\">", 1)},
		{"tag case", strings.Replace(page, `<iframe src`, `<IFRAME src`, 1)},
		{"duplicate element", strings.Replace(page, "</body>", `<script src="/app.js"></script></body>`, 1)},
		{"other elements", strings.Replace(page, "<p>Hi</p>", `<scripts>x</scripts><img src="a.png"><iframes>`, 1)},
	}
	for _, c := range same {
		if got := elementsOf(c.body); !slices.Equal(got, base) {
			t.Errorf("%s: %v, want the page's %v", c.name, got, base)
		}
	}
	differ := []struct{ name, body string }{
		{"injected script", strings.Replace(page, "</body>", `<script>inject()</script></body>`, 1)},
		{"injected iframe", strings.Replace(page, "</body>", `<iframe src="http://198.51.100.9/ad">`, 1)},
		{"rewritten src", strings.Replace(page, "/app.js", "/app2.js", 1)},
		{"rewritten inline", strings.Replace(page, `var a = "</b>";`, `var a = "</b>"; steal();`, 1)},
	}
	for _, c := range differ {
		got := elementsOf(c.body)
		var extra int
		for _, d := range got {
			if !slices.Contains(base, d) {
				extra++
			}
		}
		if extra != 1 {
			t.Errorf("%s: %v, want one element the page does not have (%v)", c.name, got, base)
		}
	}
	for _, c := range []struct {
		body string
		n    int
	}{
		{"", 0},
		{"no markup", 0},
		{"<script>never closed", 0},
		{`<iframe title="a>b" src=x>`, 1},
		{`<script a='>'>x</script >`, 1},
		{"<script>a</SCRIPT>", 1},
		{"<<script>a</script>", 1},
		{"<script>a<</script>", 1},
		{"<script/>x</script>", 1},
		{"<scrip>t</script>", 0},
	} {
		if got := elementsOf(c.body); len(got) != c.n {
			t.Errorf("%q: %d elements %v, want %d", c.body, len(got), got, c.n)
		}
	}
	var many strings.Builder
	for i := range 100 {
		fmt.Fprintf(&many, "<script>%d</script>", i)
	}
	if got := elementsOf(many.String()); len(got) != model.MaxElements {
		t.Errorf("100 scripts: %d digests, want the bound %d", len(got), model.MaxElements)
	}
}

var digestRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// FuzzElementScanner: bounded, well-formed digests, and the same result
// whatever the chunks the body arrives in.
func FuzzElementScanner(f *testing.F) {
	for _, s := range []string{"<script>x</script>", "<IFRAME src='>'>", "<script a=\"b\">x</scr</script>", "<<script", "<script>\xff</script \x00>"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		whole := elementsOf(string(b))
		if whole == nil || len(whole) > model.MaxElements {
			t.Fatalf("%d digests (nil %v), at most %d", len(whole), whole == nil, model.MaxElements)
		}
		for _, d := range whole {
			if !digestRE.MatchString(d) {
				t.Fatalf("digest %q", d)
			}
		}
		s := NewElementScanner()
		n := int(chunk%16) + 1
		for i := 0; i < len(b); i += n {
			s.Write(b[i:min(i+n, len(b))])
		}
		if got := s.Digests(); !slices.Equal(got, whole) {
			t.Fatalf("in chunks of %d: %v, whole: %v", n, got, whole)
		}
	})
}

// TestHTTPElements: the probe records the digests over the whole body, far
// past the head it keeps, and an empty list for a page without elements.
func TestHTTPElements(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.Timeout = 2 * time.Second })
	pad := strings.Repeat("<p>text</p>\n", 2000) // far past body_head
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<title>P</title><script src=/a.js></script>"+pad+"<script>late()</script></body>")
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<title>Q</title>"+pad) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p := port(srv.Listener.Addr().String())
	for _, c := range []struct {
		path string
		want []string
	}{
		{"/page", elementsOf("<script src=/a.js></script><script>late()</script>")},
		{"/plain", []string{}},
	} {
		m := e.measure(t, "http://www.site.test:"+p+c.path)
		hh := steps(m, model.OpHTTPRoundTrip)
		if len(hh) != 1 || hh[0].HTTP.Elements == nil {
			t.Fatalf("%s: no elements recorded:\n%s", c.path, dump(m))
		}
		if got := *hh[0].HTTP.Elements; !slices.Equal(got, c.want) || len(got) != len(c.want) {
			t.Errorf("%s: elements %v, want %v", c.path, got, c.want)
		}
	}
}

package probe

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/probe/probetest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// volatile fields take a fixed value in golden files.
var volatile = map[string]any{
	"id": "<id>", "started_at": "<time>", "not_before": "<time>", "not_after": "<time>",
	"duration_ms": 0, "runtime_ms": 0, "arrival_ms": 0, "bytes_per_sec": 0, "raw_b64": "<raw>",
	// Certificates are created by each test run.
	"sha256": "<sha256>", "spki_sha256": "<sha256>", "root_sha256": "<sha256>",
	// Depends on the CPU (AES hardware or not).
	"cipher_suite": "<cipher>",
}

var portRE = regexp.MustCompile(`(127\.0\.0\.\d+|site\.test):\d+`)

// normalize rewrites a record's volatile fields (times, ids, ports).
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if fixed, ok := volatile[k]; ok {
				x[k] = fixed
				continue
			}
			x[k] = normalize(e)
		}
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
	case string:
		return portRE.ReplaceAllString(x, "$1:PORT")
	}
	return v
}

func goldenJSON(t *testing.T, m *model.Measurement) []byte {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(normalize(v)); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -run TestGolden -update and review the diff):\n%s", path, got)
	}
}

// TestGolden pins the JSON record: an injected DNS answer (two responses,
// the injected address refusing the connection), a redirect and a page.
func TestGolden(t *testing.T) {
	e := newEnv(t, nil)
	e.p.cfg.Info = model.ProbeInfo{Country: "ZZ", Software: "firewatch/test"}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/home", http.StatusFound) })
	mux.HandleFunc("/home", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "golden")
		io.WriteString(w, "<html><head><title>Golden page</title></head><body>hello</body></html>")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	m := e.measure(t, "http://inject.site.test:"+port(srv.Listener.Addr().String())+"/")
	checkGolden(t, "inject_redirect.json", goldenJSON(t, m))
}

// TestGoldenTLS pins the record of an https target whose chain comes from an
// untrusted CA, and of an SMTP server offering STARTTLS.
func TestGoldenTLS(t *testing.T) {
	e := newEnv(t, nil)
	e.p.cfg.Info = model.ProbeInfo{Country: "ZZ", Software: "firewatch/test"}
	rogue := probetest.NewCA(t, "rogue root")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<title>Forged</title>")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{rogue.Leaf(t, "www.site.test")}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	m := e.measure(t, "https://www.site.test:"+port(srv.Listener.Addr().String())+"/")
	checkGolden(t, "tls_untrusted.json", goldenJSON(t, m))

	cert := e.ca.Leaf(t, "mail.site.test")
	addr := probetest.MailServer{Protocol: "smtp", StartTLS: true, Cert: &cert}.Start(t)
	m = e.measure(t, "smtp://mail.site.test:"+port(addr))
	checkGolden(t, "smtp_starttls.json", goldenJSON(t, m))
}

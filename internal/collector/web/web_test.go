package web_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/collector/web"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
	"github.com/firewatch/firewatch/internal/store/storetest"
)

var testNow = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

const testPassword = "correct horse battery staple"

// newSite serves the dashboard over a store seeded with storetest.Sample.
func newSite(t *testing.T) (*httptest.Server, store.Store) {
	t.Helper()
	st := storetest.Seeded(t, testNow)
	h := web.Handler(st, web.Options{AdminPassword: testPassword, Now: func() time.Time { return testNow },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, st
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (int, http.Header, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOverviewListsBlockedTargetsAndMethods(t *testing.T) {
	srv, _ := newSite(t)
	code, hdr, body := get(t, newClient(t), srv.URL+"/")
	if code != 200 {
		t.Fatalf("GET /: status %d, want 200", code)
	}
	if got := hdr.Get("Content-Security-Policy"); got != web.ContentSecurityPolicy {
		t.Errorf("CSP = %q, want %q", got, web.ContentSecurityPolicy)
	}
	for _, h := range []string{"X-Content-Type-Options", "Referrer-Policy"} {
		if hdr.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
	blocked := section(body, `id="blocked"`, "</table>")
	for _, want := range []string{storetest.TargetDNS, storetest.TargetMITM, storetest.TargetRedirect, storetest.TargetDownload, storetest.TargetMail,
		model.MethodDNSInjected, model.MethodTLSMITM, model.MethodHTTPRedirect, model.MethodDownloadTampered, model.MethodTLSStripped} {
		if !strings.Contains(blocked, want) {
			t.Errorf("blocked table lacks %q", want)
		}
	}
	if strings.Contains(blocked, storetest.TargetOK) {
		t.Errorf("blocked table lists the open target %s", storetest.TargetOK)
	}
	if !strings.Contains(section(body, `id="by-method"`, "</table>"), model.MethodTLSMITM) {
		t.Error("counts by method lack tls.mitm")
	}
	if !strings.Contains(body, `<svg class="chart"`) {
		t.Error("no timeline chart")
	}
	if !strings.Contains(body, `id="count-blocked">5<`) {
		t.Error("blocked count is not 5")
	}
}

// section returns body from the first start marker to the next end marker.
func section(body, start, end string) string {
	i := strings.Index(body, start)
	if i < 0 {
		return ""
	}
	body = body[i:]
	if j := strings.Index(body, end); j >= 0 {
		return body[:j]
	}
	return body
}

func TestTargetPageShowsEvidenceSideBySide(t *testing.T) {
	srv, _ := newSite(t)
	c := newClient(t)
	tests := []struct {
		name    string
		target  string
		inside  []string
		outside []string
	}{
		{"dns injection", storetest.TargetDNS, []string{"A 203.0.113.66 (ttl 60)", `<span class="flag">injected</span>`, "generic_timeout_error"}, []string{"A 192.0.2.10 (ttl 300)", storetest.SampleRootIssuer}},
		{"mitm", storetest.TargetMITM, []string{storetest.SampleCAIssuer, "not verified", "ssl_unknown_authority", "other certificate on the other side"}, []string{storetest.SampleRootIssuer, "verified"}},
		{"redirect", storetest.TargetRedirect, []string{"status 302", "http://blockpage.invalid/denied", "Access denied"}, []string{"status 200", "Redirect Example News"}},
		{"download", storetest.TargetDownload, []string{`<span class="flag">differs</span>`, "0000bad"}, []string{"000900d"}},
		{"mail", storetest.TargetMail, []string{`<span class="bad">not offered</span>`}, []string{`<span class="ok">offered</span>`, "STARTTLS"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := get(t, c, srv.URL+"/target?u="+url.QueryEscape(tc.target))
			if code != 200 {
				t.Fatalf("status %d, want 200: %s", code, body)
			}
			ev := section(body, `id="evidence"`, "Recent measurements")
			if ev == "" {
				t.Fatal("no evidence section")
			}
			ins, outs := sides(ev)
			for _, w := range tc.inside {
				if !strings.Contains(ins, w) {
					t.Errorf("inside column lacks %q", w)
				}
			}
			for _, w := range tc.outside {
				if !strings.Contains(outs, w) {
					t.Errorf("outside column lacks %q", w)
				}
			}
			if !strings.Contains(body, `id="history"`) || !strings.Contains(body, `<svg class="chart"`) {
				t.Error("history table or timeline missing")
			}
			if !strings.Contains(ev, `id="verdict"`) || !strings.Contains(ev, "3 of 3 tries") {
				t.Error("verdict evidence or confidence missing")
			}
		})
	}
}

// sides concatenates the inside and the outside columns of an evidence section.
func sides(ev string) (inside, outside string) {
	parts := strings.Split(ev, `<div class="side `)
	for _, p := range parts[1:] {
		switch {
		case strings.HasPrefix(p, "inside"):
			inside += p
		case strings.HasPrefix(p, "outside"):
			outside += p
		}
	}
	return inside, outside
}

func TestTargetPageChosenMeasurement(t *testing.T) {
	srv, _ := newSite(t)
	c := newClient(t)
	code, _, body := get(t, c, srv.URL+"/target?u="+url.QueryEscape(storetest.TargetDNS)+"&m=m-dns-0")
	if code != 200 || !strings.Contains(body, "m-dns-0") || strings.Contains(section(body, `id="evidence"`, "Recent"), "203.0.113.66") {
		t.Errorf("?m=m-dns-0: status %d; want the older, unblocked measurement's evidence", code)
	}
	code, _, _ = get(t, c, srv.URL+"/target?u="+url.QueryEscape(storetest.TargetDNS)+"&m=m-mitm-0")
	if code != 404 {
		t.Errorf("measurement of another target: status %d, want 404", code)
	}
	code, hdr, _ := get(t, c, srv.URL+"/target?u=mitm.example")
	if code != http.StatusFound || !strings.Contains(hdr.Get("Location"), url.QueryEscape(storetest.TargetMITM)) {
		t.Errorf("bare domain: status %d location %q, want a redirect to the normalized target", code, hdr.Get("Location"))
	}
}

func TestFiltersAndSearch(t *testing.T) {
	srv, _ := newSite(t)
	c := newClient(t)
	tests := []struct {
		path      string
		want, not []string
	}{
		{"/targets?country=IR", []string{storetest.TargetRedirect}, []string{storetest.TargetMITM, storetest.TargetOK}},
		{"/targets?country=ir", []string{storetest.TargetRedirect}, []string{storetest.TargetMITM}},
		{"/targets?asn=AS12389", []string{storetest.TargetDownload, storetest.TargetMail}, []string{storetest.TargetRedirect}},
		{"/targets?method=tls.mitm", []string{storetest.TargetMITM}, []string{storetest.TargetDNS}},
		{"/targets?status=ok", []string{storetest.TargetOK}, []string{storetest.TargetMITM}},
		{"/targets?category=POLR", []string{storetest.TargetRedirect}, []string{storetest.TargetMITM}},
		{"/targets?q=mitm", []string{storetest.TargetMITM}, []string{storetest.TargetDNS, storetest.TargetOK}},
		{"/?country=RU", []string{storetest.TargetMail}, []string{storetest.TargetMITM}},
		{"/events?country=CN", []string{storetest.TargetDNS}, []string{storetest.TargetRedirect}},
		{"/events?method=tls.mitm", []string{storetest.TargetMITM}, []string{storetest.TargetRedirect}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			code, _, body := get(t, c, srv.URL+tc.path)
			if code != 200 {
				t.Fatalf("status %d, want 200", code)
			}
			body = section(body, "<main>", "</main>")
			body = body[strings.Index(body, "</form>"):] // skip the filter form
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("lacks %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("lists %q", n)
				}
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	srv, st := newSite(t)
	c := newClient(t)
	tests := []struct {
		path string
		code int
		want string
	}{
		{"/?asn=abc", 400, "asn"},
		{"/?country=CHN", 400, "two-letter"},
		{"/targets?method=dns.magic", 400, "not a method"},
		{"/events?status=weird", 400, "not a status"},
		{"/targets?page=0", 400, "page"},
		{"/targets?page=x", 400, "page"},
		{"/?q=" + strings.Repeat("a", 300), 400, "longer than 200"},
		{"/target", 400, "missing"},
		{"/target?u=%00", 400, "control characters"},
		{"/target?u=" + url.QueryEscape("https://never-measured.example/"), 404, "No measurement of this target"},
		{"/measurement?id=nope", 404, "No measurement with this id"},
		{"/measurement", 400, "measurement id"},
		{"/feed.atom?country=China", 400, "country"},
		{"/no/such/page", 404, "no page"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			code, _, body := get(t, c, srv.URL+tc.path)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("status %d, want %d with %q; body: %.300s", code, tc.code, tc.want, section(body, "<main>", "</main>"))
			}
		})
	}
	st.Close() // every query now fails
	code, _, body := get(t, c, srv.URL+"/")
	if code != 500 || strings.Contains(body, "closed") {
		t.Errorf("store failure: status %d, body %q; want 500 without internals", code, body)
	}
}

func TestRecoverPanics(t *testing.T) {
	h := web.Recover(slog.New(slog.NewTextHandler(io.Discard, nil)), http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 {
		t.Errorf("status %d, want 500", rec.Code)
	}
}

func TestMeasurementPage(t *testing.T) {
	srv, _ := newSite(t)
	code, _, body := get(t, newClient(t), srv.URL+"/measurement?id=m-mitm-0")
	if code != 200 || !strings.Contains(body, `&#34;schema&#34;: &#34;firewatch.measurement/1&#34;`) {
		t.Errorf("status %d; want the raw JSON, escaped", code)
	}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf token in page")
	}
	return m[1]
}

// signIn signs c in and returns a CSRF token for its session.
func signIn(t *testing.T, srv *httptest.Server, c *http.Client) string {
	t.Helper()
	_, _, body := get(t, c, srv.URL+"/login")
	code, _ := post(t, c, srv.URL+"/login", url.Values{"csrf": {csrfOf(t, body)}, "password": {testPassword}, "next": {"/tokens"}})
	if code != http.StatusSeeOther {
		t.Fatalf("sign-in: status %d, want 303", code)
	}
	_, _, body = get(t, c, srv.URL+"/tokens")
	return csrfOf(t, body)
}

func TestOperatorPagesNeedSignIn(t *testing.T) {
	srv, st := newSite(t)
	anon := newClient(t)
	if code, _ := post(t, anon, srv.URL+"/test-now", url.Values{"target": {"https://x.example/"}}); code != 403 {
		t.Errorf("anonymous test-now: status %d, want 403", code)
	}
	if code, hdr, _ := get(t, anon, srv.URL+"/tokens"); code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/login") {
		t.Errorf("anonymous tokens page: status %d location %q, want a redirect to /login", code, hdr.Get("Location"))
	}
	if code, _ := post(t, anon, srv.URL+"/tokens", url.Values{"name": {"x"}}); code != 403 {
		t.Errorf("anonymous token create: status %d, want 403", code)
	}

	// Wrong password, then a login form without its token.
	_, _, body := get(t, anon, srv.URL+"/login")
	if code, _ := post(t, anon, srv.URL+"/login", url.Values{"csrf": {csrfOf(t, body)}, "password": {"guess"}}); code != 401 {
		t.Errorf("wrong password: status %d, want 401", code)
	}
	if code, _ := post(t, anon, srv.URL+"/login", url.Values{"password": {testPassword}}); code != 403 {
		t.Errorf("login without csrf: status %d, want 403", code)
	}

	if _, _, body := get(t, anon, srv.URL+"/target?u="+url.QueryEscape(storetest.TargetMITM)); strings.Contains(body, `action="/test-now"`) {
		t.Error("anonymous target page shows the test-now form")
	}
	op := newClient(t)
	csrf := signIn(t, srv, op)
	if _, _, body := get(t, op, srv.URL+"/target?u="+url.QueryEscape(storetest.TargetMITM)); !strings.Contains(body, `action="/test-now"`) || !strings.Contains(body, csrf) {
		t.Error("operator's target page lacks the test-now form with its token")
	}
	if code, _ := post(t, op, srv.URL+"/test-now", url.Values{"target": {"https://x.example/"}}); code != 403 {
		t.Errorf("test-now without csrf: status %d, want 403", code)
	}
	if code, _ := post(t, op, srv.URL+"/test-now", url.Values{"target": {"https://x.example/"}, "csrf": {"forged"}}); code != 403 {
		t.Errorf("test-now with a forged csrf: status %d, want 403", code)
	}
	if q, _ := st.Queue(context.Background(), store.Page{}); len(q) != 0 {
		t.Fatalf("queue has %d items after refused requests", len(q))
	}
	code, body := post(t, op, srv.URL+"/test-now", url.Values{"target": {"x.example"}, "csrf": {csrf}})
	if code != 200 || !strings.Contains(body, "Test queued") {
		t.Errorf("test-now: status %d, want 200", code)
	}
	if q, _ := st.Queue(context.Background(), store.Page{}); len(q) != 2 || q[1].Target != "https://x.example/" || q[0].Target != "http://x.example/" { // newest first
		t.Errorf("queue = %+v, want https and http x.example", q)
	}
	// The queue page shows each item's state: taken, leased, done.
	if _, err := st.Dequeue(context.Background(), "agent-1", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	code, _, body = get(t, op, srv.URL+"/queue")
	if code != 200 || !strings.Contains(body, `<tr class="queue-leased">`) || !strings.Contains(body, `<tr class="queue-queued">`) ||
		!strings.Contains(body, "agent-1") || !strings.Contains(body, "1 queued · 1 leased") {
		t.Errorf("queue page: status %d; body %.1500s", code, section(body, "<main>", "</main>"))
	}
	if code, hdr, _ := get(t, newClient(t), srv.URL+"/queue"); code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/login") {
		t.Errorf("anonymous /queue: status %d, want a redirect to sign-in", code)
	}
	if code, _ := post(t, op, srv.URL+"/test-now", url.Values{"target": {"ftp://x.example"}, "csrf": {csrf}}); code != 400 {
		t.Errorf("test-now with a bad target: status %d, want 400", code)
	}
	// A cross-site post is refused even with the token.
	req, _ := http.NewRequest("POST", srv.URL+"/test-now", strings.NewReader(url.Values{"target": {"y.example"}, "csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := op.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("cross-origin test-now: %v %v, want 403", resp.StatusCode, err)
	}

	code, body = post(t, op, srv.URL+"/tokens", url.Values{"name": {"probe-cn-1"}, "csrf": {csrf}})
	secret := section(body, `<pre id="new-secret">`, "</pre>")
	if code != 200 || !strings.Contains(secret, "fw_") {
		t.Fatalf("token create: status %d, no secret shown", code)
	}
	if name, err := st.Authenticate(context.Background(), strings.TrimPrefix(secret, `<pre id="new-secret">`)); err != nil || name != "probe-cn-1" {
		t.Errorf("new token does not authenticate: %q %v", name, err)
	}
	if code, _ := post(t, op, srv.URL+"/tokens", url.Values{"name": {"<bad name>"}, "csrf": {csrf}}); code != 400 {
		t.Errorf("token with a bad name: status %d, want 400", code)
	}
	if code, _ := post(t, op, srv.URL+"/tokens/revoke", url.Values{"name": {"probe-cn-1"}, "csrf": {csrf}}); code != 200 {
		t.Errorf("revoke: status %d, want 200", code)
	}
	if _, err := st.Authenticate(context.Background(), strings.TrimPrefix(secret, `<pre id="new-secret">`)); err == nil {
		t.Error("revoked token still authenticates")
	}
	if code, _ := post(t, op, srv.URL+"/tokens/revoke", url.Values{"name": {"nobody"}, "csrf": {csrf}}); code != 404 {
		t.Errorf("revoke unknown: status %d, want 404", code)
	}
	// Signing out ends the session.
	post(t, op, srv.URL+"/logout", url.Values{"csrf": {csrf}})
	if code, _ := post(t, op, srv.URL+"/test-now", url.Values{"target": {"x.example"}, "csrf": {csrf}}); code != 403 {
		t.Errorf("test-now after sign-out: status %d, want 403", code)
	}
}

func TestCookiesAreStrict(t *testing.T) {
	srv, _ := newSite(t)
	c := newClient(t)
	_, _, body := get(t, c, srv.URL+"/login")
	resp, err := c.PostForm(srv.URL+"/login", url.Values{"csrf": {csrfOf(t, body)}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var found bool
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "fw_session=") && sc != "fw_session=" {
			found = true
			if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
				t.Errorf("session cookie %q lacks HttpOnly or SameSite=Strict", sc)
			}
		}
	}
	if !found {
		t.Error("no session cookie set")
	}
}

func TestSignInDisabledWithoutPassword(t *testing.T) {
	st := storetest.New(t, nil)
	srv := httptest.NewServer(web.Handler(st, web.Options{}))
	defer srv.Close()
	c := newClient(t)
	_, _, body := get(t, c, srv.URL+"/login")
	if !strings.Contains(body, "disabled") {
		t.Error("login page does not say sign-in is disabled")
	}
	if code, _ := post(t, c, srv.URL+"/login", url.Values{"password": {""}}); code != 403 {
		t.Errorf("login with sign-in disabled: status %d, want 403", code)
	}
	code, _, body := get(t, c, srv.URL+"/")
	if code != 200 || !strings.Contains(body, "No target is blocked") {
		t.Errorf("empty store overview: status %d", code)
	}
}

func TestStaticStylesheet(t *testing.T) {
	srv, _ := newSite(t)
	code, hdr, body := get(t, newClient(t), srv.URL+"/static/style.css")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/css") || !strings.Contains(body, ".sbs") {
		t.Errorf("stylesheet: status %d type %q", code, hdr.Get("Content-Type"))
	}
	// Files only: no directory listing, no way out of the directory.
	for _, p := range []string{"/static/", "/static", "/static/./", "/static/../static/", "/static/%2e%2e/web.go", "/static/nope.css", "/static/style.css/"} {
		code, _, body := get(t, newClient(t), srv.URL+p)
		if code == 200 || strings.Contains(body, `href="style.css"`) {
			t.Errorf("GET %s: status %d, body %.200q; want no listing", p, code, body)
		}
	}
}

// TestWithSQLiteStore renders the main pages over the real SQLite store.
func TestWithSQLiteStore(t *testing.T) { checkStorePages(t, seededSQLite(t)) }

// TestWithPostgresStore renders the main pages over PostgreSQL, in a schema
// of its own (fwweb_test), when FIREWATCH_PG_URL names a server.
func TestWithPostgresStore(t *testing.T) {
	base := os.Getenv("FIREWATCH_PG_URL")
	if base == "" {
		t.Skip("set FIREWATCH_PG_URL to render the dashboard over PostgreSQL")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`DROP SCHEMA IF EXISTS fwweb_test CASCADE; CREATE SCHEMA fwweb_test`); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", "fwweb_test")
	u.RawQuery = q.Encode()
	ctx := context.Background()
	st, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Insert(ctx, storetest.Sample(time.Now())); err != nil {
		t.Fatal(err)
	}
	checkStorePages(t, st)
}

func checkStorePages(t *testing.T, st store.Store) {
	t.Helper()
	srv := httptest.NewServer(web.Handler(st, web.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	c := newClient(t)
	code, _, body := get(t, c, srv.URL+"/")
	if code != 200 || !strings.Contains(section(body, `id="blocked"`, "</table>"), storetest.TargetMITM) {
		t.Errorf("overview: status %d, MITM target not listed as blocked", code)
	}
	code, _, body = get(t, c, srv.URL+"/target?u="+url.QueryEscape(storetest.TargetMITM))
	if code != 200 || !strings.Contains(body, storetest.SampleCAIssuer) {
		t.Errorf("target page: status %d, forged issuer missing", code)
	}
	_, _, body = get(t, c, srv.URL+"/feed.atom")
	var f atomFeed
	strictDecode(t, body, &f)
	if len(f.Entries) == 0 || f.Updated == "" {
		t.Errorf("atom feed over the store: %d entries", len(f.Entries))
	}
	_, _, body = get(t, c, srv.URL+"/feed.rss?country=CN")
	var r rssDoc
	strictDecode(t, body, &r)
	if len(r.Channel.Items) == 0 {
		t.Error("rss feed for CN over the store has no item")
	}
	for _, p := range []string{"/targets?status=blocked", "/events", "/measurement?id=m-mitm-0", "/targets?q=mitm&country=CN", "/events?method=tls.mitm"} {
		if code, _, _ := get(t, c, srv.URL+p); code != 200 {
			t.Errorf("%s: status %d", p, code)
		}
	}
}

func TestEveryMethodIsExplained(t *testing.T) {
	srv, _ := newSite(t)
	_, _, body := get(t, newClient(t), srv.URL+"/")
	g := section(body, `id="glossary"`, "</details>")
	for _, m := range model.Methods {
		if !strings.Contains(g, ">"+m+"<") {
			t.Errorf("glossary lacks %s", m)
		}
	}
	if strings.Contains(g, "<dd></dd>") {
		t.Error("a method has no explanation")
	}
}

// signInFrom posts the sign-in form as a client behind a proxy (its address
// in X-Forwarded-For) and returns the status.
func signInFrom(t *testing.T, srv *httptest.Server, c *http.Client, client, password string) int {
	t.Helper()
	do := func(method, body string) (*http.Response, string) {
		req, _ := http.NewRequest(method, srv.URL+"/login", strings.NewReader(body))
		req.Header.Set("X-Forwarded-For", client)
		if method == "POST" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	_, form := do("GET", "")
	resp, _ := do("POST", url.Values{"csrf": {csrfOf(t, form)}, "password": {password}}.Encode())
	return resp.StatusCode
}

// TestSignInLockoutIsPerClient: behind a trusted proxy, an attacker's failed
// sign-ins lock out the attacker only; the operator, from another address,
// signs in at once. Without --trusted-proxy the header is not believed.
func TestSignInLockoutIsPerClient(t *testing.T) {
	st := storetest.New(t, nil)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	proxied := httptest.NewServer(web.Handler(st, web.Options{AdminPassword: testPassword, Logger: quiet,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}))
	defer proxied.Close()

	attacker := newClient(t)
	locked := false
	for range 20 {
		if code := signInFrom(t, proxied, attacker, "198.51.100.66", "guess"); code == http.StatusTooManyRequests {
			locked = true
			break
		}
	}
	if !locked {
		t.Fatal("20 failed sign-ins from one client were never limited")
	}
	if code := signInFrom(t, proxied, attacker, "198.51.100.66", testPassword); code != http.StatusTooManyRequests {
		t.Errorf("the locked-out client's next try: status %d, want 429", code)
	}
	if code := signInFrom(t, proxied, newClient(t), "203.0.113.9", testPassword); code != http.StatusSeeOther {
		t.Errorf("the operator from another address after the attacker's failures: status %d, want 303", code)
	}
	// Spoofing the header from the proxy's view changes nothing: the proxy
	// appends the address it saw, and that one is the client.
	if code := signInFrom(t, proxied, attacker, "203.0.113.9, 198.51.100.66", testPassword); code != http.StatusTooManyRequests {
		t.Errorf("attacker spoofing the operator's address: status %d, want 429", code)
	}

	direct := httptest.NewServer(web.Handler(st, web.Options{AdminPassword: testPassword, Logger: quiet}))
	defer direct.Close()
	for range 20 {
		signInFrom(t, direct, attacker, "198.51.100.66", "guess")
	}
	if code := signInFrom(t, direct, newClient(t), "203.0.113.9", testPassword); code != http.StatusTooManyRequests {
		t.Errorf("without trusted proxies X-Forwarded-For was believed: status %d, want 429 (one client: the peer)", code)
	}
}

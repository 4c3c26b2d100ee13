// Package web is the collector's public dashboard: server-rendered HTML pages
// (overview, targets, a target's history and side-by-side evidence, events,
// raw measurements), Atom and RSS feeds, and the operator pages behind a
// password sign-in ("test now", probe tokens). Everything that came from the
// network is escaped by html/template; pages need no JavaScript and load
// nothing from other origins.
package web

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"github.com/firewatch/firewatch/internal/ratelimit"
	"golang.org/x/time/rate"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is the policy set on every response of the dashboard.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options configures the dashboard.
type Options struct {
	// AdminPassword is the operators' password. Empty disables sign-in, and
	// with it "test now" and the tokens page.
	AdminPassword string
	// SessionKey signs session cookies and CSRF tokens. A random key is made
	// when empty (sessions then end when the process restarts).
	SessionKey []byte
	// PublicURL is the absolute base URL used in feeds ("https://example.org").
	// When empty it is derived from the request's Host.
	PublicURL string
	// SecureCookies sets the Secure attribute on cookies (serve over HTTPS).
	SecureCookies bool
	// TrustedProxies are the reverse proxies in front of the collector:
	// only for requests from them is the client's address taken from
	// X-Forwarded-For (failed sign-ins are limited per client address).
	TrustedProxies []netip.Prefix
	// SessionTTL is how long a sign-in lasts; 12 hours when zero.
	SessionTTL time.Duration
	// Logger receives errors; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// server holds the dashboard's state.
type server struct {
	st     store.Store
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	pages  map[string]*template.Template
	key    []byte
	logins *ratelimit.Keyed // failed sign-ins per client address
}

// Handler returns the dashboard. It serves "/", "/targets", "/target",
// "/events", "/dns", "/measurement", "/feed.atom", "/feed.rss", "/login", "/logout",
// "/test-now", "/queue", "/tokens" and "/static/".
func Handler(st store.Store, opts Options) http.Handler {
	s := &server{st: st, opts: opts, log: opts.Logger, now: opts.Now, key: opts.SessionKey,
		logins: &ratelimit.Keyed{Rate: rate.Every(time.Second), Burst: 5}}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(s.key) == 0 {
		s.key = make([]byte, 32)
		rand.Read(s.key)
	}
	if s.opts.SessionTTL <= 0 {
		s.opts.SessionTTL = 12 * time.Hour
	}
	s.pages = parsePages()

	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", s.staticFiles(static))
	mux.HandleFunc("GET /{$}", s.overview)
	mux.HandleFunc("GET /targets", s.targets)
	mux.HandleFunc("GET /target", s.target)
	mux.HandleFunc("GET /events", s.events)
	mux.HandleFunc("GET /dns", s.dns)
	mux.HandleFunc("GET /measurement", s.measurement)
	mux.HandleFunc("GET /feed.atom", s.feedAtom)
	mux.HandleFunc("GET /feed.rss", s.feedRSS)
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("POST /test-now", s.requireOperator(s.testNow))
	mux.HandleFunc("GET /queue", s.requireOperator(s.queue))
	mux.HandleFunc("GET /tokens", s.requireOperator(s.tokens))
	mux.HandleFunc("POST /tokens", s.requireOperator(s.tokenCreate))
	mux.HandleFunc("POST /tokens/revoke", s.requireOperator(s.tokenRevoke))
	mux.HandleFunc("/", s.notFoundHandler)
	return SecurityHeaders(Recover(s.log, mux))
}

// SecurityHeaders sets the dashboard's Content-Security-Policy and related
// headers on every response of h.
func SecurityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// Recover turns a panic in h into a 500 response and a logged error with
// its stack, so that one bad request never takes the collector down.
func Recover(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil || v == http.ErrAbortHandler {
				if v != nil {
					panic(v)
				}
				return
			}
			log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			http.Error(w, "internal error", http.StatusInternalServerError)
		}()
		h.ServeHTTP(w, r)
	})
}

// staticFiles serves the files of fsys under /static/, and nothing else: a
// directory (or a name that is not a plain path) is not found, never listed.
func (s *server) staticFiles(fsys fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if fi, err := fs.Stat(fsys, name); err != nil || !fs.ValidPath(name) || !fi.Mode().IsRegular() {
			s.notFoundHandler(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		http.ServeFileFS(w, r, fsys, name)
	})
}

// page is what every template receives.
type page struct {
	Title    string
	Operator bool   // signed in
	CSRF     string // token for forms when signed in
	Search   string // search box content
	Nav      string // active navigation item
	Auth     bool   // sign-in is enabled
	Data     any
}

// render executes the named page template with data. It renders into a
// buffer first so that a template error gives a clean 500.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := s.pages[name]
	if !ok {
		s.log.Error("dashboard template missing", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if sess, ok := s.session(r); ok {
		p.Operator = true
		p.CSRF = s.csrfToken(sess.nonce)
	}
	p.Auth = s.opts.AdminPassword != ""
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "base", p); err != nil {
		s.log.Error("dashboard template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// errorPage renders a status page with a message for a person.
func (s *server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error.html", page{Title: http.StatusText(status), Data: struct {
		Status  int
		Text    string
		Message string
	}{status, http.StatusText(status), msg}})
}

func (s *server) notFoundHandler(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusNotFound, "There is no page at this address.")
}

// fail answers a storage or rendering error: 404 for store.ErrNotFound, 503
// when the request was cancelled or timed out, 500 otherwise (logged).
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.errorPage(w, r, http.StatusNotFound, "Not found.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		http.Error(w, "request cancelled or timed out", http.StatusServiceUnavailable)
	default:
		s.log.Error("dashboard error", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

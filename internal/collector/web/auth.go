package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/collector/web/params"
	"github.com/firewatch/firewatch/internal/store"
	"github.com/firewatch/firewatch/internal/target"
)

const (
	sessionCookie = "fw_session"
	loginCookie   = "fw_login"
	operatorName  = "operator"
)

// sessionInfo is a verified session cookie.
type sessionInfo struct {
	nonce   string
	expires time.Time
}

func (s *server) mac(parts ...string) string {
	h := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func randomNonce() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newSession makes a signed session cookie value: nonce.expiry.mac.
func (s *server) newSession() (value string, exp time.Time) {
	exp = s.now().Add(s.opts.SessionTTL)
	nonce := randomNonce()
	e := strconv.FormatInt(exp.Unix(), 10)
	return nonce + "." + e + "." + s.mac("session", nonce, e), exp
}

// session returns the request's valid session, if any.
func (s *server) session(r *http.Request) (sessionInfo, bool) {
	if s.opts.AdminPassword == "" {
		return sessionInfo{}, false
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return sessionInfo{}, false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return sessionInfo{}, false
	}
	if !hmac.Equal([]byte(parts[2]), []byte(s.mac("session", parts[0], parts[1]))) {
		return sessionInfo{}, false
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return sessionInfo{}, false
	}
	exp := time.Unix(sec, 0)
	if !s.now().Before(exp) {
		return sessionInfo{}, false
	}
	return sessionInfo{nonce: parts[0], expires: exp}, true
}

// csrfToken is the form token bound to a session.
func (s *server) csrfToken(nonce string) string { return s.mac("csrf", nonce) }

// checkCSRF verifies the form's csrf field against the session and that a
// browser-sent Origin, if any, is this site.
func (s *server) checkCSRF(r *http.Request, sess sessionInfo) bool {
	if !sameOrigin(r) {
		return false
	}
	got := r.PostFormValue("csrf")
	return got != "" && hmac.Equal([]byte(got), []byte(s.csrfToken(sess.nonce)))
}

// sameOrigin rejects cross-site form posts that name their origin.
func sameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && o != "null" && u.Host == r.Host
}

// setCookie sets a strict, HttpOnly cookie for ttl (0 deletes it).
func (s *server) setCookie(w http.ResponseWriter, name, value string, ttl time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.opts.SecureCookies}
	c.MaxAge = int(ttl / time.Second)
	if c.MaxAge <= 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// requireOperator lets signed-in operators through; others get a sign-in
// page (GET) or 403 (POST). POSTs must carry the session's CSRF token.
func (s *server) requireOperator(h func(http.ResponseWriter, *http.Request, sessionInfo)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		sess, ok := s.session(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, http.StatusForbidden, "Sign in as an operator first.")
			return
		}
		if r.Method == http.MethodPost && !s.checkCSRF(r, sess) {
			s.errorPage(w, r, http.StatusForbidden, "The form's security token is missing or stale: reload the page and try again.")
			return
		}
		h(w, r, sess)
	}
}

type loginData struct {
	Enabled bool
	Next    string
	Token   string
	Error   string
}

// safeNext keeps a post-login redirect on this site.
func safeNext(n string) string {
	if n == "" || !strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") || strings.HasPrefix(n, "/\\") || strings.ContainsAny(n, "\r\n\\") {
		return "/"
	}
	return n
}

func (s *server) loginForm(w http.ResponseWriter, r *http.Request) {
	s.showLogin(w, r, http.StatusOK, "")
}

func (s *server) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d := loginData{Enabled: s.opts.AdminPassword != "", Next: safeNext(r.FormValue("next")), Error: msg}
	if d.Enabled {
		nonce := randomNonce()
		s.setCookie(w, loginCookie, nonce, time.Hour)
		d.Token = s.mac("login", nonce)
	}
	s.render(w, r, status, "login.html", page{Title: "Operator sign-in", Nav: "login", Data: d})
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if s.opts.AdminPassword == "" {
		s.errorPage(w, r, http.StatusForbidden, "Operator sign-in is disabled on this collector.")
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameOrigin(r) || !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(s.mac("login", c.Value))) {
		s.showLogin(w, r, http.StatusForbidden, "The form's security token is missing or stale: try again.")
		return
	}
	client := clientAddr(r, s.opts.TrustedProxies)
	key := clientKey(client)
	// Only failures count, and only against the client that made them: a
	// correct password from another client is never refused.
	if !s.logins.Ready(key) {
		s.showLogin(w, r, http.StatusTooManyRequests, "Too many failed sign-ins from your address: wait a few seconds.")
		return
	}
	if !passwordEqual(r.PostFormValue("password"), s.opts.AdminPassword) {
		s.logins.Allow(key) // spends one of the client's failures
		s.log.Warn("operator sign-in failed", "client", client.String(), "remote", r.RemoteAddr)
		s.showLogin(w, r, http.StatusUnauthorized, "Wrong password.")
		return
	}
	v, _ := s.newSession()
	s.setCookie(w, sessionCookie, v, s.opts.SessionTTL)
	s.setCookie(w, loginCookie, "", 0)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func passwordEqual(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if sess, ok := s.session(r); ok && !s.checkCSRF(r, sess) {
		s.errorPage(w, r, http.StatusForbidden, "The form's security token is missing or stale.")
		return
	}
	s.setCookie(w, sessionCookie, "", 0)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

type queuedData struct {
	Items []store.QueueItem
}

func (s *server) testNow(w http.ResponseWriter, r *http.Request, _ sessionInfo) {
	in := strings.TrimSpace(r.PostFormValue("target"))
	if len(in) > params.MaxTargetLen {
		s.badRequest(w, r, &params.Error{Name: "target", Value: params.Trunc(in, 40), Why: "longer than 2048 characters"})
		return
	}
	ts, err := target.Parse(in)
	if err != nil {
		s.badRequest(w, r, &params.Error{Name: "target", Value: params.Trunc(in, 200), Why: err.Error()})
		return
	}
	var d queuedData
	for _, t := range ts {
		it, err := s.st.Enqueue(r.Context(), t.String(), operatorName)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.Items = append(d.Items, it)
	}
	s.render(w, r, http.StatusOK, "queued.html", page{Title: "Test queued", Data: d})
}

// queueShown is how many of the latest queue items the queue page lists.
const queueShown = 200

type queueData struct {
	Items                          []store.QueueItem
	Waiting, Leased, Expired, Done int
	More                           bool
}

// queue shows the "test now" queue: each item's state (queued, leased,
// lease over, done), its agent and its measurement.
func (s *server) queue(w http.ResponseWriter, r *http.Request, _ sessionInfo) {
	items, err := s.st.Queue(r.Context(), store.Page{Limit: queueShown})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := queueData{Items: items, More: len(items) == queueShown}
	for _, it := range items {
		switch it.State {
		case store.QueueWaiting:
			d.Waiting++
		case store.QueueLeased:
			d.Leased++
		case store.QueueExpired:
			d.Expired++
		case store.QueueDone:
			d.Done++
		}
	}
	s.render(w, r, http.StatusOK, "queue.html", page{Title: "Queue", Nav: "queue", Data: d})
}

type tokensData struct {
	Tokens    []store.Token
	NewName   string
	NewSecret string
	Message   string
}

func (s *server) tokens(w http.ResponseWriter, r *http.Request, _ sessionInfo) {
	s.showTokens(w, r, http.StatusOK, tokensData{})
}

func (s *server) showTokens(w http.ResponseWriter, r *http.Request, status int, d tokensData) {
	ts, err := s.st.ListTokens(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Tokens = ts
	s.render(w, r, status, "tokens.html", page{Title: "Probe tokens", Nav: "tokens", Data: d})
}

// validTokenName reports whether a token name is short and plain.
func validTokenName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.@", c)) {
			return false
		}
	}
	return true
}

func (s *server) tokenCreate(w http.ResponseWriter, r *http.Request, _ sessionInfo) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if !validTokenName(name) {
		s.showTokens(w, r, http.StatusBadRequest, tokensData{Message: "A token name is 1 to 64 letters, digits, '-', '_', '.' or '@'."})
		return
	}
	secret, err := s.st.CreateToken(r.Context(), name)
	if err != nil {
		s.showTokens(w, r, http.StatusBadRequest, tokensData{Message: "Could not create token " + name + ": " + err.Error()})
		return
	}
	s.showTokens(w, r, http.StatusOK, tokensData{NewName: name, NewSecret: secret})
}

func (s *server) tokenRevoke(w http.ResponseWriter, r *http.Request, _ sessionInfo) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	err := s.st.RevokeToken(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		s.showTokens(w, r, http.StatusNotFound, tokensData{Message: "No token named " + name + "."})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.showTokens(w, r, http.StatusOK, tokensData{Message: "Token " + name + " revoked."})
}

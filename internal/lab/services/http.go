// Package services implements the lab's emulated servers: web (http, https,
// and HTTP/3 on UDP for https, advertised with Alt-Svc),
// mail (imap, smtp, pop3 with STARTTLS/STLS and their implicit-TLS ports),
// the authoritative DNS for every scenario name and the recursive resolvers
// (forwarders that answer a little late so an injected answer wins the race).
// Servers take their listeners from the caller, so tests run them on
// 127.0.0.1:0 and the lab runs them on each host's address.
package services

import (
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// Web serves one scenario host's pages over HTTP. Clients whose source
// address lies in Inside get the host's inside behavior (a redirect or other
// pages), the way a service discriminates by the client's location.
type Web struct {
	Host   scenario.Host
	Inside []netip.Prefix
}

// IsInside reports whether addr (host:port or a bare address) lies in one of prefixes.
func IsInside(addr string, prefixes []netip.Prefix) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ServeHTTP answers with the page for r.URL.Path (a redirect for a redirect
// page), a 404 page when there is none.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Server", "firewatch-lab")
	pages := w.Host.Pages
	if w.Host.Inside != nil && IsInside(r.RemoteAddr, w.Inside) {
		if w.Host.Inside.Redirect != "" {
			http.Redirect(rw, r, w.Host.Inside.Redirect, http.StatusFound)
			return
		}
		if len(w.Host.Inside.Pages) > 0 {
			merged := make(map[string]scenario.Page, len(pages)+len(w.Host.Inside.Pages))
			for k, v := range pages {
				merged[k] = v
			}
			for k, v := range w.Host.Inside.Pages {
				merged[k] = v
			}
			pages = merged
		}
	}
	p, ok := pages[r.URL.Path]
	if !ok && r.URL.Path == "/" {
		p, ok = scenario.Page{}, true
	}
	if !ok {
		writePage(rw, r, http.StatusNotFound, "Not Found", "No such page on "+w.primary()+".")
		return
	}
	if p.Redirect != "" {
		http.Redirect(rw, r, p.Redirect, p.RedirectStatus())
		return
	}
	if p.IsFile() {
		rw.Header().Set("Content-Type", "application/octet-stream")
		rw.Header().Set("Content-Length", strconv.FormatInt(p.Size, 10))
		status := p.Status
		if status == 0 {
			status = http.StatusOK
		}
		rw.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = io.Copy(rw, scenario.FileBytes(p.Seed, p.Size))
		}
		return
	}
	title, body := p.Title, p.Body
	if title == "" {
		title = w.primary()
	}
	if body == "" && r.URL.Path == "/" {
		body = "This is " + w.primary() + ", an emulated host of the firewatch lab."
	}
	status := p.Status
	if status == 0 {
		status = http.StatusOK
	}
	writePage(rw, r, status, title, body)
}

func (w *Web) primary() string {
	if len(w.Host.Names) > 0 {
		return w.Host.Names[0]
	}
	return w.Host.IP.String()
}

// Page renders the small HTML page the lab serves for a title and body.
func Page(title, body string) string {
	return fmt.Sprintf("<!DOCTYPE html>\n<html><head><title>%s</title></head>\n<body><h1>%s</h1>\n<p>%s</p>\n</body></html>\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(body))
}

func writePage(rw http.ResponseWriter, r *http.Request, status int, title, body string) {
	s := Page(title, body)
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Content-Length", strconv.Itoa(len(s)))
	rw.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(rw, s)
	}
}

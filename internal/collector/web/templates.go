package web

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
)

// pageFiles are the page templates; each is parsed together with base.html.
var pageFiles = []string{
	"overview.html", "targets.html", "target.html", "events.html", "measurement.html",
	"login.html", "tokens.html", "queued.html", "queue.html", "error.html", "dns.html",
}

var funcs = template.FuncMap{
	"time":     fmtTime,
	"timeptr":  fmtTimePtr,
	"date":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
	"join":     strings.Join,
	"pct":      func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"asn":      fmtASN,
	"ms":       func(f float64) string { return fmt.Sprintf("%.1f ms", f) },
	"bytes":    fmtBytes,
	"add":      func(a, b int) int { return a + b },
	"title":    eventTitle,
	"dnsTitle": dnsEventTitle,
	"orDash":   orDash,
	"explain":  func(m string) string { return methodText[m] },
	"dict2":    func(kind string, s side) sideArg { return sideArg{Kind: kind, Side: s} },
}

// sideArg passes a section kind and one side to the "side" template.
type sideArg struct {
	Kind string
	Side side
}

func parsePages() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, p := range pageFiles {
		out[p] = template.Must(template.New(p).Funcs(funcs).ParseFS(templateFS, "templates/base.html", "templates/partials.html", "templates/"+p))
	}
	return out
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return fmtTime(*t)
}

func fmtASN(n int) string {
	if n == 0 {
		return "AS?"
	}
	return "AS" + strconv.Itoa(n)
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func itoa(n int) string { return strconv.Itoa(n) }

package web

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/collector/web/params"
	"github.com/firewatch/firewatch/internal/store"
)

// Namespaces of the feeds.
const (
	AtomNS = "http://www.w3.org/2005/Atom"
	feedN  = 50
)

type atomFeed struct {
	XMLName   xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID        string      `xml:"id"`
	Title     string      `xml:"title"`
	Subtitle  string      `xml:"subtitle,omitempty"`
	Updated   string      `xml:"updated"`
	Links     []atomLink  `xml:"link"`
	Author    atomPerson  `xml:"author"`
	Generator string      `xml:"generator,omitempty"`
	Entries   []atomEntry `xml:"entry"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	ID         string         `xml:"id"`
	Title      string         `xml:"title"`
	Updated    string         `xml:"updated"`
	Links      []atomLink     `xml:"link"`
	Summary    atomText       `xml:"summary"`
	Categories []atomCategory `xml:"category"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Text string `xml:",chardata"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

type rssDoc struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	AtomNS  string     `xml:"xmlns:atom,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title         string    `xml:"title"`
	Link          string    `xml:"link"`
	Description   string    `xml:"description"`
	AtomLink      atomLink  `xml:"atom:link"`
	LastBuildDate string    `xml:"lastBuildDate"`
	Generator     string    `xml:"generator"`
	Items         []rssItem `xml:"item"`
}

type rssItem struct {
	Title       string   `xml:"title"`
	Link        string   `xml:"link"`
	Description string   `xml:"description"`
	GUID        rssGUID  `xml:"guid"`
	PubDate     string   `xml:"pubDate"`
	Categories  []string `xml:"category"`
}

type rssGUID struct {
	IsPermaLink string `xml:"isPermaLink,attr"`
	Value       string `xml:",chardata"`
}

// feedQuery is a parsed feed request.
type feedQuery struct {
	filter store.Filter
	title  string
	self   url.Values
}

func parseFeedQuery(q url.Values) (feedQuery, error) {
	fq := feedQuery{title: "firewatch: censorship events", self: url.Values{}}
	fd, err := params.ParseFeed(q)
	if err != nil {
		return fq, err
	}
	fq.filter = store.Filter{Target: fd.Target, Country: fd.Country}
	switch {
	case fd.Target != "" && fd.Country != "":
		fq.title = "firewatch: events for " + fd.Target + " in " + fd.Country
	case fd.Target != "":
		fq.title = "firewatch: events for " + fd.Target
	case fd.Country != "":
		fq.title = "firewatch: censorship events in " + fd.Country
	}
	if fd.Target != "" {
		fq.self.Set("target", fd.Target)
	}
	if fd.Country != "" {
		fq.self.Set("country", fd.Country)
	}
	return fq, nil
}

// baseURL is the absolute URL of the site for links in feeds.
func (s *server) baseURL(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return strings.TrimRight(s.opts.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// eventTitle is an event in one line.
func eventTitle(e store.Event) string {
	where := e.Country
	if e.ASN != 0 {
		where += fmt.Sprintf(" (AS%d)", e.ASN)
	}
	switch e.Kind {
	case store.EventBlocked:
		return fmt.Sprintf("%s blocked in %s: %s", e.Target, where, methodsText(e.NewMethods))
	case store.EventUnblocked:
		return fmt.Sprintf("%s unblocked in %s (now %s)", e.Target, where, e.NewStatus)
	case store.EventMethodsChanged:
		return fmt.Sprintf("%s in %s: methods changed from %s to %s", e.Target, where, methodsText(e.OldMethods), methodsText(e.NewMethods))
	case store.EventKeywordBlocked:
		return fmt.Sprintf("keyword %q blocked in %s (%s…): %s", e.Keyword, where, e.Target, methodsText(e.NewMethods))
	case store.EventKeywordUnblocked:
		return fmt.Sprintf("keyword %q unblocked in %s (%s…)", e.Keyword, where, e.Target)
	}
	return fmt.Sprintf("%s in %s: %s → %s", e.Target, where, e.OldStatus, e.NewStatus)
}

func methodsText(ms []string) string {
	if len(ms) == 0 {
		return "no method"
	}
	return strings.Join(ms, ", ")
}

func eventSummary(e store.Event) string {
	return fmt.Sprintf("%s. Status %s → %s; methods %s → %s; confirmed by measurement %s at %s.",
		eventTitle(e), orDash(e.OldStatus), orDash(e.NewStatus), methodsText(e.OldMethods), methodsText(e.NewMethods),
		e.MeasureID, e.At.UTC().Format(time.RFC3339))
}

func orDash(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (s *server) eventLink(base string, e store.Event) string {
	v := url.Values{"u": {e.Target}}
	if e.MeasureID != "" {
		v.Set("m", e.MeasureID)
	}
	return base + "/target?" + v.Encode()
}

// feedItem is one entry of the feeds: a target's status change or a
// domain becoming censored or uncensored by DNS.
type feedItem struct {
	ID, Title, Link, Summary string
	At                       time.Time
	Categories               []string
}

// feedEvents returns the newest feedN events of both kinds, newest first.
func (s *server) feedEvents(w http.ResponseWriter, r *http.Request) (feedQuery, []feedItem, bool) {
	fq, err := parseFeedQuery(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return fq, nil, false
	}
	es, err := s.st.Events(r.Context(), fq.filter, store.Page{Limit: feedN})
	if err != nil {
		s.fail(w, r, err)
		return fq, nil, false
	}
	base := s.baseURL(r)
	items := make([]feedItem, 0, len(es))
	for _, e := range es {
		items = append(items, feedItem{ID: fmt.Sprintf("%s/events#event-%d", base, e.ID), Title: eventTitle(e),
			Link: s.eventLink(base, e), Summary: eventSummary(e), At: e.At, Categories: e.NewMethods})
	}
	if fq.filter.Target == "" { // a target's feed has no DNS events
		des, err := s.st.DNSEvents(r.Context(), store.DNSFilter{Country: fq.filter.Country}, store.Page{Limit: feedN})
		if err != nil {
			s.fail(w, r, err)
			return fq, nil, false
		}
		for _, e := range des {
			items = append(items, feedItem{ID: fmt.Sprintf("%s/dns#dns-event-%d", base, e.ID), Title: dnsEventTitle(e),
				Link: base + "/dns?q=" + url.QueryEscape(e.Domain), Summary: dnsEventSummary(e), At: e.At, Categories: []string{"dns." + e.Kind}})
		}
		sort.SliceStable(items, func(i, j int) bool { return items[i].At.After(items[j].At) })
		if len(items) > feedN {
			items = items[:feedN]
		}
	}
	return fq, items, true
}

func (s *server) feedAtom(w http.ResponseWriter, r *http.Request) {
	fq, es, ok := s.feedEvents(w, r)
	if !ok {
		return
	}
	base := s.baseURL(r)
	self := base + "/feed.atom"
	if len(fq.self) > 0 {
		self += "?" + fq.self.Encode()
	}
	updated := s.now()
	if len(es) > 0 {
		updated = es[0].At
	}
	f := atomFeed{
		ID: self, Title: fq.title, Subtitle: "Confirmed changes in blocking observed by firewatch probes",
		Updated: updated.UTC().Format(time.RFC3339),
		Links: []atomLink{
			{Href: self, Rel: "self", Type: "application/atom+xml"},
			{Href: base + "/events", Rel: "alternate", Type: "text/html"},
		},
		Author: atomPerson{Name: "firewatch"}, Generator: "firewatch",
	}
	for _, e := range es {
		ent := atomEntry{
			ID: e.ID, Title: e.Title,
			Updated: e.At.UTC().Format(time.RFC3339),
			Links:   []atomLink{{Href: e.Link, Rel: "alternate", Type: "text/html"}},
			Summary: atomText{Type: "text", Text: e.Summary},
		}
		for _, m := range e.Categories {
			ent.Categories = append(ent.Categories, atomCategory{Term: m})
		}
		f.Entries = append(f.Entries, ent)
	}
	writeXML(w, "application/atom+xml; charset=utf-8", f)
}

func (s *server) feedRSS(w http.ResponseWriter, r *http.Request) {
	fq, es, ok := s.feedEvents(w, r)
	if !ok {
		return
	}
	base := s.baseURL(r)
	self := base + "/feed.rss"
	if len(fq.self) > 0 {
		self += "?" + fq.self.Encode()
	}
	updated := s.now()
	if len(es) > 0 {
		updated = es[0].At
	}
	doc := rssDoc{Version: "2.0", AtomNS: AtomNS, Channel: rssChannel{
		Title: fq.title, Link: base + "/events", Description: "Confirmed changes in blocking observed by firewatch probes",
		AtomLink:      atomLink{Href: self, Rel: "self", Type: "application/rss+xml"},
		LastBuildDate: updated.UTC().Format(time.RFC1123Z), Generator: "firewatch",
	}}
	for _, e := range es {
		doc.Channel.Items = append(doc.Channel.Items, rssItem{
			Title: e.Title, Link: e.Link, Description: e.Summary,
			GUID:    rssGUID{IsPermaLink: "false", Value: e.ID},
			PubDate: e.At.UTC().Format(time.RFC1123Z), Categories: e.Categories,
		})
	}
	writeXML(w, "application/rss+xml; charset=utf-8", doc)
}

func writeXML(w http.ResponseWriter, ctype string, v any) {
	b, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Write([]byte(xml.Header))
	w.Write(b)
	w.Write([]byte("\n"))
}

package web_test

import (
	"encoding/xml"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/store/storetest"
)

// Strict shapes of the feeds, as a reader would decode them.
type atomFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"http://www.w3.org/2005/Atom id"`
	Title   string   `xml:"http://www.w3.org/2005/Atom title"`
	Updated string   `xml:"http://www.w3.org/2005/Atom updated"`
	Author  []struct {
		Name string `xml:"http://www.w3.org/2005/Atom name"`
	} `xml:"http://www.w3.org/2005/Atom author"`
	Links []struct {
		Href string `xml:"href,attr"`
		Rel  string `xml:"rel,attr"`
	} `xml:"http://www.w3.org/2005/Atom link"`
	Entries []struct {
		ID      string `xml:"http://www.w3.org/2005/Atom id"`
		Title   string `xml:"http://www.w3.org/2005/Atom title"`
		Updated string `xml:"http://www.w3.org/2005/Atom updated"`
		Links   []struct {
			Href string `xml:"href,attr"`
		} `xml:"http://www.w3.org/2005/Atom link"`
		Summary string `xml:"http://www.w3.org/2005/Atom summary"`
	} `xml:"http://www.w3.org/2005/Atom entry"`
}

type rssDoc struct {
	XMLName xml.Name `xml:"rss"`
	Version string   `xml:"version,attr"`
	Channel struct {
		Title       string `xml:"title"`
		Description string `xml:"description"`
		// encoding/xml matches <link> and <atom:link> with one field: split them by namespace.
		Links []struct {
			XMLName xml.Name
			Href    string `xml:"href,attr"`
			Rel     string `xml:"rel,attr"`
			Value   string `xml:",chardata"`
		} `xml:"link"`
		Items []struct {
			Title string `xml:"title"`
			Link  string `xml:"link"`
			GUID  struct {
				IsPermaLink string `xml:"isPermaLink,attr"`
				Value       string `xml:",chardata"`
			} `xml:"guid"`
			PubDate     string `xml:"pubDate"`
			Description string `xml:"description"`
		} `xml:"item"`
	} `xml:"channel"`
}

func strictDecode(t *testing.T, body string, v any) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict = true
	if err := d.Decode(v); err != nil {
		t.Fatalf("decode: %v\n%s", err, body)
	}
}

func absURL(t *testing.T, s string) {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" {
		t.Errorf("%q is not an absolute URL", s)
	}
}

func TestAtomFeedIsValid(t *testing.T) {
	srv, _ := newSite(t)
	c := newClient(t)
	tests := []struct {
		query   string
		minN    int
		mention string
	}{
		{"", 5, storetest.TargetMITM},
		{"?country=CN", 2, storetest.TargetDNS},
		{"?target=" + url.QueryEscape(storetest.TargetRedirect), 1, storetest.TargetRedirect},
		{"?target=" + url.QueryEscape("https://never.example/"), 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			code, hdr, body := get(t, c, srv.URL+"/feed.atom"+tc.query)
			if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/atom+xml") {
				t.Fatalf("status %d type %q", code, hdr.Get("Content-Type"))
			}
			var f atomFeed
			strictDecode(t, body, &f)
			if f.ID == "" || f.Title == "" || f.Updated == "" || len(f.Author) == 0 || f.Author[0].Name == "" {
				t.Errorf("feed id/title/updated/author missing: %+v", f)
			}
			if _, err := time.Parse(time.RFC3339, f.Updated); err != nil {
				t.Errorf("feed updated %q: %v", f.Updated, err)
			}
			var self bool
			for _, l := range f.Links {
				self = self || l.Rel == "self"
			}
			if !self {
				t.Error("no rel=self link")
			}
			if len(f.Entries) < tc.minN {
				t.Errorf("%d entries, want at least %d", len(f.Entries), tc.minN)
			}
			ids := map[string]bool{}
			for _, e := range f.Entries {
				if e.ID == "" || e.Title == "" || e.Updated == "" || len(e.Links) == 0 {
					t.Errorf("entry lacks id/title/updated/link: %+v", e)
					continue
				}
				if ids[e.ID] {
					t.Errorf("duplicate entry id %s", e.ID)
				}
				ids[e.ID] = true
				if _, err := time.Parse(time.RFC3339, e.Updated); err != nil {
					t.Errorf("entry updated %q: %v", e.Updated, err)
				}
				absURL(t, e.Links[0].Href)
				absURL(t, e.ID)
			}
			if tc.mention != "" && !strings.Contains(body, tc.mention) {
				t.Errorf("feed does not mention %s", tc.mention)
			}
		})
	}
}

func TestRSSFeedIsValid(t *testing.T) {
	srv, _ := newSite(t)
	c := newClient(t)
	for _, q := range []string{"", "?country=RU", "?target=" + url.QueryEscape(storetest.TargetMITM) + "&country=CN"} {
		t.Run(q, func(t *testing.T) {
			code, hdr, body := get(t, c, srv.URL+"/feed.rss"+q)
			if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/rss+xml") {
				t.Fatalf("status %d type %q", code, hdr.Get("Content-Type"))
			}
			if !strings.Contains(body, `xmlns:atom="http://www.w3.org/2005/Atom"`) {
				t.Error("atom namespace not declared")
			}
			var d rssDoc
			strictDecode(t, body, &d)
			ch := d.Channel
			var link, self string
			for _, l := range ch.Links {
				switch l.XMLName.Space {
				case "":
					link = l.Value
				case "http://www.w3.org/2005/Atom":
					if l.Rel == "self" {
						self = l.Href
					}
				}
			}
			if d.Version != "2.0" || ch.Title == "" || link == "" || ch.Description == "" {
				t.Errorf("rss version/channel title/link/description missing: %+v", d)
			}
			absURL(t, link)
			if self == "" {
				t.Errorf("atom:link rel=self missing: %+v", ch.Links)
			}
			if len(ch.Items) == 0 {
				t.Fatal("no items")
			}
			for _, it := range ch.Items {
				if it.Title == "" || it.GUID.Value == "" || it.PubDate == "" {
					t.Errorf("item lacks title/guid/pubDate: %+v", it)
				}
				if _, err := time.Parse(time.RFC1123Z, it.PubDate); err != nil {
					t.Errorf("pubDate %q is not RFC 1123Z: %v", it.PubDate, err)
				}
				absURL(t, it.Link)
			}
		})
	}
}

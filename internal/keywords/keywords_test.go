package keywords

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

// substrCensor blocks every value containing one of its keywords.
type substrCensor struct {
	keywords []string
	evaded   map[string]bool // mutations that get through
	checks   atomic.Int64
}

func (c *substrCensor) Check(_ context.Context, _, value, mutation string) Outcome {
	c.checks.Add(1)
	if mutation != "" && c.evaded[mutation] {
		return Outcome{Status: StatusOK}
	}
	for _, k := range c.keywords {
		if strings.Contains(value, k) {
			return Outcome{Status: StatusBlocked, Methods: []string{model.MethodHTTPReset}}
		}
	}
	return Outcome{Status: StatusOK}
}

func TestIsolate(t *testing.T) {
	tests := []struct {
		name     string
		keywords []string
		value    string
		want     []string
	}{
		{"one", []string{"falun"}, "/news/falun-gong", []string{"falun"}},
		{"two among others", []string{"falun", "tibet"}, "/search?q=weather+falun+cats+tibet+dogs", []string{"falun", "tibet"}},
		{"repeated", []string{"tibet"}, "/tibet/tibet", []string{"tibet"}},
		{"adjacent", []string{"ab", "cd"}, "xabcdx", []string{"ab", "cd"}},
		{"overlapping", []string{"falun", "lung"}, "/falung", []string{"falun", "lung"}},
		{"whole value", []string{"x"}, "x", []string{"x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &substrCensor{keywords: tc.keywords}
			got, err := Isolate(context.Background(), c, FieldPath, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("got %q, want %q (%d checks)", got, want, c.checks.Load())
			}
		})
	}
}

func TestIsolateNotBlocked(t *testing.T) {
	_, err := Isolate(context.Background(), &substrCensor{keywords: []string{"zzz"}}, FieldHost, "www.example.org")
	if err == nil || !strings.Contains(err.Error(), "nothing to isolate") {
		t.Fatalf("err %v, want nothing to isolate", err)
	}
}

func TestIsolateChecksAreLogarithmic(t *testing.T) {
	value := strings.Repeat("a", 500) + "falun" + strings.Repeat("b", 500)
	c := &substrCensor{keywords: []string{"falun"}}
	if _, err := Isolate(context.Background(), c, FieldPath, value); err != nil {
		t.Fatal(err)
	}
	if n := c.checks.Load(); n > 30 {
		t.Errorf("%d checks for one keyword in 1005 bytes, want at most 30", n)
	}
}

func TestEvasions(t *testing.T) {
	c := &substrCensor{keywords: []string{"falun"}, evaded: map[string]bool{MutTLSRecordFrag: true}}
	got := Evasions(context.Background(), c, FieldSNI, "www.falundafa.org")
	want := []Evasion{{MutCase, false}, {MutSNISplit, false}, {MutTLSRecordFrag, true}, {MutTrailingDot, false}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestReadWords(t *testing.T) {
	in := "falun\n\n# comment\n  tibet  \nbad\xff\xfe\nfalun\n" + strings.Repeat("x", 300) + "\nok\n"
	words, bad, err := ReadWords(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"falun", "tibet", "ok"}; !slices.Equal(words, want) {
		t.Errorf("words %q, want %q", words, want)
	}
	if len(bad) != 2 || bad[0].Line != 5 || bad[1].Line != 7 {
		t.Errorf("bad lines %+v, want lines 5 and 7", bad)
	}
}

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		field, text, wantErr, word, wantValue string
	}{
		{FieldPath, "http://news.example/search?q={}", "", "a b", "/search?q=a+b"},
		{FieldPath, "http://news.example/{}", "", "falun", "/falun"},
		{FieldPath, "http://news.example?q={}", "", "x", "/?q=x"},
		{FieldPath, "http://news.example/search", "has no {}", "", ""},
		{FieldPath, "http://{}.example/", "must be in the path", "", ""},
		{FieldPath, "https://news.example/{}", "want an http:// URL", "", ""},
		{FieldSNI, "{}.example.com", "", "falun", "falun.example.com"},
		{FieldDNS, "{}{}.example.com", "has 2 {}", "", ""},
	}
	for _, tc := range tests {
		tpl, err := ParseTemplate(tc.field, tc.text)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want %q", tc.text, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.text, err)
			continue
		}
		if got := tpl.Value(tc.word); got != tc.wantValue {
			t.Errorf("%s with %q: %q, want %q", tc.text, tc.word, got, tc.wantValue)
		}
	}
}

func TestTestWords(t *testing.T) {
	var words, blocked []string
	for i := range 1000 {
		w := "word" + strings.Repeat("z", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		words = append(words, w)
	}
	for i := 0; i < 1000; i += 50 {
		blocked = append(blocked, words[i])
	}
	c := &substrCensor{keywords: blocked}
	tpl, _ := ParseTemplate(FieldPath, "http://news.example/search?q={}&x=1")
	res := TestWords(context.Background(), c, tpl, words, 16)
	var got []string
	for _, r := range res {
		if r.Status == StatusBlocked {
			got = append(got, r.Word)
		}
	}
	if !slices.Equal(got, blocked) {
		t.Errorf("%d blocked words reported, want the %d declared", len(got), len(blocked))
	}
}

func TestCompare(t *testing.T) {
	ok200 := seen{Status: 200, Title: "News"}
	tests := []struct {
		name       string
		field      string
		in, ctl    seen
		wantStatus string
		wantMethod string
	}{
		{"reset", FieldPath, seen{Failure: failure.ConnectionReset}, ok200, StatusBlocked, model.MethodHTTPReset},
		{"timeout", FieldPath, seen{Failure: failure.GenericTimeout}, ok200, StatusBlocked, model.MethodHTTPTimeout},
		{"same page", FieldPath, ok200, ok200, StatusOK, ""},
		{"block page", FieldPath, seen{Status: 403, Title: "Blocked"}, ok200, StatusBlocked, model.MethodHTTPBlockpage},
		{"redirect", FieldHost, seen{Status: 302, Location: "http://warning.example/"}, ok200, StatusBlocked, model.MethodHTTPRedirect},
		{"control failed too", FieldPath, seen{Failure: failure.ConnectionReset}, seen{Failure: failure.ConnectionReset}, StatusError, ""},
		{"unreachable inside", FieldPath, seen{Failure: failure.ConnectionRefused, Connect: true}, ok200, StatusError, ""},
		{"sni reset", FieldSNI, seen{Failure: failure.ConnectionReset}, seen{TLS: "handshake"}, StatusBlocked, model.MethodTLSReset},
		{"sni alert", FieldSNI, seen{TLS: "alert"}, seen{TLS: "handshake"}, StatusOK, ""},
		{"dns nxdomain", FieldDNS, seen{Rcode: "NXDOMAIN", Answers: 1}, seen{Rcode: "NOERROR", Addrs: []string{"203.0.113.9"}, Answers: 1}, StatusBlocked, model.MethodDNSNXDomain},
		{"dns injected", FieldDNS, seen{Rcode: "NOERROR", Addrs: []string{"10.0.0.1"}, Answers: 2}, seen{Rcode: "NOERROR", Addrs: []string{"203.0.113.9"}, Answers: 1}, StatusBlocked, model.MethodDNSInjected},
		{"dns both nxdomain", FieldDNS, seen{Rcode: "NXDOMAIN", Answers: 1}, seen{Rcode: "NXDOMAIN", Answers: 1}, StatusOK, ""},
		{"dns same", FieldDNS, seen{Rcode: "NOERROR", Addrs: []string{"203.0.113.9"}, Answers: 1}, seen{Rcode: "NOERROR", Addrs: []string{"203.0.113.9"}, Answers: 1}, StatusOK, ""},
	}
	for _, tc := range tests {
		o := compare(tc.field, tc.in, tc.ctl)
		method := ""
		if len(o.Methods) > 0 {
			method = o.Methods[0]
		}
		if o.Status != tc.wantStatus || method != tc.wantMethod {
			t.Errorf("%s: %s %q, want %s %q", tc.name, o.Status, method, tc.wantStatus, tc.wantMethod)
		}
	}
}

func FuzzReadWords(f *testing.F) {
	f.Add([]byte("falun\ntibet\n# c\n\xff\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		words, bad, err := ReadWords(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for _, w := range words {
			if w == "" || len(w) > maxWordBytes || strings.TrimSpace(w) != w {
				t.Fatalf("bad word %q", w)
			}
		}
		for _, l := range bad {
			if l.Line < 1 {
				t.Fatalf("bad line number %d", l.Line)
			}
		}
	})
}

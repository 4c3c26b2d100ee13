package target

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string // normalized URLs
		port    int
		wantErr string
	}{
		{in: "https://www.Example.COM", want: []string{"https://www.example.com/"}, port: 443},
		{in: "example.com", want: []string{"https://example.com/", "http://example.com/"}, port: 443},
		{in: "example.com/path?q=1", want: []string{"https://example.com/path?q=1", "http://example.com/path?q=1"}, port: 443},
		{in: "HTTP://example.com:8080/a#frag", want: []string{"http://example.com:8080/a"}, port: 8080},
		{in: "http://example.com:80/", want: []string{"http://example.com/"}, port: 80},
		{in: "https://bücher.example/", want: []string{"https://xn--bcher-kva.example/"}, port: 443},
		{in: "imap://mail.example", want: []string{"imap://mail.example/"}, port: 143},
		{in: "imaps://mail.example", want: []string{"imaps://mail.example/"}, port: 993},
		{in: "smtp://mail.example", want: []string{"smtp://mail.example/"}, port: 25},
		{in: "submission://mail.example", want: []string{"submission://mail.example/"}, port: 587},
		{in: "smtps://mail.example", want: []string{"smtps://mail.example/"}, port: 465},
		{in: "pop3://mail.example", want: []string{"pop3://mail.example/"}, port: 110},
		{in: "pop3s://mail.example:1995", want: []string{"pop3s://mail.example:1995/"}, port: 1995},
		{in: "http://[2001:db8::1]/", want: []string{"http://[2001:db8::1]/"}, port: 80},
		{in: "http://192.0.2.1:8080", want: []string{"http://192.0.2.1:8080/"}, port: 8080},
		{in: "", wantErr: "empty target"},
		{in: "ftp://example.com/", wantErr: "unsupported scheme"},
		{in: "http://", wantErr: "no host"},
		{in: "http://exa mple.com/", wantErr: "malformed"},
		{in: "http://example.com:99999/", wantErr: "bad port"},
		{in: "http://user:pw@example.com/", wantErr: "user info"},
		{in: "http://a..b/", wantErr: "bad host"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			ts, err := Parse(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q) error %v, want containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			var got []string
			for _, x := range ts {
				got = append(got, x.String())
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("Parse(%q) = %v, want %v", tc.in, got, tc.want)
			}
			if ts[0].Port != tc.port || ts[0].Input != tc.in {
				t.Errorf("port %d input %q, want %d %q", ts[0].Port, ts[0].Input, tc.port, tc.in)
			}
		})
	}
}

func readAll(lr *ListReader) ([]Target, error) {
	var out []Target
	for {
		ts, err := lr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ts...)
	}
}

func TestListReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []string
		cat     string
		wantErr string
	}{
		{name: "citizen lab with header",
			in:   "url,category_code,category_description,date_added,source,notes\nhttps://www.skype.com/,COMT,Communication Tools,2014-04-15,citizenlab,\nhttp://example.org/,NEWS,News,2020-01-01,,\"a, b\"\n",
			want: []string{"https://www.skype.com/", "http://example.org/"}, cat: "COMT"},
		{name: "citizen lab without header",
			in:   "https://www.skype.com/,COMT,Communication Tools,2014-04-15,citizenlab,\n",
			want: []string{"https://www.skype.com/"}, cat: "COMT"},
		{name: "byte order mark and CRLF",
			in:   "\ufeffurl,category_code,category_description,date_added,source,notes\r\nhttps://www.skype.com/,COMT,Communication Tools,2014-04-15,citizenlab,\r\n",
			want: []string{"https://www.skype.com/"}, cat: "COMT"},
		{name: "one per line", in: "# comment\nexample.com\n\nimaps://mail.example\nhttp://a.example/?x=1,2\n",
			want: []string{"https://example.com/", "http://example.com/", "imaps://mail.example/", "http://a.example/?x=1,2"}},
		{name: "empty", in: "", wantErr: "list.csv: list holds no target"},
		{name: "only comments", in: "# nothing\n\n", wantErr: "no target"},
		{name: "wrong columns", in: "url,category_code,category_description,date_added,source,notes\nhttps://a.example/,X,Y,Z\n", wantErr: "list.csv:2: 4 columns, want 6"},
		{name: "bad url on line 3", in: "https://a.example/\nhttps://b.example/\nftp://c.example/\n", wantErr: "list.csv:3: unsupported scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := readAll(NewListReader(strings.NewReader(tc.in), "list.csv"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range ts {
				got = append(got, x.String())
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if ts[0].Category != tc.cat || ts[0].Line == 0 {
				t.Errorf("category %q line %d, want %q and a line", ts[0].Category, ts[0].Line, tc.cat)
			}
		})
	}
	if _, err := NewListReader(strings.NewReader(""), "x").Next(); !errors.Is(err, ErrEmptyList) {
		t.Errorf("empty list: %v, want ErrEmptyList", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"example.com", "https://bücher.example/a?b#c", "imap://[::1]:143", "http://a:0/", "xn--", "http://%zz/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := Parse(s)
		if err != nil {
			return
		}
		for _, x := range ts {
			if x.URL == nil || x.Host == "" || x.Port < 1 || x.Port > 65535 || DefaultPorts[x.Scheme] == 0 {
				t.Fatalf("Parse(%q) = %+v", s, x)
			}
			// Normalizing is idempotent.
			again, err := Parse(x.String())
			if err != nil || len(again) != 1 || again[0].String() != x.String() {
				t.Fatalf("Parse(%q) = %q, reparsed %v %v", s, x.String(), again, err)
			}
		}
	})
}

func FuzzListReader(f *testing.F) {
	f.Add("url,category_code,category_description,date_added,source,notes\nhttps://a.example/,X,Y,Z,W,V\n")
	f.Add("example.com\n# c\nhttp://b.example\n")
	f.Add("\"unterminated\n")
	f.Fuzz(func(t *testing.T, s string) {
		lr := NewListReader(strings.NewReader(s), "fuzz")
		for i := 0; i < 10000; i++ {
			ts, err := lr.Next()
			if err != nil {
				if err != io.EOF && !strings.HasPrefix(err.Error(), "fuzz") {
					t.Fatalf("error %q does not name the list", err)
				}
				return
			}
			if len(ts) == 0 {
				t.Fatal("no target and no error")
			}
		}
	})
}

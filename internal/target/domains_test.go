package target

import (
	"io"
	"strconv"
	"strings"
	"testing"
)

func TestDomainReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string // "domain@line"
		bad  []string // substrings of the reported errors
	}{
		{"plain", "\ufeffExample.COM\n\n# comment\nwww.example.org.\nbücher.example\n", []string{"example.com@1", "www.example.org@4", "xn--bcher-kva.example@5"}, nil},
		{"tranco", "1,google.com\n2,Facebook.com\r\n3,\n", []string{"google.com@1", "facebook.com@2"}, []string{":3: no domain"}},
		{"citizenlab", "url,category_code,category_description,date_added,source,notes\nhttps://www.example.com/path,NEWS,News,2020-01-01,,\nhttp://example.net:8080/,HUMR,x,2020,,\n", []string{"www.example.com@2", "example.net@3"}, nil},
		{"urls and paths", "https://a.example/x\nb.example/path?q=1\n", []string{"a.example@1", "b.example@2"}, nil},
		{"bad lines skipped", "good.example\nbad..example\n192.0.2.1\nftp://x.example/\nok.example\n", []string{"good.example@1", "ok.example@5"}, []string{":2: ", ":3: ", ":4: "}},
		{"no final newline", "a.example\nb.example", []string{"a.example@1", "b.example@2"}, nil},
		{"overlong line", "a.example\n" + strings.Repeat("x", maxDomainLine+10) + "\nb.example\n", []string{"a.example@1", "b.example@3"}, []string{":2: line longer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dr := NewDomainReader(strings.NewReader(tt.in), "list")
			var bad []string
			dr.Bad = func(err error) { bad = append(bad, err.Error()) }
			var got []string
			for {
				d, line, err := dr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, d+"@"+strconv.Itoa(line))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if len(bad) != len(tt.bad) || dr.Skipped() != len(tt.bad) {
				t.Fatalf("bad lines %q, want %d", bad, len(tt.bad))
			}
			for i, b := range tt.bad {
				if !strings.Contains(bad[i], b) || !strings.HasPrefix(bad[i], "list:") {
					t.Errorf("bad line error %q, want %q", bad[i], b)
				}
			}
		})
	}
}

func FuzzDomainReader(f *testing.F) {
	f.Add("example.com\n1,a.example\nhttps://b.example/,X,y,z,,\n")
	f.Add("url\n\xff\xfe\n,,,\n")
	f.Fuzz(func(t *testing.T, in string) {
		dr := NewDomainReader(strings.NewReader(in), "fuzz")
		for i := 0; i < 10000; i++ {
			d, _, err := dr.Next()
			if err != nil {
				return
			}
			if d == "" || strings.ContainsAny(d, " /:,") {
				t.Fatalf("bad domain %q from %q", d, in)
			}
		}
	})
}

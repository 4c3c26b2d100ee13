package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/trace"
)

func TestPrintTrace(t *testing.T) {
	hop, r1 := 2, "198.51.100.1"
	inPath := trace.InPath
	tests := []struct {
		name string
		res  trace.Result
		want []string
	}{
		{"located", trace.Result{Target: "http://a.example/", Method: "http.reset", CensorHop: &hop, Placement: &inPath, ServerHops: 4,
			Hops: []trace.Hop{{TTL: 1, Router: &r1}, {TTL: 2, Interference: true}}},
			[]string{"http://a.example/: http.reset", " 1  198.51.100.1", " 2  *                 interference", "censor at hop 2 (in-path); the server is 4 hops away"}},
		{"placement unknown", trace.Result{Target: "https://f.example/", Method: "dns.inconsistent", CensorHop: &hop, ServerHops: 4},
			[]string{"censor at hop 2 (placement unknown: the server runs no such service"}},
		{"nothing", trace.Result{Target: "http://b.example/", Method: "http.reset"},
			[]string{"no interference seen on the replayed exchange; the server never answered"}},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		printTrace(&b, &tc.res)
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, b.String())
			}
		}
	}
}

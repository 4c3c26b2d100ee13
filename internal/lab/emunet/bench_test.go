package emunet

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/lab/verify"
	"github.com/firewatch/firewatch/scenarios"
)

// BenchmarkEmulatedScenario runs the expect list of sni-reset.yaml (9
// entries: resets on SNI and in HTTP, retests, healthy sites) on a fresh
// emulated lab per iteration, as TestShippedScenarios does.
func BenchmarkEmulatedScenario(b *testing.B) {
	sc, err := scenario.ParseFS(scenarios.FS, "sni-reset.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		n, err := New(sc, Options{ThrottleScale: 4, LinkRate: 10 << 20})
		if err != nil {
			b.Fatal(err)
		}
		check, err := n.Checker(CheckOptions{})
		if err != nil {
			b.Fatal(err)
		}
		verify.All(context.Background(), sc.Expect, check, len(sc.Expect), func(r verify.Result) {
			if !r.Pass {
				b.Errorf("%s: got %s", r.Target, r.Got)
			}
		})
		n.Close()
	}
}

// BenchmarkEmulatedHTTP is one HTTP request from the inside across the
// emulated censor, whose reset rule reads the start of the stream.
func BenchmarkEmulatedHTTP(b *testing.B) {
	sc, err := scenario.ParseFS(scenarios.FS, "sni-reset.yaml")
	if err != nil {
		b.Fatal(err)
	}
	n := startNet(b, sc)
	h, ok := sc.HostByName("news.example")
	if !ok {
		b.Fatal("no news.example")
	}
	client := &http.Client{Transport: &http.Transport{DialContext: n.Inside().DialContext, DisableKeepAlives: true}}
	url := "http://" + h.IP.String() + "/"
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

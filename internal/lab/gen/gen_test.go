package gen

import (
	"bytes"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/scenarios"
)

func generate(t *testing.T, o Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, o); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGenerated: the file parses as a scenario, has the mix's counts of
// each expectation, and the same seed gives the same bytes.
func TestGenerated(t *testing.T) {
	mix, err := ParseMix(DefaultMix + ",throttle=2")
	if err == nil {
		t.Fatal("throttle given twice was accepted")
	}
	mix, err = ParseMix("blackhole=10,dns=10,reset=5,mitm=5,blockpage=5,throttle=2,down=5,ok=58")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 7, 300, 1000, 20000} {
		data := generate(t, Options{Targets: n, Mix: mix, Seed: 42})
		sc, err := scenario.Parse("gen.yaml", data)
		if err != nil {
			t.Fatalf("%d targets: %v", n, err)
		}
		if len(sc.Expect) != n {
			t.Errorf("%d targets: %d expect entries", n, len(sc.Expect))
		}
		if len(sc.Hosts) > hostAddrs {
			t.Errorf("%d targets: %d host addresses, more than %d", n, len(sc.Hosts), hostAddrs)
		}
		got := map[string]int{}
		for _, e := range sc.Expect {
			got[e.Status+" "+strings.Join(e.Methods, ",")]++
		}
		c := mix.Counts(n)
		want := map[string]int{
			"blocked tcp.timeout": c[Blackhole],
			"blocked http.reset":  -1, "blocked tls.reset": -1, // split by scheme
			"blocked tls.mitm": c[MITM], "blocked http.blockpage": c[Blockpage],
			"blocked throttled": c[Throttle], "down ": c[Down], "ok ": c[OK],
		}
		for k, w := range want {
			if w >= 0 && got[k] != w {
				t.Errorf("%d targets: %d %q, want %d", n, got[k], k, w)
			}
		}
		if r := got["blocked http.reset"] + got["blocked tls.reset"]; r != c[Reset] {
			t.Errorf("%d targets: %d resets, want %d", n, r, c[Reset])
		}
		if d := got["blocked dns.inconsistent"] + got["blocked dns.bogon"]; d != c[DNS] {
			t.Errorf("%d targets: %d dns, want %d", n, d, c[DNS])
		}
		if again := generate(t, Options{Targets: n, Mix: mix, Seed: 42}); !bytes.Equal(again, data) {
			t.Errorf("%d targets: the same seed gave another file", n)
		}
		if n > 1 && bytes.Equal(generate(t, Options{Targets: n, Mix: mix, Seed: 43}), data) {
			t.Errorf("%d targets: another seed gave the same file", n)
		}
	}
}

func TestCounts(t *testing.T) {
	m, err := ParseMix(DefaultMix)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Counts(1000)
	want := map[string]int{Blackhole: 100, DNS: 100, Reset: 50, MITM: 50, Blockpage: 50, Throttle: 0, Down: 50, OK: 600}
	for k, w := range want {
		if c[k] != w {
			t.Errorf("%s: %d, want %d", k, c[k], w)
		}
	}
	sum := 0
	for _, v := range m.Counts(7) {
		sum += v
	}
	if sum != 7 {
		t.Errorf("7 targets split into %d", sum)
	}
}

func TestParseMixErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ok=1,bogus=2", `unknown technique "bogus"`},
		{"ok", "is not technique=weight"},
		{"ok=-1", "is not an integer"},
		{"ok=x", "is not an integer"},
		{"ok=0", "add up to 0"},
		{"", "add up to 0"},
		{"ok=1,ok=2", "given twice"},
	} {
		_, err := ParseMix(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseMix(%q): %v, want an error saying %q", tc.in, err, tc.want)
		}
	}
	if err := Write(&bytes.Buffer{}, Options{Targets: 0}); err == nil {
		t.Error("0 targets accepted")
	}
}

func FuzzParseMix(f *testing.F) {
	f.Add(DefaultMix)
	f.Add("ok=1,,dns = 3")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMix(s)
		if err != nil {
			return
		}
		sum := 0
		for _, v := range m.Counts(101) {
			sum += v
		}
		if sum != 101 {
			t.Fatalf("%q: 101 targets split into %d", s, sum)
		}
	})
}

// TestShippedGenerated: scenarios/generated-300.yaml is exactly what
// `firewatch lab gen --targets 300 --seed 1` writes (never edited by hand).
func TestShippedGenerated(t *testing.T) {
	shipped, err := scenarios.FS.ReadFile("generated-300.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := generate(t, Options{Targets: 300, Seed: 1}); !bytes.Equal(got, shipped) {
		t.Error("scenarios/generated-300.yaml differs from `firewatch lab gen --targets 300 --seed 1`: regenerate it")
	}
}

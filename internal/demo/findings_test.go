package demo

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/model"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// seedRecords are two rounds of the seed's incidents as the probe records them.
func seedRecords() []*model.Measurement {
	var ms []*model.Measurement
	for r, at := range []int{0, 60} {
		d := secs(at)
		id := func(s string) string { return s + "-" + string(rune('1'+r)) }
		ms = append(ms,
			withEvidence(rec(id("a"), "http://www.skype.com/", model.StatusBlocked, d, model.MethodHTTPRedirect), 3, 3,
				"http://www.skype.com/ redirects to http://skype.tom.example/ inside; outside it answers 200 \"Skype\""),
			withEvidence(rec(id("b"), "https://www.skype.com/", model.StatusBlocked, d, model.MethodSiteRedirect), 3, 3),
			withEvidence(rec(id("c"), "imaps://mail.example.com/", model.StatusBlocked, d, model.MethodTLSMITM), 3, 3,
				"mail.example.com:993 presents a chain issued by \"Rogue CA\" inside; outside \"Lab Public CA\""),
			withEvidence(rec(id("d"), "https://mail.example.com/", model.StatusOK, d), 0, 0),
			withEvidence(rec(id("e"), "https://www.facebook.com/", model.StatusBlocked, d, model.MethodDNSInconsistent), 2, 3,
				"www.facebook.com → 203.0.113.50 inside, 203.0.113.40 outside; 203.0.113.50 presents a certificate for korea-gov.example"),
			withFailedStep(rec(id("f"), "http://down.example/", model.StatusDown, d), model.OpConnect, "203.0.113.110:80", "connection_refused"),
			withFailedStep(rec(id("g"), "imaps://mail.example.net/", model.StatusMeasured, d), model.OpConnect, "203.0.113.30:993", timeout),
			withEvidence(rec(id("h"), "http://www.falundafa.org/", model.StatusBlocked, d, model.MethodHTTPReset, model.MethodTCPReset), 3, 3,
				"the request to www.falundafa.org was cut by a reset\x1b[31m after it was sent\r\nand a very long tail that goes on and on and on until it must be cut off somewhere"),
			withEvidence(rec(id("i"), "http://news.example/", model.StatusOK, d), 0, 0),
		)
	}
	// A glitch in round 1 that round 2 no longer shows: the latest wins.
	ms[3] = withEvidence(rec("d-1", "https://mail.example.com/", model.StatusBlocked, 0, model.MethodTLSReset), 1, 3)
	// A weak verdict (no control) and an error with its reason.
	w := withEvidence(rec("j", "https://www.google.example/", model.StatusBlocked, secs(61), model.MethodTLSMITM), 3, 3,
		"www.google.example:443 chains to \"Rogue CA\"")
	w.Verdict.Weak = true
	e := rec("k", "https://www.wikipedia.example/", model.StatusError, secs(62))
	e.Verdict = &model.Verdict{Reason: "the control did not answer"}
	return append(ms, w, e)
}

func TestFindingsGolden(t *testing.T) {
	order := []string{"http://www.skype.com/", "https://www.skype.com/", "imaps://mail.example.com/", "https://mail.example.com/",
		"https://www.facebook.com/", "imaps://mail.example.net/", "https://www.google.example/", "http://www.falundafa.org/",
		"https://www.wikipedia.example/", "http://news.example/", "http://down.example/"}
	fs := Findings(seedRecords(), order)
	var b bytes.Buffer
	if err := WriteFindings(&b, fs); err != nil {
		t.Fatal(err)
	}
	golden(t, "findings.golden", b.Bytes())
	if strings.ContainsRune(b.String(), '\x1b') || strings.Contains(b.String(), "\r") {
		t.Errorf("control characters from the network reached the table:\n%q", b.String())
	}
	for _, f := range fs {
		if f.Records != 2 && f.Target != "https://www.google.example/" && f.Target != "https://www.wikipedia.example/" {
			t.Errorf("%s: %d records, want 2", f.Target, f.Records)
		}
	}
}

func TestFindingsOrderAndLatest(t *testing.T) {
	tests := []struct {
		name  string
		ms    []*model.Measurement
		order []string
		want  []string // target status
	}{
		{"empty", nil, nil, nil},
		{"latest wins whatever the slice order", []*model.Measurement{
			rec("2", "http://a.example/", model.StatusOK, secs(10)),
			rec("1", "http://a.example/", model.StatusBlocked, 0, model.MethodHTTPReset),
		}, nil, []string{"http://a.example/ ok"}},
		{"blocked before down before error before measured before ok", []*model.Measurement{
			rec("1", "http://ok.example/", model.StatusOK, 0),
			rec("2", "http://m.example/", model.StatusMeasured, 0),
			rec("3", "http://e.example/", model.StatusError, 0),
			rec("4", "http://d.example/", model.StatusDown, 0),
			rec("5", "http://b.example/", model.StatusBlocked, 0, model.MethodHTTPReset),
		}, nil, []string{"http://b.example/ blocked", "http://d.example/ down", "http://e.example/ error", "http://m.example/ measured", "http://ok.example/ ok"}},
		{"list order within a status, unknown targets last by name", []*model.Measurement{
			rec("1", "http://z.example/", model.StatusOK, 0),
			rec("2", "http://y.example/", model.StatusOK, 0),
			rec("3", "http://b.example/", model.StatusOK, 0),
			rec("4", "http://a.example/", model.StatusOK, 0),
		}, []string{"http://z.example/", "http://y.example/"},
			[]string{"http://z.example/ ok", "http://y.example/ ok", "http://a.example/ ok", "http://b.example/ ok"}},
		{"nil records are skipped", []*model.Measurement{nil, rec("1", "http://a.example/", model.StatusOK, 0)}, nil,
			[]string{"http://a.example/ ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range Findings(tt.ms, tt.order) {
				got = append(got, f.Target+" "+f.Status)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		statuses []string
		want     string
	}{
		{nil, "0 targets"},
		{[]string{"ok"}, "1 target: 1 ok"},
		{[]string{"ok", "blocked", "blocked", "down", "weird"}, "5 targets: 2 blocked, 1 ok, 1 down, 1 weird"},
		{[]string{"measured", "ok"}, "2 targets: 1 ok, 1 measured (measured: recorded without a verdict)"},
	}
	for _, tt := range tests {
		var fs []Finding
		for _, s := range tt.statuses {
			fs = append(fs, Finding{Status: s})
		}
		if got := Summary(fs); got != tt.want {
			t.Errorf("Summary(%v) = %q, want %q", tt.statuses, got, tt.want)
		}
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "-"},
		{"plain", "plain"},
		{"a\x1b[2Jb", "a [2Jb"},
		{"line\r\nbreak\ttab", "line break tab"},
		{"  spaces   inside  ", "spaces inside"},
		{"\xff\xfe", "-"},
		{strings.Repeat("é", 150), strings.Repeat("é", maxEvidence-1) + "…"},
	}
	for _, tt := range tests {
		if got := clean(tt.in); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

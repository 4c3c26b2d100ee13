package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/firewatch/firewatch/internal/model"
)

func TestSameMethods(t *testing.T) {
	for _, c := range []struct {
		a, b []string
		want bool
	}{
		{nil, nil, true},
		{nil, []string{}, true},
		{[]string{"tls.mitm"}, []string{"tls.mitm"}, true},
		{[]string{"dns.injected", "dns.bogon"}, []string{"dns.bogon", "dns.injected"}, true},
		{[]string{"dns.bogon", "dns.bogon"}, []string{"dns.bogon"}, true},
		{[]string{"dns.bogon"}, nil, false},
		{[]string{"dns.bogon"}, []string{"dns.bogon", "dns.injected"}, false},
		{[]string{"http.reset"}, []string{"tls.reset"}, false},
	} {
		if got := sameMethods(c.a, c.b); got != c.want {
			t.Errorf("sameMethods(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func rec(target, status string, methods ...string) *model.Measurement {
	return &model.Measurement{Target: target, Status: status, Methods: methods, Verdict: &model.Verdict{}}
}

func TestJudge(t *testing.T) {
	blockedMITM := scenario.Expect{Target: "imaps://mail.example.com", Status: "blocked", Methods: []string{"tls.mitm"}}
	okDomain := scenario.Expect{Target: "www.example.org", Status: "ok"}
	for _, c := range []struct {
		name       string
		e          scenario.Expect
		ms         []*model.Measurement
		err        error
		pass       bool
		got        verifyOutcome
		inEvidence string
	}{
		{"match", blockedMITM, []*model.Measurement{rec("imaps://mail.example.com", "blocked", "tls.mitm")}, nil,
			true, verifyOutcome{"blocked", []string{"tls.mitm"}}, ""},
		{"extra method", blockedMITM, []*model.Measurement{rec("imaps://mail.example.com", "blocked", "tls.mitm", "dns.injected")}, nil,
			false, verifyOutcome{"blocked", []string{"dns.injected", "tls.mitm"}}, ""},
		{"other status", blockedMITM, []*model.Measurement{rec("imaps://mail.example.com", "ok")}, nil,
			false, verifyOutcome{"ok", []string{}}, ""},
		{"probe failed", blockedMITM, nil, errors.New("boom"),
			false, verifyOutcome{"error", []string{}}, "probe failed: boom"},
		{"no record", blockedMITM, nil, nil,
			false, verifyOutcome{"error", []string{}}, "probe failed: no record"},
		{"bare domain both ok", okDomain, []*model.Measurement{rec("https://www.example.org/", "ok"), rec("http://www.example.org/", "ok")}, nil,
			true, verifyOutcome{"ok", []string{}}, ""},
		{"bare domain one blocked", okDomain, []*model.Measurement{rec("https://www.example.org/", "ok"), rec("http://www.example.org/", "blocked", "http.blockpage")}, nil,
			false, verifyOutcome{"blocked", []string{"http.blockpage"}}, ""},
		{"bare domain one record", okDomain, []*model.Measurement{rec("https://www.example.org/", "ok")}, nil,
			false, verifyOutcome{"ok", []string{}}, "probe printed 1 records, want 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := judge(c.e, c.ms, c.err)
			if r.Pass != c.pass {
				t.Errorf("pass = %v, want %v (%+v)", r.Pass, c.pass, r)
			}
			if r.Got.Status != c.got.Status || !sameMethods(r.Got.Methods, c.got.Methods) || r.Got.Methods == nil {
				t.Errorf("got = %+v, want %+v", r.Got, c.got)
			}
			if r.Target != c.e.Target || r.Expected.Status != c.e.Status || r.Expected.Methods == nil {
				t.Errorf("target/expected = %q %+v", r.Target, r.Expected)
			}
			if c.inEvidence != "" && !strings.Contains(strings.Join(r.Evidence, "\n"), c.inEvidence) {
				t.Errorf("evidence %q lacks %q", r.Evidence, c.inEvidence)
			}
		})
	}
}

func TestEvidenceLines(t *testing.T) {
	m := rec("https://www.facebook.com/", "blocked", "dns.inconsistent")
	m.Verdict = &model.Verdict{
		Evidence:   []model.Evidence{{Method: "dns.inconsistent", Lines: []string{"www.facebook.com → 203.0.113.50 inside, 203.0.113.40 outside"}}},
		Confidence: &model.Confidence{Agreed: 2, Tries: 3},
	}
	got := evidenceLines(m, false)
	want := []string{"dns.inconsistent: www.facebook.com → 203.0.113.50 inside, 203.0.113.40 outside", "confidence: 2 of 3 tries agreed"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("evidenceLines = %q, want %q", got, want)
	}
	down := &model.Measurement{Target: "http://down.example/", Status: "down", Verdict: &model.Verdict{Reason: "it fails outside as well"}}
	if got := evidenceLines(down, true); len(got) != 1 || got[0] != "http://down.example/: reason: it fails outside as well" {
		t.Errorf("evidenceLines(down) = %q", got)
	}
	if got := evidenceLines(&model.Measurement{Status: "measured"}, false); len(got) != 1 || !strings.Contains(got[0], "no verdict") {
		t.Errorf("evidenceLines(no verdict) = %q", got)
	}
}

func TestClosingLine(t *testing.T) {
	if got := closingLine(11, 0); got != "11 passed, 0 failed" {
		t.Errorf("closingLine = %q", got)
	}
	if got := closingLine(1, 2); got != "1 passed, 2 failed" {
		t.Errorf("closingLine = %q", got)
	}
}

func TestWriteVerifyResultJSON(t *testing.T) {
	r := judge(scenario.Expect{Target: "http://news.example/", Status: "ok"}, []*model.Measurement{rec("http://news.example/", "ok")}, nil)
	var b bytes.Buffer
	writeVerifyResult(&b, r, true)
	line := strings.TrimSuffix(b.String(), "\n")
	if strings.Contains(line, "\n") {
		t.Fatalf("not one line: %q", b.String())
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &obj); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range obj {
		keys = append(keys, k)
	}
	if len(keys) != 5 {
		t.Errorf("keys %v, want target expected got pass evidence", keys)
	}
	for _, k := range []string{"target", "expected", "got", "pass", "evidence"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("no key %q in %s", k, line)
		}
	}
	want := `{"target":"http://news.example/","expected":{"status":"ok","methods":[]},"got":{"status":"ok","methods":[]},"pass":true,"evidence":[]}`
	if line != want {
		t.Errorf("JSON\n got %s\nwant %s", line, want)
	}
}

func TestWriteVerifyResultText(t *testing.T) {
	r := verifyResult{
		Target:   "http://www.skype.com/",
		Expected: verifyOutcome{"blocked", []string{"http.redirect"}},
		Got:      verifyOutcome{"ok", []string{}},
		Evidence: []string{"reason: a\nb", "c"},
	}
	var b bytes.Buffer
	writeVerifyResult(&b, r, false)
	want := "FAIL  http://www.skype.com/  expected blocked [http.redirect]  got ok  evidence: reason: a b; c\n"
	if b.String() != want {
		t.Errorf("text\n got %q\nwant %q", b.String(), want)
	}
	r.Pass, r.Got, r.Evidence = true, r.Expected, nil
	b.Reset()
	writeVerifyResult(&b, r, false)
	if want := "PASS  http://www.skype.com/  expected blocked [http.redirect]  got blocked [http.redirect]\n"; b.String() != want {
		t.Errorf("text\n got %q\nwant %q", b.String(), want)
	}
}

func TestVerifyAllOrderAndBound(t *testing.T) {
	var expects []scenario.Expect
	for i := range 12 {
		expects = append(expects, scenario.Expect{Target: fmt.Sprintf("http://h%d.example/", i), Status: "ok"})
	}
	var running, peak atomic.Int32
	check := func(ctx context.Context, e scenario.Expect) ([]*model.Measurement, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		// later entries finish first
		var i int
		fmt.Sscanf(e.Target, "http://h%d.example/", &i)
		time.Sleep(time.Duration(12-i) * time.Millisecond)
		status := "ok"
		if i%3 == 0 {
			status = "blocked"
		}
		return []*model.Measurement{rec(e.Target, status)}, nil
	}
	var got []string
	pass := 0
	verifyAll(context.Background(), expects, check, 3, func(r verifyResult) {
		got = append(got, r.Target)
		if r.Pass {
			pass++
		}
	})
	for i, e := range expects {
		if i >= len(got) || got[i] != e.Target {
			t.Fatalf("order: got %v", got)
		}
	}
	if pass != 8 {
		t.Errorf("passed %d, want 8", pass)
	}
	if p := peak.Load(); p > 3 || p < 1 {
		t.Errorf("peak concurrency %d, want 1..3", p)
	}
}

func TestVerifyAllCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	verifyAll(ctx, []scenario.Expect{{Target: "http://a.example/", Status: "ok"}, {Target: "http://b.example/", Status: "ok"}},
		func(ctx context.Context, e scenario.Expect) ([]*model.Measurement, error) { return nil, ctx.Err() }, 1,
		func(r verifyResult) {
			n++
			if r.Pass {
				t.Errorf("%s passed after cancel", r.Target)
			}
		})
	if n != 2 {
		t.Errorf("%d results, want 2", n)
	}
}

func TestParseRecords(t *testing.T) {
	ms, err := parseRecords(strings.NewReader(`{"target":"https://a.example/","status":"ok","methods":[]}` + "\n" +
		`{"target":"http://a.example/","status":"blocked","methods":["http.reset"]}` + "\n"))
	if err != nil || len(ms) != 2 || ms[1].Methods[0] != "http.reset" {
		t.Fatalf("parseRecords = %v, %v", ms, err)
	}
	if _, err := parseRecords(strings.NewReader(`{"target":`)); err == nil {
		t.Error("truncated record: no error")
	}
	if ms, err := parseRecords(strings.NewReader("")); err != nil || len(ms) != 0 {
		t.Errorf("empty: %v, %v", ms, err)
	}
}

func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(p, []byte("name: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, p)
	if err != nil {
		rel = p
	}
	if !sameFile(p, rel) {
		t.Errorf("sameFile(%q, %q) = false", p, rel)
	}
	if sameFile(p, filepath.Join(dir, "other.yaml")) {
		t.Error("sameFile of two files = true")
	}
}

// TestShippedScenarios checks that every scenario in scenarios/ parses, has
// an expect list, and names only targets the probe accepts.
func TestShippedScenarios(t *testing.T) {
	files, err := filepath.Glob("../../scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		sc, err := scenario.Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if len(sc.Expect) == 0 {
			t.Errorf("%s: no expect list", f)
		}
		for _, e := range sc.Expect {
			if r := judge(e, nil, errors.New("x")); r.Pass {
				t.Errorf("%s:%d: passes without a record", f, e.Line)
			}
			if e.Status == model.StatusBlocked && len(e.Methods) == 0 {
				t.Errorf("%s:%d: blocked without methods", f, e.Line)
			}
			if e.Status != model.StatusBlocked && len(e.Methods) > 0 {
				t.Errorf("%s:%d: methods with status %s", f, e.Line, e.Status)
			}
		}
	}
}

func TestLabVerifyCommand(t *testing.T) {
	c, _, err := newRootCmd().Find([]string{"lab", "verify"})
	if err != nil || c.Name() != "verify" {
		t.Fatalf("lab verify: %v", err)
	}
	for _, args := range [][]string{
		{"lab", "verify"}, // --scenario is required
		{"lab", "verify", "--scenario", "../../scenarios/seed-2015.yaml", "--parallel", "0"},
		{"lab", "verify", "--scenario", "does-not-exist.yaml"},
	} {
		root := newRootCmd()
		root.SetArgs(args)
		root.SetOut(&discard{})
		root.SetErr(&discard{})
		if err := root.Execute(); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		if got := SameMethods(c.a, c.b); got != c.want {
			t.Errorf("SameMethods(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func rec(target, status string, methods ...string) *model.Measurement {
	return &model.Measurement{Target: target, Status: status, Methods: methods, Verdict: &model.Verdict{}}
}

func TestJudge(t *testing.T) {
	blockedMITM := scenario.Expect{Target: "imaps://mail.example.com", Status: "blocked", Methods: []string{"tls.mitm"}}
	okDomain := scenario.Expect{Target: "www.example.org", Status: "ok"}
	errorURL := scenario.Expect{Target: "https://www.far.example/", Status: "error"} // control-faults.yaml
	for _, c := range []struct {
		name       string
		e          scenario.Expect
		ms         []*model.Measurement
		err        error
		pass       bool
		got        Outcome
		inEvidence string
	}{
		{"match", blockedMITM, []*model.Measurement{rec("imaps://mail.example.com", "blocked", "tls.mitm")}, nil,
			true, Outcome{"blocked", []string{"tls.mitm"}}, ""},
		{"extra method", blockedMITM, []*model.Measurement{rec("imaps://mail.example.com", "blocked", "tls.mitm", "dns.injected")}, nil,
			false, Outcome{"blocked", []string{"dns.injected", "tls.mitm"}}, ""},
		{"other status", blockedMITM, []*model.Measurement{rec("imaps://mail.example.com", "ok")}, nil,
			false, Outcome{"ok", []string{}}, ""},
		{"probe failed", blockedMITM, nil, errors.New("boom"),
			false, Outcome{"error", []string{}}, "probe failed: boom"},
		{"no record", blockedMITM, nil, nil,
			false, Outcome{"error", []string{}}, "probe failed: no record"},
		{"error expected and found", errorURL, []*model.Measurement{rec("https://www.far.example/", "error")}, nil,
			true, Outcome{"error", []string{}}, ""},
		{"error expected, ok found", errorURL, []*model.Measurement{rec("https://www.far.example/", "ok")}, nil,
			false, Outcome{"ok", []string{}}, ""},
		{"error expected, blocked found", errorURL, []*model.Measurement{rec("https://www.far.example/", "blocked", "tls.reset")}, nil,
			false, Outcome{"blocked", []string{"tls.reset"}}, ""},
		// A probe that could not run is no error verdict: it never passes.
		{"error expected, probe failed", errorURL, nil, errors.New("boom"),
			false, Outcome{"error", []string{}}, "probe failed: boom"},
		{"bare domain both ok", okDomain, []*model.Measurement{rec("https://www.example.org/", "ok"), rec("http://www.example.org/", "ok")}, nil,
			true, Outcome{"ok", []string{}}, ""},
		{"bare domain one blocked", okDomain, []*model.Measurement{rec("https://www.example.org/", "ok"), rec("http://www.example.org/", "blocked", "http.blockpage")}, nil,
			false, Outcome{"blocked", []string{"http.blockpage"}}, ""},
		{"bare domain one record", okDomain, []*model.Measurement{rec("https://www.example.org/", "ok")}, nil,
			false, Outcome{"ok", []string{}}, "probe printed 1 records, want 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Judge(c.e, c.ms, c.err)
			if r.Pass != c.pass {
				t.Errorf("pass = %v, want %v (%+v)", r.Pass, c.pass, r)
			}
			if r.Got.Status != c.got.Status || !SameMethods(r.Got.Methods, c.got.Methods) || r.Got.Methods == nil {
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
	got := EvidenceLines(m, false)
	want := []string{"dns.inconsistent: www.facebook.com → 203.0.113.50 inside, 203.0.113.40 outside", "confidence: 2 of 3 tries agreed"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("evidenceLines = %q, want %q", got, want)
	}
	down := &model.Measurement{Target: "http://down.example/", Status: "down", Verdict: &model.Verdict{Reason: "it fails outside as well"}}
	if got := EvidenceLines(down, true); len(got) != 1 || got[0] != "http://down.example/: reason: it fails outside as well" {
		t.Errorf("EvidenceLines(down) = %q", got)
	}
	if got := EvidenceLines(&model.Measurement{Status: "measured"}, false); len(got) != 1 || !strings.Contains(got[0], "no verdict") {
		t.Errorf("EvidenceLines(no verdict) = %q", got)
	}
}

func TestClosingLine(t *testing.T) {
	if got := ClosingLine(11, 0); got != "11 passed, 0 failed" {
		t.Errorf("closingLine = %q", got)
	}
	if got := ClosingLine(1, 2); got != "1 passed, 2 failed" {
		t.Errorf("closingLine = %q", got)
	}
}

func TestWriteResultJSON(t *testing.T) {
	r := Judge(scenario.Expect{Target: "http://news.example/", Status: "ok"}, []*model.Measurement{rec("http://news.example/", "ok")}, nil)
	var b bytes.Buffer
	WriteResult(&b, r, true)
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

func TestWriteResultText(t *testing.T) {
	r := Result{
		Target:   "http://www.skype.com/",
		Expected: Outcome{"blocked", []string{"http.redirect"}},
		Got:      Outcome{"ok", []string{}},
		Evidence: []string{"reason: a\nb", "c"},
	}
	var b bytes.Buffer
	WriteResult(&b, r, false)
	want := "FAIL  http://www.skype.com/  expected blocked [http.redirect]  got ok  evidence: reason: a b; c\n"
	if b.String() != want {
		t.Errorf("text\n got %q\nwant %q", b.String(), want)
	}
	r.Pass, r.Got, r.Evidence = true, r.Expected, nil
	b.Reset()
	WriteResult(&b, r, false)
	if want := "PASS  http://www.skype.com/  expected blocked [http.redirect]  got blocked [http.redirect]\n"; b.String() != want {
		t.Errorf("text\n got %q\nwant %q", b.String(), want)
	}
}

func TestAllOrderAndBound(t *testing.T) {
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
	All(context.Background(), expects, check, 3, func(r Result) {
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

func TestAllCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	All(ctx, []scenario.Expect{{Target: "http://a.example/", Status: "ok"}, {Target: "http://b.example/", Status: "ok"}},
		func(ctx context.Context, e scenario.Expect) ([]*model.Measurement, error) { return nil, ctx.Err() }, 1,
		func(r Result) {
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
	ms, err := ReadRecords(strings.NewReader(`{"target":"https://a.example/","status":"ok","methods":[]}` + "\n" +
		`{"target":"http://a.example/","status":"blocked","methods":["http.reset"]}` + "\n"))
	if err != nil || len(ms) != 2 || ms[1].Methods[0] != "http.reset" {
		t.Fatalf("parseRecords = %v, %v", ms, err)
	}
	if _, err := ReadRecords(strings.NewReader(`{"target":`)); err == nil {
		t.Error("truncated record: no error")
	}
	if ms, err := ReadRecords(strings.NewReader("")); err != nil || len(ms) != 0 {
		t.Errorf("empty: %v, %v", ms, err)
	}
}

// TestAllBounded: a slow first entry holds back no more than the window:
// the entries after it start only while they are within Window of it.
func TestAllBounded(t *testing.T) {
	var expects []scenario.Expect
	for i := range 500 {
		expects = append(expects, scenario.Expect{Target: fmt.Sprintf("http://h%d.example/", i), Status: "ok"})
	}
	release := make(chan struct{})
	var started atomic.Int32
	check := func(ctx context.Context, e scenario.Expect) ([]*model.Measurement, error) {
		if e.Target == expects[0].Target {
			<-release
		} else {
			started.Add(1)
		}
		return []*model.Measurement{{Target: e.Target, Status: "ok", Methods: []string{}}}, nil
	}
	done := make(chan int)
	go func() {
		n := 0
		All(context.Background(), expects, check, 2, func(r Result) { n++ })
		done <- n
	}()
	want := int32(Window(2) - 1)
	deadline := time.Now().Add(5 * time.Second)
	for started.Load() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if got := started.Load(); got != want {
		t.Errorf("%d entries started behind a slow first one, want %d (the window)", got, want)
	}
	close(release)
	if n := <-done; n != 500 {
		t.Errorf("%d results, want 500", n)
	}
}

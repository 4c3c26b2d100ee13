package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// Kinds of PathResult.
const (
	KindTrace    = "trace"    // an expect_trace entry, checked with `firewatch trace --json`
	KindKeywords = "keywords" // an expect_keywords entry, checked with `firewatch keywords isolate --json`
)

// PathResult is the comparison of one expect_trace or expect_keywords
// entry with what the command printed; its JSON form is the line `lab
// verify --json` prints for it.
type PathResult struct {
	Kind     string   `json:"kind"`
	Target   string   `json:"target"`
	Expected any      `json:"expected"`
	Got      any      `json:"got"`
	Pass     bool     `json:"pass"`
	Evidence []string `json:"evidence"`
}

// TraceOutcome is the hop (and placement) of a censor, as expected or found.
type TraceOutcome struct {
	Hop       *int   `json:"hop"`
	Placement string `json:"placement,omitempty"`
}

func (o TraceOutcome) String() string {
	if o.Hop == nil {
		return "no censor hop"
	}
	s := fmt.Sprintf("hop %d", *o.Hop)
	if o.Placement != "" {
		s += " " + o.Placement
	}
	return s
}

// traceJSON is the part of `firewatch trace --json` verify reads.
type traceJSON struct {
	Target     string  `json:"target"`
	Method     string  `json:"method"`
	CensorHop  *int    `json:"censor_hop"`
	Placement  *string `json:"placement"`
	ServerHops int     `json:"server_hops"`
	Hops       []struct {
		TTL          int     `json:"ttl"`
		Router       *string `json:"router"`
		Interference bool    `json:"interference"`
	} `json:"hops"`
}

// JudgeTrace compares an expect_trace entry with the output of `firewatch
// trace --json` (one line per record: two for a bare domain, both must match).
func JudgeTrace(e scenario.ExpectTrace, out []byte, runErr error) PathResult {
	hop := e.Hop
	r := PathResult{Kind: KindTrace, Target: e.Target, Expected: TraceOutcome{Hop: &hop, Placement: e.Placement}, Got: TraceOutcome{}, Evidence: []string{}}
	var got []traceJSON
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var t traceJSON
		if err := dec.Decode(&t); err == io.EOF {
			break
		} else if err != nil {
			r.Evidence = append(r.Evidence, "firewatch trace output: "+err.Error())
			break
		}
		got = append(got, t)
	}
	if len(got) == 0 {
		why := "no output"
		if runErr != nil {
			why = runErr.Error()
		}
		r.Evidence = append(r.Evidence, "trace failed: "+why)
		return r
	}
	r.Pass = true
	for i, t := range got {
		o := TraceOutcome{Hop: t.CensorHop}
		if t.Placement != nil {
			o.Placement = *t.Placement
		}
		ok := t.CensorHop != nil && *t.CensorHop == e.Hop && (e.Placement == "" || o.Placement == e.Placement)
		if i == 0 || (!ok && r.Pass) {
			r.Got = o
		}
		r.Pass = r.Pass && ok
		var path []string
		for _, h := range t.Hops {
			router := "*"
			if h.Router != nil {
				router = *h.Router
			}
			if h.Interference {
				router += "!"
			}
			path = append(path, fmt.Sprintf("%d %s", h.TTL, router))
		}
		r.Evidence = append(r.Evidence, fmt.Sprintf("%s %s: %s; server %d hops away", t.Target, t.Method, strings.Join(path, ", "), t.ServerHops))
	}
	return r
}

// isolateJSON is the output of `firewatch keywords isolate --json`.
type isolateJSON struct {
	Target   string   `json:"target"`
	Keywords []string `json:"keywords"`
	Evasions []struct {
		Mutation string `json:"mutation"`
		Evades   bool   `json:"evades"`
	} `json:"evasions"`
}

// JudgeKeywords compares an expect_keywords entry with the output of
// `firewatch keywords isolate --json`: the keywords, as a set.
func JudgeKeywords(e scenario.ExpectKeywords, out []byte, runErr error) PathResult {
	want := MethodSet(e.Keywords)
	r := PathResult{Kind: KindKeywords, Target: e.Target, Expected: want, Got: []string{}, Evidence: []string{}}
	var got []isolateJSON
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var k isolateJSON
		if err := dec.Decode(&k); err == io.EOF {
			break
		} else if err != nil {
			r.Evidence = append(r.Evidence, "firewatch keywords output: "+err.Error())
			break
		}
		got = append(got, k)
	}
	if len(got) == 0 {
		why := "no output"
		if runErr != nil {
			why = runErr.Error()
		}
		r.Evidence = append(r.Evidence, "keywords isolate failed: "+why)
		return r
	}
	r.Pass = true
	for i, k := range got {
		set := MethodSet(k.Keywords)
		ok := slices.Equal(set, want)
		if i == 0 || (!ok && r.Pass) {
			r.Got = set
		}
		r.Pass = r.Pass && ok
		var ev []string
		for _, m := range k.Evasions {
			if m.Evades {
				ev = append(ev, m.Mutation)
			}
		}
		if len(ev) == 0 {
			ev = []string{"none"}
		}
		r.Evidence = append(r.Evidence, fmt.Sprintf("%s: keywords %q; evasions: %s", k.Target, k.Keywords, strings.Join(ev, ", ")))
	}
	return r
}

// WritePathResult prints one result as a text line or a JSON object.
func WritePathResult(w io.Writer, r PathResult, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	mark := "PASS"
	if !r.Pass {
		mark = "FAIL"
	}
	str := func(v any) string {
		if ss, ok := v.([]string); ok {
			return "keywords [" + strings.Join(ss, ",") + "]"
		}
		return fmt.Sprint(v)
	}
	line := fmt.Sprintf("%s  %s %s  expected %s  got %s", mark, r.Kind, r.Target, str(r.Expected), str(r.Got))
	if len(r.Evidence) > 0 {
		line += "  evidence: " + strings.Join(r.Evidence, "; ")
	}
	fmt.Fprintln(w, strings.ReplaceAll(line, "\n", " "))
}

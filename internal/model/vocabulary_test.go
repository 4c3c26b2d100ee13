package model

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/sourcetest"
)

// coincidences are literals outside this package that equal a status,
// operation or method by chance: each is another vocabulary's word.
var coincidences = map[string]string{
	"internal/collector/web/evidence.go:download":   "a section of the record page",
	"cmd/firewatch/lab.go:down":                     "the lab subcommand",
	"internal/control/server.go:error":              "a log attribute",
	"internal/report/report.go:ok":                  "a step's outcome in the text report",
	"internal/store/history.go:blocked":             "store.EventBlocked, an event kind",
	"internal/trace/prober.go:connect":              "a trace answer's digest",
	"cmd/firewatch/assessflags.go:control":          "the --control flag",
	"cmd/firewatch/scandns.go:control":              "the --control flag",
	"cmd/firewatch/lab.go:control":                  "the control subcommand",
	"internal/lab/down.go:control":                  "the control subcommand",
	"internal/lab/health.go:control":                "the control subcommand",
	"internal/lab/up.go:control":                    "the lab's role name",
	"internal/collector/ingest/validate.go:control": "the record's field name",
	"internal/lab/emunet/tcp.go:connect":            "the syscall of an emulated net.OpError",
	"internal/lab/emunet/udp.go:read":               "the operation of an emulated net.OpError",
	"internal/lab/emunet/udp.go:write":              "the operation of an emulated net.OpError",
	"internal/lab/scenario/control.go:control":      "the scenario's YAML key of the control faults",
	"internal/lab/scenario/control.go:down":         "a control fault's value in a scenario",
}

// TestWrittenOnce fails when a status, operation, method or vantage is written as a
// literal outside this package: consumers use the constants and the lists.
func TestWrittenOnce(t *testing.T) {
	vocab := map[string]string{}
	for _, v := range Statuses() {
		vocab[v] = "status"
	}
	for _, v := range Operations() {
		vocab[v] = "operation"
	}
	for _, v := range Methods {
		vocab[v] = "method"
	}
	for _, v := range Vantages() {
		vocab[v] = "vantage"
	}
	for _, l := range sourcetest.Literals(t) {
		kind, ok := vocab[l.Value]
		if !ok || l.File == "internal/model/measurement.go" || coincidences[l.File+":"+l.Value] != "" {
			continue
		}
		t.Errorf("%v: written outside internal/model (%s); use its constant", l, kind)
	}
}

// TestListsComplete checks that the lists hold each value once and that
// the verdict's statuses are the record's minus "measured".
func TestListsComplete(t *testing.T) {
	for name, list := range map[string][]string{"Statuses": Statuses(), "Operations": Operations(), "Methods": Methods, "Vantages": Vantages()} {
		seen := map[string]bool{}
		for _, v := range list {
			if v == "" || seen[v] {
				t.Errorf("%s: %q empty or listed twice", name, v)
			}
			seen[v] = true
		}
	}
	if got := VerdictStatuses(); slices.Contains(got, StatusMeasured) || len(got) != len(Statuses())-1 {
		t.Errorf("VerdictStatuses() = %v", got)
	}
	// The lists are copies: a caller cannot change the vocabulary.
	Statuses()[0] = "x"
	Operations()[0] = "x"
	if Statuses()[0] != StatusMeasured || Operations()[0] != OpResolve {
		t.Error("a caller changed a list")
	}
}

// TestEveryConstantListed parses this package and checks that every Status*,
// Op* and Method* constant is in its list.
func TestEveryConstantListed(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "measurement.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	lists := map[string][]string{"Status": Statuses(), "Op": Operations(), "Method": Methods, "Vantage": Vantages()}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				v, _ := strconv.Unquote(lit.Value)
				for prefix, list := range lists {
					if strings.HasPrefix(name.Name, prefix) {
						n++
						if !slices.Contains(list, v) {
							t.Errorf("%s = %q is not in the list of %s values", name.Name, v, prefix)
						}
					}
				}
			}
		}
	}
	if n < len(Statuses())+len(Operations())+len(Methods)+len(Vantages()) {
		t.Errorf("found %d constants, fewer than the lists hold", n)
	}
}

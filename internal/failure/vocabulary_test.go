package failure

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/sourcetest"
)

// failureShape matches text that looks like a failure string.
var failureShape = regexp.MustCompile(`^(ssl|connection)_[a-z0-9_]+$|^[a-z0-9]+(_[a-z0-9]+)*_(error|failure|unreachable|answer|redirects|response)$`)

// TestWrittenOnce fails when a failure string is written outside the
// generated table, or when the source holds a failure-shaped string that the
// table lacks.
func TestWrittenOnce(t *testing.T) {
	known := map[string]bool{Unknown: true}
	for _, f := range Strings() {
		known[f] = true
	}
	for _, l := range sourcetest.Literals(t) {
		if l.File == "internal/failure/zfailures.go" || l.File == "internal/failure/internal/gen/spec.go" {
			continue
		}
		v := strings.TrimSuffix(l.Value, ": ")
		switch {
		case known[v]:
			t.Errorf("%v: a failure string written outside the table; use the failure constant", l)
		case failureShape.MatchString(v):
			t.Errorf("%v: looks like a failure string but the table lacks it (internal/failure/internal/gen/spec.go)", l)
		}
	}
}

// TestClassifyOutputsInTable checks that every output of Classify is in the
// vocabulary.
func TestClassifyOutputsInTable(t *testing.T) {
	t.Parallel()
	for _, tc := range classifyCases() {
		if got := Classify(tc.err); tc.err != nil && !Valid(got) {
			t.Errorf("Classify(%v) = %q: not in the table", tc.err, got)
		}
	}
	if !Valid(Classify(errors.New("something new"))) {
		t.Error("an unclassified error is not Valid")
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	for f, want := range map[string]bool{
		ConnectionReset: true, HTTPBadResponse: true, Unknown + ": x": true,
		Unknown: false, "": false, "connection_reset ": false, "made_up_error": false,
	} {
		if got := Valid(f); got != want {
			t.Errorf("Valid(%q) = %v, want %v", f, got, want)
		}
	}
}

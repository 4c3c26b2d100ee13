package verdict

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/firewatch/firewatch/internal/model"
)

// TestBoundedEvidence: evidence quoting what a hostile network sent (a
// redirect chain of long locations, many addresses) stays within the record
// format's bounds, so the collector never refuses the record.
func TestBoundedEvidence(t *testing.T) {
	long := strings.Repeat("é", model.MaxEvidenceLine) // twice the bound in bytes
	lines := make([]string, model.MaxLines+10)
	for i := range lines {
		lines[i] = "line"
	}
	r := bounded(Result{Verdict: model.Verdict{Reason: long, Evidence: []model.Evidence{
		{Method: model.MethodHTTPRedirect, Lines: []string{"short", long}},
		{Method: model.MethodTCPTimeout, Lines: lines},
	}}})
	for _, s := range append([]string{r.Verdict.Reason}, r.Verdict.Evidence[0].Lines...) {
		if len(s) > model.MaxEvidenceLine || !utf8.ValidString(s) {
			t.Errorf("text of %d bytes (valid UTF-8: %v), want at most %d", len(s), utf8.ValidString(s), model.MaxEvidenceLine)
		}
	}
	if got := r.Verdict.Evidence[0].Lines; got[0] != "short" || !strings.HasSuffix(got[1], "é…") {
		t.Errorf("lines %.40q..., want the short line kept and the long one clipped with …", got)
	}
	if got := r.Verdict.Evidence[1].Lines; len(got) != model.MaxLines || got[len(got)-1] != "… and 11 more" {
		t.Errorf("%d lines ending %q, want %d ending with \"… and 11 more\"", len(got), got[len(got)-1], model.MaxLines)
	}
}

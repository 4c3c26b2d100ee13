package store

import (
	"sort"
	"strings"

	"github.com/firewatch/firewatch/internal/target"
)

// NormalizeTarget returns the key of a target's history: target.Normalize,
// the form the probe writes, so that one target never has two histories
// (the collector applies it again to every record and query, defensively).
// It is the identity on every probe's target, so no stored key moves.
func NormalizeTarget(s string) string { return target.Normalize(s) }

// encodeMethods stores methods as ",a,b," (sorted, deduplicated) so that
// LIKE '%,m,%' matches exactly one method.
func encodeMethods(ms []string) string {
	if len(ms) == 0 {
		return ""
	}
	return "," + strings.Join(ms, ",") + ","
}

func decodeMethods(s string) []string {
	s = strings.Trim(s, ",")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// sortedMethods returns a sorted, deduplicated copy of ms.
func sortedMethods(ms []string) []string {
	out := make([]string, 0, len(ms))
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		if m != "" && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

func equalMethods(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

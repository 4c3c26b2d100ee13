// Package failure is firewatch's one failure vocabulary: every network error
// becomes one of a fixed set of strings, classified where it happens and
// carried by *Error together with the operation that failed. The strings are
// generated from one table (internal/gen/spec.go) into zfailures.go.
package failure

import "strings"

//go:generate go run ./internal/gen

// Strings returns every failure string of the vocabulary, Unknown excluded,
// in the order of the table.
func Strings() []string { return append([]string(nil), vocabulary[:]...) }

// Valid reports whether f is a failure string a record may hold: one of
// Strings, or Unknown + ": " + text.
func Valid(f string) bool {
	for _, v := range vocabulary {
		if f == v {
			return true
		}
	}
	return strings.HasPrefix(f, Unknown+": ")
}

// Error is a classified network failure. Failure is one of the strings above
// (or "unknown_failure: ..."); Operation is the step that failed.
type Error struct {
	Failure   string
	Operation string
	Err       error
}

func (e *Error) Error() string { return e.Failure }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

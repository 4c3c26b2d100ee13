package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestUpToDate fails when zfailures.go or the docs' list differ from what
// the table generates: run `go generate ./internal/failure`.
func TestUpToDate(t *testing.T) {
	dir := filepath.Join("..", "..") // internal/failure
	want, err := renderGo()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, goOut))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date: run go generate ./internal/failure", goOut)
	}
	doc, err := os.ReadFile(filepath.Join(dir, docsOut))
	if err != nil {
		t.Fatal(err)
	}
	wantDoc, err := renderDocs(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, wantDoc) {
		t.Errorf("the failure strings of docs/measurement-schema.md are out of date: run go generate ./internal/failure")
	}
}

// TestSpec checks the table: unique names and values, values in the
// snake_case shape the classifier's callers expect, a doc for each.
func TestSpec(t *testing.T) {
	shape := regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)+$`)
	names, values := map[string]bool{}, map[string]bool{unknown: true}
	for _, f := range spec {
		if names[f.Name] || values[f.Value] {
			t.Errorf("%s = %q: name or value written twice", f.Name, f.Value)
		}
		names[f.Name], values[f.Value] = true, true
		if !shape.MatchString(f.Value) {
			t.Errorf("%s = %q: not snake_case", f.Name, f.Value)
		}
		if f.Doc == "" {
			t.Errorf("%s: no doc", f.Name)
		}
	}
}

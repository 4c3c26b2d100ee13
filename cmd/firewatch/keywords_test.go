package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeywordsBadInput(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "words.txt")
	if err := os.WriteFile(list, []byte("falun\nbad\xff\ntibet\n\xc3\x28\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.txt")
	if err := os.WriteFile(empty, []byte("# nothing\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FIREWATCH_CONTROL", "")
	tests := []struct {
		name    string
		args    []string
		wantErr string
		stderr  string
	}{
		{"template without {}", []string{"keywords", "test", "--list", list, "--template", "http://news.example/search?q=x"}, `has no {}`, ""},
		{"two templates", []string{"keywords", "test", "--list", list, "--template", "http://a.example/{}", "--sni-template", "{}.example.com"}, "give one of --template", ""},
		{"no list", []string{"keywords", "test", "--dns-template", "{}.example.com"}, "--list FILE is required", ""},
		{"empty list", []string{"keywords", "test", "--list", empty, "--dns-template", "{}.example.com"}, "no word to test", ""},
		{"invalid UTF-8 lines reported", []string{"keywords", "test", "--list", list, "--sni-template", "{}.example.com"}, "compares every variant with the control", list + ":2: skipped: not valid UTF-8\n" + list + ":4: skipped: not valid UTF-8"},
		{"isolate without control", []string{"keywords", "isolate", "http://news.example/falun"}, "give --control URL", ""},
		{"trace bad ttl", []string{"trace", "--max-ttl", "0", "http://news.example/"}, "--max-ttl 0", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := newRootCmd()
			root.SetArgs(tc.args)
			var out, errb bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&errb)
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr %q, want %q", errb.String(), tc.stderr)
			}
		})
	}
}
